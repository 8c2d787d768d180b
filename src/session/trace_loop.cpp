#include "gotrace/session/trace_loop.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

#include "gotrace/util/signals.h"

namespace gotrace {

std::string_view stop_reason_text(StopReason r) {
  switch (r) {
    case StopReason::Duration:
      return "duration elapsed";
    case StopReason::Interrupted:
      return "interrupted";
    case StopReason::TargetExited:
      return "target exited";
    case StopReason::Error:
      return "error";
    case StopReason::OverBudget:
      return "over the overhead budget";
  }
  return "?";
}

TraceLoopResult run_trace_loop(const Process& target, const TraceLoopOptions& options,
                               const std::function<int(int)>& poll,
                               const std::function<std::string(double)>& status) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto last_status = start;
  const bool tty = isatty(STDERR_FILENO);
  TraceLoopResult result;
  size_t status_width = 0;
  // From here on a signal ends the trace with its report: it only sets the
  // flag (util/signals.h), whatever phase the command's startup left.
  defer_stop_signals();

  for (;;) {
    int rc = poll(static_cast<int>(options.poll_interval.count()));
    auto now = clock::now();
    result.elapsed = now - start;
    if (rc < 0 && rc != -EINTR) {
      result.reason = StopReason::Error;
      result.error = fmt::format("polling failed: {}", rc);
      break;
    }
    if (stop_signal()) {
      result.reason = StopReason::Interrupted;
      break;
    }
    if (options.duration && now - start >= *options.duration) {
      result.reason = StopReason::Duration;
      break;
    }
    if (!target.alive()) {
      result.reason = StopReason::TargetExited;
      break;
    }
    if (options.over_budget && options.over_budget(result.elapsed.count())) {
      result.reason = StopReason::OverBudget;
      break;
    }
    // A live line on a terminal; every 10 s when stderr is a log.
    auto every = tty ? std::chrono::seconds(1) : std::chrono::seconds(10);
    if (options.status_line && now - last_status >= every) {
      last_status = now;
      std::string line = status(result.elapsed.count());
      if (tty) {
        fmt::print(stderr, "\r{:<{}}", line, status_width);
        status_width = line.size();
      } else {
        fmt::print(stderr, "{}\n", line);
      }
      std::fflush(stderr);
    }
  }
  if (tty && status_width) fmt::print(stderr, "\r{:<{}}\r", "", status_width);
  return result;
}

}  // namespace gotrace
