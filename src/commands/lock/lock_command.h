// gotrace lock: contended locks — waiter, holder, and what the holder was
// itself blocked on.
#pragma once

#include <string>
#include <vector>

#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_config.h"

namespace gotrace {

struct LockConfig {
  TraceConfig trace;
  std::vector<std::string>
      kinds;  // mutex, rwmutex-r, rwmutex-w, waitgroup, cond, runtime, all; empty: all but runtime
  bool by_lock = false;
  bool chains = true;  // follow every goroutine wait so holders' blocks can be shown
};

const ProbeTable& lock_probe_table();
int run_lock(const LockConfig& config);

}  // namespace gotrace
