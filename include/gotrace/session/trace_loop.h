// The loop every tracing command runs once its probes are attached: poll,
// print a status line to stderr, stop on --duration, Ctrl-C/SIGTERM or the
// target's exit, and say which it was.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "gotrace/target/process.h"

namespace gotrace {

// OverBudget: the overhead governor ended this way of tracing (it goes on a
// cheaper way; trace_run.cpp).
// TargetExeced: the target exec'd a new program (or its PID was reused):
// what was collected before stays, nothing after it is the same program's.
enum class StopReason { Duration, Interrupted, TargetExited, Error, OverBudget, TargetExeced };
std::string_view stop_reason_text(StopReason r);

struct TraceLoopOptions {
  std::optional<std::chrono::milliseconds> duration;
  std::chrono::milliseconds poll_interval{100};
  bool status_line = true;  // one updating line on stderr
  // Asked after every poll with the seconds elapsed; true ends the loop
  // with StopReason::OverBudget.
  std::function<bool(double elapsed_s)> over_budget;
};

struct TraceLoopResult {
  StopReason reason = StopReason::Duration;
  std::chrono::duration<double> elapsed{};
  std::string error;
  // How long the target was seen stopped (state T or t: SIGSTOP, a job
  // control stop, a debugger), sampled at every poll. A stopped program
  // runs nothing: the report must say why it saw nothing then.
  std::chrono::duration<double> stopped{};
};

// The report's note for a target stopped during the trace (loop.stopped > 0).
std::string target_stopped_note(const TraceLoopResult& loop);

// The state letter of /proc/PID/stat (R, S, D, T, t, Z, …), 0 if unreadable.
char process_state(pid_t pid);

// The live status line on stderr: rewritten in place once a second on a
// terminal, one line every 10 s when stderr is a log; cleared at the end.
class StatusLine {
 public:
  explicit StatusLine(bool enabled);
  ~StatusLine() { clear(); }
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;
  // Whether a line is due now (text() is only built then).
  bool due() const;
  void show(const std::string& line);
  void clear();

 private:
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point last_;
  size_t width_ = 0;
};

// poll(timeout) consumes events (e.g. ring_buffer__poll); returns <0 on error.
// status() returns the text of the status line ("events 123/s, drops 0").
TraceLoopResult run_trace_loop(const Process& target, const TraceLoopOptions& options,
                               const std::function<int(int timeout_ms)>& poll,
                               const std::function<std::string(double elapsed_s)>& status);

}  // namespace gotrace
