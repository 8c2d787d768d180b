// The overhead governor's arithmetic (--max-overhead): whether what the
// probes cost the target over a window stays within the budget, and the
// record of what the governor decided, which every report shows.
//
// The cost of a window is its probe hits × the trap cost measured on this
// host at start + the time the kernel ran gotrace's programs (bpf_stats);
// the budget is a share of the target's own CPU time over the same window
// (its CPU-time clock, which includes the traps). A target that is nearly
// idle would make any share look large, so probes that cost less than an
// absolute allowance of CPU time per second (kAllowanceCpuShare of one CPU)
// are always within budget: on a loaded host a target doing a few hundred
// parks a second (2% of a CPU) was switched to sampling for probes that
// cost it 1-2 ms of CPU a second.
#pragma once

#include <string>
#include <vector>

#include "gotrace/model/trace_summary.h"

namespace gotrace {

// Probes costing less than this share of one CPU are always within budget
// (5 ms of CPU per second). --help and every governed report state it.
inline constexpr double kAllowanceCpuShare = 0.005;

struct OverheadBudget {
  double max_share = 0.05;                           // of the target's CPU time
  double floor_ns_per_s = kAllowanceCpuShare * 1e9;  // the allowance: at or under it nothing is over budget
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
