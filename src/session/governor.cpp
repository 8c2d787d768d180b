#include "gotrace/session/governor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace gotrace {

bool Governor::over_budget(double t, const std::function<TraceCost()>& cost_now) {
  if (done_ || t < last_t_ + kMinWindowS) return false;
  TraceCost c = cost_now();
  TraceCost w = c;  // the window since the last check
  w.probe_hits = c.probe_hits - last_.probe_hits;
  w.bpf_ns = c.bpf_ns - last_.bpf_ns;
  w.estimated_ns = c.estimated_ns - last_.estimated_ns;
  w.target_cpu_ns = c.target_cpu_ns - last_.target_cpu_ns;
  const double seconds = t - last_t_;
  if (!window_ready(w, seconds, budget_)) return false;
  last_ = c;
  last_t_ = t;
  BudgetCheck b = check_budget(w, seconds, budget_);
  if (!b.over) return false;
  done_ = true;
  GovernorStep step{since_start_ + t, b.share, b.cost_ns_per_s, ""};
  auto way = cmd_.cheaper();
  if (!record_.on)
    step.action = "kept the probes (--no-governor)";
  else if (!way)
    step.action = "kept the probes (nothing cheaper traces this)";
  else if (ends_at_ - t < kMinLeftS)  // switching would throw away more than it saves
    step.action = "kept the probes (the trace ends within a second)", way.reset();
  else
    step.action = way->what;
  fmt::print(stderr,
             "gotrace {}: the probes cost ~{:.1f}% of the target's CPU over the last {:.1f}s "
             "(budget {:g}%, --max-overhead): {}\n",
             cmd_.probes().command, 100 * b.share, seconds, 100 * budget_.max_share, step.action);
  record_.steps.push_back(step);
  return record_.on && way.has_value();
}

double ProbeWindows::duty_after(const GovernorRecord& record) {
  const double share = record.steps.empty() ? 1.0 : std::max(record.steps.back().share, 1e-9);
  return std::clamp(0.5 * record.max_share / share, 0.02, 0.5);
}

ProbeWindows::ProbeWindows(double duty)
    : off_(std::chrono::duration_cast<Clock::duration>(kOn * (1 / duty - 1))), windowing_(duty < 1) {}

void ProbeWindows::start(double duty, double t) {
  off_ = std::chrono::duration_cast<Clock::duration>(kOn * (1 / duty - 1));
  const auto now = Clock::now();
  attached_total_ += now - began_;
  attached_ = false;
  began_ = now;
  windowing_ = true;
  from_s_ = t;
}

ProbeWindows::Turn ProbeWindows::due() const {
  if (!windowing_ || failed_) return Turn::None;
  const auto now = Clock::now();
  if (attached_ && now - began_ >= std::chrono::duration_cast<Clock::duration>(kOn)) return Turn::Off;
  if (!attached_ && now - began_ >= off_) return Turn::On;
  return Turn::None;
}

void ProbeWindows::turned_off() {
  const auto now = Clock::now();
  attached_total_ += now - began_;
  attached_ = false;
  began_ = now;
}

void ProbeWindows::turned_on() {
  attached_ = true;
  began_ = Clock::now();
  ++windows_;
}

double ProbeWindows::attached_fraction(double elapsed_s) {
  if (attached_) {
    attached_total_ += Clock::now() - began_;
    began_ = Clock::now();
    attached_ = false;
  }
  const double fraction = elapsed_s > 0 ? std::chrono::duration<double>(attached_total_).count() / elapsed_s
                                        : 1.0;  // (none: nothing to scale)
  return std::clamp(fraction, 1e-6, 1.0);
}

std::string ProbeWindows::note(double fraction) const {
  // (switched in this pass: the first window is the time before the switch)
  const size_t later = from_s_ > 0 ? windows_ - 1 : windows_;
  return fmt::format(
      "probes attached {}in {} window{} of {:.1f}s, {:.1f}% of the time in all: counts and times are scaled "
      "by {:.1f}; waits across a window's edge are not seen, and those longer than a window are "
      "under-counted",
      from_s_ > 0 ? fmt::format("throughout the first {:.1f}s, then ", from_s_) : "", later,
      later == 1 ? "" : "s", std::chrono::duration<double>(kOn).count(), 100 * fraction, 1 / fraction);
}

}  // namespace gotrace
