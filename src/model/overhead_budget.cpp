#include "gotrace/model/overhead_budget.h"

namespace gotrace {

BudgetCheck check_budget(const TraceCost& window, double seconds, const OverheadBudget& budget) {
  BudgetCheck c;
  if (!window.known || seconds <= 0) return c;
  c.share = window.share();
  c.cost_ns_per_s = static_cast<double>(window.estimated_ns) / seconds;
  c.over = c.share > budget.max_share && c.cost_ns_per_s > budget.floor_ns_per_s;
  return c;
}

}  // namespace gotrace
