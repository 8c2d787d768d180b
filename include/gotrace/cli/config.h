// Plain configuration parsed from the command line. Nothing happens in cli/
// beyond filling this in and dispatching.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gotrace {

struct TargetConfig {
  std::optional<pid_t> pid;
  std::string binary;  // --binary PATH (static analysis only)
};

struct InfoConfig {
  TargetConfig target;
  bool json = false;
};

}  // namespace gotrace

namespace gotrace {

// Options every tracing command shares (bpftrace/BCC conventions).
struct TraceConfig {
  pid_t pid = 0;
  std::optional<std::chrono::milliseconds> duration;  // none: until Ctrl-C or the target exits
  size_t top = 10;
  std::chrono::nanoseconds min{0};
  bool json = false;
  bool status_line = true;
  std::string pprof_path;   // also write a pprof profile (gzipped profile.proto) here
  std::string folded_path;  // also write folded stacks (flame graphs) here
};

struct BlockConfig {
  TraceConfig trace;
  std::vector<std::string> reasons;  // categories or runtime names; empty: default set
};

}  // namespace gotrace

namespace gotrace {

struct LockConfig {
  TraceConfig trace;
  std::vector<std::string> kinds;  // mutex, rwmutex-r, rwmutex-w, waitgroup, cond; empty: all
  bool by_lock = false;
  bool chains = true;  // follow every goroutine wait so holders' blocks can be shown
};

}  // namespace gotrace
