#include "gotrace/session/trace_loop.h"

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace gotrace {

namespace {
std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal.store(sig); }
}  // namespace

std::string_view stop_reason_text(StopReason r) {
  switch (r) {
    case StopReason::Duration: return "duration elapsed";
    case StopReason::Interrupted: return "interrupted";
    case StopReason::TargetExited: return "target exited";
    case StopReason::Error: return "error";
  }
  return "?";
}

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v < 0) return std::nullopt;
  std::string unit(end);
  double scale;
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us" || unit == "µs") scale = 1e3;
  else if (unit == "ns") scale = 1;
  else if (unit == "m") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return std::nullopt;
  return std::chrono::nanoseconds(static_cast<long long>(v * scale));
}

TraceLoopResult run_trace_loop(const Process& target, const TraceLoopOptions& options,
                               const std::function<int(int)>& poll,
                               const std::function<std::string(double)>& status) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_signal.store(0);

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto last_status = start;
  const bool tty = isatty(STDERR_FILENO);
  TraceLoopResult result;
  size_t status_width = 0;

  for (;;) {
    int rc = poll(static_cast<int>(options.poll_interval.count()));
    auto now = clock::now();
    result.elapsed = now - start;
    if (rc < 0 && rc != -EINTR) {
      result.reason = StopReason::Error;
      result.error = fmt::format("polling failed: {}", rc);
      break;
    }
    if (g_signal.load()) {
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
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace gotrace
