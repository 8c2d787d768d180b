// gotrace goroutines: every goroutine of a live process, read from its memory
// without stopping it. No BPF: it needs only the right to read the target's
// memory (what gdb would need), not the tracing runner. Only `--watch
// --leaks` adds two probes (goroutine_probes.h) and needs BPF rights.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "gotrace/session/trace_config.h"

namespace gotrace {

struct GoroutinesConfig {
  pid_t pid = 0;
  bool all = false;  // one entry per goroutine
  size_t top = 20;   // groups shown in text (0: all)
  std::chrono::nanoseconds min_wait{0};
  std::vector<std::string> states;   // "waiting", "runnable", …
  std::vector<std::string> reasons;  // runtime names: "chan receive", …
  bool system = false;               // also the runtime's own goroutines
  bool json = false;
  std::string pprof_path;
  std::string folded_path;
  // --watch: repeated snapshots every watch_interval (0: one snapshot),
  // for watch_duration (0: until Ctrl-C or the target exits).
  std::chrono::nanoseconds watch_interval{0};
  std::chrono::nanoseconds watch_duration{0};
  std::string svg_path;  // --svg: heat map written here at the end
  // --leaks (with --watch): probes at goroutine creation and exit count
  // every goroutine created and exited per site, exactly.
  bool leaks = false;
  bool status_line = true;  // --watch: the live status line on stderr
};

int run_goroutines(const GoroutinesConfig& config);
// The --watch part (goroutines_watch_run.cpp).
int run_goroutines_watch(const GoroutinesConfig& config);

}  // namespace gotrace
