// The overhead governor's watch over one pass of the runner (trace_run.cpp):
// every second, the cost of the last second against the budget
// (model/overhead_budget.h). It acts once per pass: it ends the pass when
// the command has a cheaper way and the user let it; otherwise it records
// that the probes stay. Its state is its own; what it decided goes into the
// GovernorRecord every report shows.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>

#include "gotrace/model/overhead_budget.h"
#include "gotrace/model/trace_summary.h"
#include "gotrace/session/trace_command.h"
#include "gotrace/session/trace_config.h"

namespace gotrace {

class Governor {
 public:
  // since_start: seconds of the trace before this pass began.
  Governor(const TraceConfig& config, GovernorRecord& record, const TraceCommand& cmd, double since_start)
      : record_(record), cmd_(cmd), since_start_(since_start) {
    if (config.duration) ends_at_ = static_cast<double>(config.duration->count()) / 1000;
    budget_.max_share = config.max_overhead_pct / 100;
    record_.on = config.governor;
    record_.max_share = budget_.max_share;
    record_.allowance_cpu_share = budget_.floor_ns_per_s / 1e9;
  }

  // Called after every poll; cost_now: the cumulative cost so far this pass.
  // A window closes after a second, or sooner when the target used enough
  // CPU in it to judge a share (window_ready): a busy target is judged in a
  // quarter of a second, a flagrantly costly trace in a tenth.
  bool over_budget(double t, const std::function<TraceCost()>& cost_now);

 private:
  static constexpr double kMinWindowS = 0.1;  // window_ready's shortest
  static constexpr double kMinLeftS = 1.0;
  GovernorRecord& record_;
  const TraceCommand& cmd_;
  double since_start_ = 0;
  double ends_at_ = std::numeric_limits<double>::infinity();  // this pass's -d
  OverheadBudget budget_;
  TraceCost last_;
  double last_t_ = 0;
  bool done_ = false;
};

// The governor's last resort for commands whose counts scale (lock): the
// same probes, attached only in windows of kOn, then off for as long as the
// duty (the share of the time attached) says. The runner takes the probes
// off and puts them on again when due() says so; what the windows covered
// scales the report.
class ProbeWindows {
 public:
  static constexpr std::chrono::milliseconds kOn{500};
  using Clock = std::chrono::steady_clock;

  // The duty that brings the last measured cost within half the budget
  // (window edges and the judged windows add to it), at least 2% and at
  // most half of the time.
  static double duty_after(const GovernorRecord& record);

  // duty < 1: in windows from the start of the pass; 1: not (yet).
  explicit ProbeWindows(double duty);
  bool on() const { return windowing_; }
  // The governor's switch in the middle of a pass, t seconds in: the
  // window that was on (the probes, just taken off) ends now.
  void start(double duty, double t);

  enum class Turn { None, Off, On };
  Turn due() const;  // what the runner should do now
  void turned_off();
  void turned_on();
  void failed() { failed_ = true; }  // no more windows: the trace goes on without probes
  // At the end of the pass: the share of its time the probes were on, and
  // the report's note saying how it was traced.
  double attached_fraction(double elapsed_s);
  std::string note(double fraction) const;

 private:
  Clock::duration off_;
  bool windowing_ = false;
  bool attached_ = true;
  bool failed_ = false;
  Clock::time_point began_ = Clock::now();  // of the current window (on or off)
  Clock::duration attached_total_{};
  size_t windows_ = 1;
  double from_s_ = 0;  // when windowing began in this pass (0: from its start)
};

}  // namespace gotrace
