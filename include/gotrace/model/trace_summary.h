// What every tracing command reports about the trace itself: the target, how
// long and why it ended, what the probes saw, and everything that was lost.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gotrace {

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
  std::vector<std::string> notes;            // things the user should know
};

}  // namespace gotrace
