// gotrace block --sample: no BPF, no probes. Every 1/HZ s, read the state of
// every goroutine from outside (snapshot/goroutines.h) and add the interval
// to the (wait reason, stack) of each parked one (block_sampler.h); at
// the end, the same report, JSON and profiles as probe mode, marked sampled.
// Reading another process's memory needs the rights gdb would (root, or
// ptrace rights over the target); nothing is ever written to it.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include "commands/block/block_command.h"
#include "commands/block/block_sampler.h"
#include "commands/block/block_writer.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/session/open_target.h"
#include "gotrace/session/outputs.h"
#include "gotrace/session/trace_loop.h"
#include "gotrace/snapshot/goroutines.h"
#include "gotrace/target/process.h"
#include "gotrace/util/signals.h"

namespace gotrace {

namespace {

int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
int64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }

// The scans' cost kept within a share of the CPU: the overhead budget the
// probes have (--max-overhead), taken of one CPU, or of the CPUs the target
// itself uses when it uses more (a scan does not stop the target: what it
// costs is gotrace's own CPU, reading the target's memory). A leaky bucket:
// each scan's CPU is a debt, repaid at the budget's rate; a scan waits until
// the debt is within a second's budget. When scans cost more than the
// period allows, the rate falls; the report says so. A process that once
// ran 100,000 goroutines costs about 3 ms of CPU a scan (its dead gs; the
// first few scans, before the dead are known, 15-60 ms), about 15% of a
// CPU at 49 Hz.
class ScanCap {
 public:
  ScanCap(double share, int64_t period_ns) : share_(share), period_ns_(period_ns) {}

  // After each scan: the CPU it took; target_cpu: the target's CPU-time
  // clock (read once a second, not every scan), t: monotonic now. Returns
  // the time to wait before the next.
  int64_t wait_after(int64_t scan_cpu_ns, const std::function<uint64_t()>& target_cpu, int64_t t) {
    ++scans_;
    cpu_total_ns_ += scan_cpu_ns;
    if (last_t_ == 0 || t - last_t_ >= 1'000'000'000) {
      const uint64_t target_cpu_ns = target_cpu();
      if (last_t_ != 0)
        target_cpus_ =
            static_cast<double>(target_cpu_ns - last_target_ns_) / static_cast<double>(t - last_t_);
      last_t_ = t;
      last_target_ns_ = target_cpu_ns;
    }
    if (share_ <= 0) return period_ns_;
    const double allowed = share_ * std::max(1.0, target_cpus_);  // CPU-ns per ns
    if (paid_t_ != 0) debt_ns_ = std::max(0.0, debt_ns_ - allowed * static_cast<double>(t - paid_t_));
    paid_t_ = t;
    debt_ns_ += static_cast<double>(scan_cpu_ns);
    const double burst = allowed * 1e9;  // a second's budget
    const auto wait = static_cast<int64_t>(std::max(0.0, debt_ns_ - burst) / allowed);
    if (wait <= period_ns_) return period_ns_;
    slowed_ = true;
    return wait;
  }
  double share() const { return share_; }
  bool slowed() const { return slowed_; }
  double mean_cpu_ms() const { return scans_ ? static_cast<double>(cpu_total_ns_) / 1e6 / scans_ : 0; }

 private:
  double share_;
  int64_t period_ns_;
  uint64_t scans_ = 0;
  int64_t cpu_total_ns_ = 0;
  double debt_ns_ = 0;
  int64_t paid_t_ = 0;
  double target_cpus_ = 0;
  int64_t last_t_ = 0;
  uint64_t last_target_ns_ = 0;
  bool slowed_ = false;
};

// Sleeps until the monotonic time t (a signal ends it early).
void sleep_until(int64_t t) {
  timespec ts{static_cast<time_t>(t / 1'000'000'000), static_cast<long>(t % 1'000'000'000)};
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
}

}  // namespace

