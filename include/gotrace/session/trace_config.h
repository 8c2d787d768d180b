// Options every tracing command shares (bpftrace/BCC conventions), filled in
// by cli/ and read by the runner.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace gotrace {

struct TraceConfig {
  pid_t pid = 0;
  std::optional<std::chrono::milliseconds> duration;  // none: until Ctrl-C or the target exits
  size_t top = 10;
  std::chrono::nanoseconds min{0};
  bool json = false;
  bool status_line = true;
  std::string pprof_path;   // also write a pprof profile (gzipped profile.proto) here
  std::string folded_path;  // also write folded stacks (flame graphs) here
  // The overhead governor (trace_run.cpp): the budget, as a percentage of
  // the target's own CPU time, and whether it may act on it.
  double max_overhead_pct = 5;
  bool governor = true;  // false: --no-governor (it still measures and reports)
};

// Exit codes of every command (also in --help and the README).
inline constexpr int kExitOk = 0;       // the report was printed (also after Ctrl-C or the target's exit)
inline constexpr int kExitFailure = 1;  // the target or host cannot be traced, or tracing failed
inline constexpr int kExitUsage = 2;    // bad command line
inline constexpr int kExitOutput = 3;   // the report or a profile could not be written
inline constexpr int kExitInterrupted = 130;  // a signal arrived before tracing began

}  // namespace gotrace
