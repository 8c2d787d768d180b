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

bool window_ready(const TraceCost& window, double seconds, const OverheadBudget& budget) {
  constexpr uint64_t kBusyCpuNs = 100'000'000, kFlagrantCpuNs = 30'000'000;
  if (seconds >= 1.0) return true;
  if (seconds >= 0.25 && window.target_cpu_ns >= kBusyCpuNs) return true;
  if (seconds < 0.1 || window.target_cpu_ns < kFlagrantCpuNs) return false;
  BudgetCheck c = check_budget(window, seconds, budget);
  return c.over && c.share >= kFlagrant * budget.max_share;
}

}  // namespace gotrace