int run_block_sample(const BlockConfig& config, const TraceSummary* carried, const RenderedReport* earlier) {
  const TraceConfig& tc = config.trace;
  if (tc.min.count() > 0) {
    fmt::print(stderr,
               "gotrace block: --min needs each wait's duration, which --sample does not measure "
               "(leave --min out, or trace with probes)\n");
    return kExitUsage;
  }
  const OutputPaths outputs{tc.pprof_path, tc.folded_path};
  if (!prepare_outputs("block", outputs)) return kExitOutput;

  // Handed over by the governor and interrupted before sampling traced
  // as long as the probes did: their report says more.
  auto earlier_says_more = [&](double sampled_s) {
    return earlier && stop_signal() && sampled_s < earlier->traced_s;
  };
  if (earlier_says_more(0)) return print_rendered(outputs, *earlier);
  auto target = open_target(tc.pid);
  if (!target) {
    fmt::print(stderr, "gotrace: {}{}\n", target.error().message,
               carried ? " (while switching from probes to sampling; what the probes saw was not kept)" : "");
    return kExitFailure;
  }
  Process* proc = &target->process;
  const GoBinary& b = *target->binary;
  const std::string version = b.buildinfo().version_string;
  if (!b.wait_reasons()) {
    fmt::print(stderr, "gotrace: {}\n", target_failure(*proc, b.wait_reasons().error().message));
    return kExitFailure;
  }
  const WaitReasons& reasons = *b.wait_reasons();
  auto mask = reason_mask(reasons, config.reasons);
  if (!mask) {
    fmt::print(stderr, "gotrace block: {}\n", mask.error().message);
    return kExitUsage;
  }
  const uint64_t* bias = &target->load_bias;
  auto reader = GoroutineReader::create(b, tc.pid, *bias);
  if (!reader) {
    fmt::print(stderr, "gotrace: {}\n", target_failure(*proc, reader.error().message));
    return kExitFailure;
  }

  // Gs dead for a while are re-read every 16th scan only (a process that
  // once ran 100,000 goroutines keeps 100,000 gs, mostly dead).
  reader->set_dead_recheck(16);

  const int64_t period = static_cast<int64_t>(1e9 / config.sample_hz);
  BlockSampler sampler([m = *mask](unsigned r) { return mask_has(m, r); }, static_cast<uint64_t>(period));
  uint64_t failed = 0;
  std::string first_failure;
  size_t parked_last = 0;
  ScanCap cap(tc.governor ? tc.max_overhead_pct / 100 : 0, period);
  int64_t wait_ns = period;  // until the next scan
  auto scan = [&]() -> Result<void> {
    const int64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    auto snap = reader->snapshot();
    const int64_t cpu1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    wait_ns = cap.wait_after(
        cpu1 - cpu0, [&] { return proc->cpu_time_ns(); }, monotonic_ns());
    if (!snap) return snap.error();
    uint64_t before = sampler.stats().parked_samples;
    sampler.add_scan(*snap);  // (weighed by the time since the scan before)
    sampler.set_period(static_cast<uint64_t>(wait_ns));
    parked_last = sampler.stats().parked_samples - before;
    return {};
  };

  // (Handed over by the governor, tracing began long ago: a signal now
  // ends the trace with its report.)
  if (stop_signal() && !carried) {
    fmt::print(stderr, "gotrace: interrupted before tracing began ({})\n", strsignal(stop_signal()));
    return kExitInterrupted;
  }
  // The first scan shows at once whether the target's memory can be read.
  if (auto r = scan(); !r) {
    fmt::print(stderr, "gotrace: PID {} ({}, {}): {}\n", tc.pid, proc->comm(), version, r.error().message);
    return kExitFailure;
  }
  if (!tc.json || isatty(STDERR_FILENO))
    fmt::print(stderr, "Sampling goroutine blocking in PID {} ({}, {}) at {:g} Hz, no probes. {}\n", tc.pid,
               proc->comm(), version, config.sample_hz,
               tc.duration ? fmt::format("{:.1f}s.", static_cast<double>(tc.duration->count()) / 1000.0)
                           : std::string("Ctrl-C to end."));

  int64_t next = monotonic_ns() + wait_ns;
  TraceLoopOptions lo;
  lo.duration = tc.duration;
  lo.status_line = tc.status_line;
  lo.poll_interval = std::chrono::milliseconds(std::max<int64_t>(1, period / 1'000'000));
  TraceLoopResult loop = run_trace_loop(
      *proc, lo,
      [&](int) {
        // At most a quarter of a second at a time: a period the cap
        // stretched must not outlast the trace or freeze its status line.
        sleep_until(std::min(next, monotonic_ns() + 250'000'000));
        int64_t now = monotonic_ns();
        if (stop_signal() || now < next) return 0;  // woken early: the loop looks at why
        if (auto r = scan(); !r && proc->alive()) {
          if (!failed++) first_failure = r.error().message;
        }
        // Behind (a scan took longer than the period): skip ahead rather
        // than scan back to back; the next scan's weight covers the gap. A
        // period the cap stretched is kept from this scan's start.
        next = std::max(next + wait_ns, now + (wait_ns > period ? wait_ns : period / 2));
        return 0;
      },
      [&](double t) {
        const BlockSampleStats& s = sampler.stats();
        return fmt::format("{:.0f}s  sampling {:.3g} Hz{}  {} scans  {:.2f} ms/scan  {} goroutines parked", t,
                           1e9 / static_cast<double>(wait_ns), wait_ns > period ? " (slowed: CPU cap)" : "",
                           s.scans, s.mean_scan_ms(), parked_last);
      });
  // One scan stands for the period before it, so the trace covers one
  // period more than the loop ran.
  loop.elapsed += std::chrono::nanoseconds(period);
  if (loop.reason == StopReason::Interrupted && earlier_says_more(loop.elapsed.count()))
    return print_rendered(outputs, *earlier);
  // A period the cap stretched leaves the end of the trace unscanned: one
  // last scan covers it (the scans' weights then add up to the duration).
  if (loop.reason == StopReason::Duration && cap.slowed() && proc->alive()) {
    if (auto r = scan(); !r && proc->alive() && !failed++) first_failure = r.error().message;
  }

  const BlockSampleStats& st = sampler.stats();
  BlockReport report;
  report.show_runtime_background = !config.reasons.empty();  // an explicit --reason shows what it names
  TraceSummary& s = report.summary;
  s.pid = tc.pid;
  s.comm = proc->comm_exact();
  s.go_version = version;
  s.duration_s = loop.elapsed.count();
  s.stopped_by = std::string(stop_reason_text(loop.reason));
  s.target_alive = proc->alive();
  s.events = st.parked_samples;
  s.counters = {{"scans", st.scans},
                {"scans_late", st.late_scans},
                {"parked_samples", st.parked_samples},
                {"filtered_samples", st.filtered_samples},
                {"parked_no_stack", st.no_stack},
                {"dead_gs_not_reread", st.dead_assumed},
                {"drop_scans_failed", failed},
                {"drop_goroutines_changed_while_read", st.inconsistent},
                {"drop_goroutines_unreadable", st.unreadable}};
  s.dropped = failed + st.inconsistent + st.unreadable;
  if (carried) {
    s.governor = carried->governor;
    s.notes = carried->notes;
  }
  if (failed) s.notes.push_back(fmt::format("{} scans failed (the first: {})", failed, first_failure));
  if (st.late_scans)
    s.notes.push_back(
        fmt::format("{} scans came late (a scan or the host was slow); each counts for the time "
                    "since the one before",
                    st.late_scans));
  if (!loop.error.empty()) s.notes.push_back(loop.error);

  report.stacks = std::make_shared<StackTable>(b.pclntab(), *bias);
  for (size_t i = 0; i < sampler.stacks().size(); ++i)
    report.stacks->add(sampler.stack_id_of(i), sampler.stacks()[i]);
  BlockBuildOptions bo;
  bo.reason_name = [&](unsigned r) { return reasons.name(r); };
  build_block_report(report, sampler.build_input(), bo);
  report.sampled =
      BlockReport::Sampling{config.sample_hz,  st.scans,    st.mean_scan_ms(), 1e3 * st.scan_seconds_max,
                            cap.mean_cpu_ms(), cap.share(), cap.slowed()};

  BlockWriterOptions wo;
  wo.top = tc.top;
  if (tc.json)
    write_block_json(report, std::cout, wo);
  else
    write_block_text(report, std::cout, wo);
  std::optional<ProfileData> profile;
  if (outputs.any()) profile = block_profile(report, proc->exe_target());
  if (int rc = finish_outputs(outputs, profile ? &*profile : nullptr, report.stacks.get(), 1); rc != kExitOk)
    return rc;
  return loop.reason == StopReason::Error ? kExitFailure : kExitOk;
}

}  // namespace gotrace
