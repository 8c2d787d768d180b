// gotrace block --sample: no BPF, no probes. Every 1/HZ s, read the state of
// every goroutine from outside (snapshot/goroutines.h) and add the interval
// to the (wait reason, stack) of each parked one (model/block_sample.h); at
// the end, the same report, JSON and profiles as probe mode, marked sampled.
// Reading another process's memory needs the rights gdb would (root, or
// ptrace rights over the target); nothing is ever written to it.
#include "gotrace/model/block_sample.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>

#include "gotrace/gobin/go_binary.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/report/block_writer.h"
#include "gotrace/session/block_command.h"
#include "gotrace/session/outputs.h"
#include "gotrace/session/trace_loop.h"
#include "gotrace/snapshot/goroutines.h"
#include "gotrace/target/process.h"
#include "gotrace/util/signals.h"

namespace gotrace {

namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

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
  auto proc = Process::open(tc.pid);
  if (!proc) {
    fmt::print(stderr, "gotrace: {}{}\n", proc.error().message,
               carried ? " (while switching from probes to sampling; what the probes saw was not kept)" : "");
    return kExitFailure;
  }
  auto bin = GoBinary::open(proc->exe_link());
  if (!bin) {
    fmt::print(stderr, "gotrace: PID {} ({}): {}\n", tc.pid, proc->comm(), bin.error().message);
    return kExitFailure;
  }
  const GoBinary& b = **bin;
  const std::string version = b.buildinfo().version_string;
  if (!b.wait_reasons()) {
    fmt::print(stderr, "gotrace: PID {} ({}, {}): {}\n", tc.pid, proc->comm(), version,
               b.wait_reasons().error().message);
    return kExitFailure;
  }
  const WaitReasons& reasons = *b.wait_reasons();
  auto mask = reason_mask(reasons, config.reasons);
  if (!mask) {
    fmt::print(stderr, "gotrace block: {}\n", mask.error().message);
    return kExitUsage;
  }
  auto bias = proc->load_bias(b.elf());
  if (!bias) {
    fmt::print(stderr, "gotrace: PID {}: {}\n", tc.pid, bias.error().message);
    return kExitFailure;
  }
  auto reader = GoroutineReader::create(b, tc.pid, *bias);
  if (!reader) {
    fmt::print(stderr, "gotrace: PID {} ({}, {}): {}\n", tc.pid, proc->comm(), version,
               reader.error().message);
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
  auto scan = [&]() -> Result<void> {
    auto snap = reader->snapshot();
    if (!snap) return snap.error();
    uint64_t before = sampler.stats().parked_samples;
    sampler.add_scan(*snap);
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

  int64_t next = monotonic_ns() + period;
  TraceLoopOptions lo;
  lo.duration = tc.duration;
  lo.status_line = tc.status_line;
  lo.poll_interval = std::chrono::milliseconds(std::max<int64_t>(1, period / 1'000'000));
  TraceLoopResult loop = run_trace_loop(
      *proc, lo,
      [&](int) {
        sleep_until(next);
        int64_t now = monotonic_ns();
        if (stop_signal() || now < next) return 0;  // woken early: the loop looks at why
        // Behind (a scan took longer than the period): skip ahead rather
        // than scan back to back; the next scan's weight covers the gap.
        next = std::max(next + period, now + period / 2);
        if (auto r = scan(); !r && proc->alive()) {
          if (!failed++) first_failure = r.error().message;
        }
        return 0;
      },
      [&](double t) {
        const BlockSampleStats& s = sampler.stats();
        return fmt::format("{:.0f}s  sampling {:g} Hz  {} scans  {:.2f} ms/scan  {} goroutines parked", t,
                           config.sample_hz, s.scans, s.mean_scan_ms(), parked_last);
      });
  // One scan stands for the period before it, so the trace covers one
  // period more than the loop ran.
  loop.elapsed += std::chrono::nanoseconds(period);
  if (loop.reason == StopReason::Interrupted && earlier_says_more(loop.elapsed.count()))
    return print_rendered(outputs, *earlier);

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
      BlockReport::Sampling{config.sample_hz, st.scans, st.mean_scan_ms(), 1e3 * st.scan_seconds_max};

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
