#include "gotrace/session/trace_loop.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
    case StopReason::TargetExeced:
      return "target exec'd a new program";
  }
  return "?";
}

char process_state(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* paren = std::strrchr(buf, ')');  // the comm may hold anything but this last one
  return paren && paren[1] == ' ' ? paren[2] : 0;
}

std::string target_stopped_note(const TraceLoopResult& loop) {
  const double stopped = loop.stopped.count(), traced = loop.elapsed.count();
  const std::string how_long = stopped >= traced - 0.25
                                   ? std::string("the whole trace")
                                   : fmt::format("{:.1f}s of the {:.1f}s traced", stopped, traced);
  return fmt::format(
      "the target was stopped (SIGSTOP, job control or a debugger; state T) for {}: a stopped program runs "
      "nothing, so nothing it would have done then is in this report",
      how_long);
}

StatusLine::StatusLine(bool enabled)
    : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0), last_(std::chrono::steady_clock::now()) {}

bool StatusLine::due() const {
  const auto every = tty_ ? std::chrono::seconds(1) : std::chrono::seconds(10);
  return enabled_ && std::chrono::steady_clock::now() - last_ >= every;
}

void StatusLine::show(const std::string& line) {
  last_ = std::chrono::steady_clock::now();
  if (tty_) {
    fmt::print(stderr, "\r{:<{}}", line, width_);
    width_ = line.size();
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
}

void StatusLine::clear() {
  if (tty_ && width_) fmt::print(stderr, "\r{:<{}}\r", "", width_);
  width_ = 0;
}

TraceLoopResult run_trace_loop(const Process& target, const TraceLoopOptions& options,
                               const std::function<int(int)>& poll,
                               const std::function<std::string(double)>& status) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  StatusLine line(options.status_line);
  TraceLoopResult result;
  // From here on a signal ends the trace with its report: it only sets the
  // flag (util/signals.h), whatever phase the command's startup left.
  defer_stop_signals();
  auto sampled = start;
  const char first = process_state(target.pid());
  bool stopped_now = first == 'T' || first == 't';

  for (;;) {
    int rc = poll(static_cast<int>(options.poll_interval.count()));
    auto now = clock::now();
    result.elapsed = now - start;
    // Stopped since the last sample: counted from that sample on.
    const char state = process_state(target.pid());
    if (stopped_now) result.stopped += now - sampled;
    stopped_now = state == 'T' || state == 't';
    sampled = now;
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
    // Gone, or no longer the program whose offsets the probes were placed
    // at (they stay on the old file, so the new program is untouched).
    if (Identity id = target.identity(); id != Identity::Same) {
      result.reason = id == Identity::Exited ? StopReason::TargetExited : StopReason::TargetExeced;
      if (id != Identity::Exited) result.error = target.identity_text(id);
      break;
    }
    if (options.over_budget && options.over_budget(result.elapsed.count())) {
      result.reason = StopReason::OverBudget;
      break;
    }
    if (line.due())
      line.show(status(result.elapsed.count()) + (stopped_now ? "  (the target is stopped)" : ""));
  }
  line.clear();
  return result;
}

}  // namespace gotrace
