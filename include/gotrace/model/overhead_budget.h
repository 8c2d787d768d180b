// The overhead governor's arithmetic (--max-overhead): whether what the
// probes cost the target over a window stays within the budget, and the
// record of what the governor decided, which every report shows.
//
// The cost of a window is its probe hits × the trap cost measured on this
// host at start + the time the kernel ran gotrace's programs (bpf_stats);
// the budget is a share of the target's own CPU time over the same window
// (/proc/PID/stat, which includes the traps). A target that is nearly idle
// would make any share look large, so a window also has to cost more than
// a floor of absolute CPU time per second before it counts as over.
#pragma once

#include <string>
#include <vector>

#include "gotrace/model/trace_summary.h"

namespace gotrace {

struct OverheadBudget {
  double max_share = 0.05;            // of the target's CPU time
  double floor_ns_per_s = 1'000'000;  // below 1 ms of CPU per second nothing is over budget
};

struct BudgetCheck {
  double share = 0;          // estimated cost / the target's CPU time in the window
  double cost_ns_per_s = 0;  // estimated cost per second of the window
  bool over = false;
};

// window: the cost figures accumulated over the window (TraceCost with
// target_cpu_ns set to the target's CPU time in it); seconds: its length.
BudgetCheck check_budget(const TraceCost& window, double seconds, const OverheadBudget& budget);

// Whether the window can be judged yet: a share needs enough of the
// target's CPU time to stand for its usual work. A window is judged after a
// second; after a quarter of one once the target used 100 ms of CPU in it (a
// busy target); and after a tenth of one once it used 30 ms, if the probes
// already look flagrantly over budget (at least kFlagrant times it: even
// where the CPU time comes in /proc/PID/stat's 10 ms ticks, with utime and
// stime each a tick off, the true share is at least 2.4 times the budget).
// On a saturated server every tenth of a second of probes costs it about a
// tenth of a second of CPU: the sooner, the less the governor itself costs.
inline constexpr double kFlagrant = 4.0;
bool window_ready(const TraceCost& window, double seconds, const OverheadBudget& budget);

}  // namespace gotrace
