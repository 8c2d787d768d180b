// What every tracing command reports about the trace itself: the target, how
// long and why it ended, what the probes saw, and everything that was lost.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gotrace {

// What the trace cost the target: every probe hit is a trap into the kernel
// taken on the target's own thread, plus the BPF program's run.
struct TraceCost {
  bool known = false;          // false: BPF run-time statistics were not available
  uint64_t probe_hits = 0;     // runs of gotrace's BPF programs (the kernel's bpf_stats)
  double trap_ns_per_hit = 0;  // measured on this host at start (host/trap_cost.h); 0: unknown
  uint64_t bpf_ns = 0;         // time spent in gotrace's BPF programs
  uint64_t estimated_ns = 0;   // probe_hits × trap_ns_per_hit + bpf_ns
  uint64_t target_cpu_ns = 0;  // the target's CPU time during the trace (includes the above)
  double share() const {       // of the target's CPU during the trace
    return target_cpu_ns ? static_cast<double>(estimated_ns) / static_cast<double>(target_cpu_ns) : 0;
  }
};

// One decision of the overhead governor (--max-overhead): when, what it
// measured, and what it did about it.
struct GovernorStep {
  double at_s = 0;           // seconds into the way of tracing it judged
  double share = 0;          // estimated cost / the target's CPU time over the window
  double cost_ns_per_s = 0;  // estimated cost per second
  std::string action;        // "switched to sampling goroutine states (no probes)"
};
struct GovernorRecord {
  bool on = false;                 // false: --no-governor (steps then only say what it would have done)
  double max_share = 0;            // the budget: a share of the target's CPU time
  double allowance_cpu_share = 0;  // probes costing under this share of one CPU are always within it
  std::vector<GovernorStep> steps;
};

struct TraceSummary {
  int pid = 0;
  std::string comm;
  std::string go_version;
  double duration_s = 0;
  std::string stopped_by;  // "duration elapsed", "interrupted", "target exited"
  bool target_alive = true;
  size_t probes_attached = 0;
  double detach_s = 0;   // how long the probes took to come off the target after the trace
  uint64_t events = 0;   // what the command counts as its events (parks, contended waits, samples)
  uint64_t dropped = 0;  // every loss, all kinds
  std::map<std::string, uint64_t> counters;  // name -> value (including each drop kind)
  TraceCost cost;
  GovernorRecord governor;
  // The share of the trace the probes were attached (1; less when the
  // governor attached them in windows, and the command scaled its counts).
  double attached_fraction = 1;
  std::vector<std::string> notes;  // things the user should know
};

}  // namespace gotrace
