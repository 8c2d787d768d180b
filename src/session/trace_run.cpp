// The runner every tracing command goes through (trace_command.h).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "gotrace/model/overhead_budget.h"
#include "gotrace/session/attach.h"
#include "gotrace/session/governor.h"
#include "gotrace/session/outputs.h"
#include "gotrace/session/park_tracking.h"
#include "gotrace/session/probe_keeper.h"
#include "gotrace/session/trace_command.h"
#include "gotrace/util/log.h"
#include "gotrace/util/signals.h"
#include "gotrace/util/slow_notice.h"

namespace gotrace {

namespace {

// For tests only: GOTRACE_TEST_DELAY_SWITCH_MS=N waits N ms when the
// governor switches to a cheaper way that reloads, after the costlier way's
// report is kept and before the next way loads, after saying so on stderr,
// so that a test can signal gotrace in exactly that gap. A signal ends the
// wait.
void test_delay_at_switch() {
  static const char* env = std::getenv("GOTRACE_TEST_DELAY_SWITCH_MS");
  if (!env || !*env) return;
  const long ms = std::strtol(env, nullptr, 10);
  fmt::print(stderr, "gotrace: test: switching in {} ms\n", ms);
  std::fflush(stderr);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stop_signal() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

int ringbuf_sample(void* ctx, void* data, size_t size) {
  static_cast<TraceCommand*>(ctx)->on_event(data, size);
  return 0;
}

// A signal during startup: stop with one line, nothing attached is left.
bool interrupted_before_start() {
  if (!stop_signal()) return false;
  fmt::print(stderr, "gotrace: interrupted before tracing began ({})\n", strsignal(stop_signal()));
  return true;
}

// What one way of tracing (one pass of the runner) ended with: an exit code
// when it cannot go on, otherwise its outcome.
struct Pass {
  std::optional<int> exit;
  TraceOutcome outcome;
  std::chrono::steady_clock::time_point began;  // when its probes were in and it began to trace
};

constexpr std::string_view kEarlierNote = "overhead governor: the first ";

// One way of tracing: load the command's programs as configured now, attach,
// run the loop until the end or the governor's stop, and detach.
// duty < 1: the probes are attached in windows (ProbeWindows), that share of
// the time (the governor's last resort, for commands that can scale).
// trace_began: when the first pass began to trace, for a later pass (the
// governor's), where a signal or the target's exit while it starts ends the
// trace with a report, not an early exit.
Pass run_pass(TraceCommand& cmd, TraceContext& tc, const TraceConfig& config, GovernorRecord& record,
              double duty, std::optional<std::chrono::steady_clock::time_point> trace_began) {
  Pass pass;
  const bool later = trace_began.has_value();
  auto fail = [&](std::string_view message) {
    fmt::print(stderr, "gotrace: {}\n", later ? std::string(message) : tc.startup_failure(message));
    pass.exit = kExitFailure;
    return pass;
  };
  const uint32_t options = cmd.options(tc);
  Result<void> step = cmd.open();
  if (step) {
    cmd.set_common(tc.bpf_offsets(), static_cast<uint32_t>(config.pid),
                   static_cast<uint64_t>(config.min.count()));
    step = cmd.configure(tc);
  }
  const bool multi = use_uprobe_multi(tc.host.uprobe_multi.value_or(false));
  if (step && multi) prepare_uprobe_multi(cmd.object());
  if (step) step = cmd.load();
  if (step) step = cmd.loaded(tc);
  if (!step) return fail(step.error().message);
  if (!later && interrupted_before_start()) {
    pass.exit = kExitInterrupted;
    return pass;
  }
  if (later && stop_signal()) {  // (the runner reports what the earlier way saw)
    pass.exit = kExitInterrupted;
    return pass;
  }

  // What the trace costs the target: the trap cost on this host (measured
  // by probe_host) times the probe hits, plus the programs' run time
  // (bpf_stats, counted while stats_fd is open).
  const int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (stats_fd < 0 && record.steps.empty())
    tc.notes.push_back("the kernel's BPF run-time statistics are off: the trace's cost is not shown");
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd >= 0) ::close(fd);
    }
  } stats_closer{stats_fd};
  auto cost_of = [&](uint64_t target_cpu_ns) {
    TraceCost c;
    c.known = stats_fd >= 0;
    if (!c.known) return c;
    ProgramRunStats st = program_run_stats(cmd.object());
    c.probe_hits = st.runs;
    c.bpf_ns = st.run_ns;
    c.trap_ns_per_hit = tc.host.trap_ns_per_hit.value_or(0);
    c.estimated_ns = static_cast<uint64_t>(static_cast<double>(st.runs) * c.trap_ns_per_hit) + st.run_ns;
    c.target_cpu_ns = target_cpu_ns;
    return c;
  };

  LinkSet links;
  std::optional<SlowStepNotice> slow;
  if (!later)
    slow.emplace(fmt::format("attaching the probes to PID {} ({})", tc.process.pid(), tc.process.comm()));
  auto attached = attach_probe_table(cmd.probes(), cmd.object(), tc, options, multi, links);
  slow.reset();
  Result<void> enough = attached ? cmd.check_attached(tc, *attached) : Result<void>(attached.error());
  // A Ctrl-C abandons an attach under way (the probe keeper takes off
  // whatever it attached): interrupted, not failed.
  if (!later && interrupted_before_start()) {
    pass.exit = kExitInterrupted;
    return pass;
  }
  // Exec'd (or gone) while the probes went on: they sit on the file the
  // target ran before, harmless to the new program, and trace nothing.
  const Identity identity = tc.process.identity();
  if (identity != Identity::Same && !later) {
    links.clear();
    return fail(tc.process.identity_text(identity));
  }
  // A later pass whose target exited or exec'd while it started reports
  // what the earlier pass saw.
  const bool gone = later && identity != Identity::Same;
  if (!enough && !gone) return fail(enough.error().message);

  std::unique_ptr<ring_buffer, void (*)(ring_buffer*)> rb(nullptr, ring_buffer__free);
  if (int fd = bpf_object__find_map_fd_by_name(cmd.object(), "events"); fd >= 0) {
    rb.reset(ring_buffer__new(fd, ringbuf_sample, &cmd, nullptr));
    if (!rb) return fail(explain_bpf_error(errno, "creating the ring buffer reader"));
  }
  const int counters_fd = bpf_object__find_map_fd_by_name(cmd.object(), "counters");

  if (!config.json || isatty(STDERR_FILENO))
    fmt::print(stderr, "Tracing {} in PID {} ({}, {}): {} probes{}. {}\n", cmd.what(), config.pid,
               tc.process.comm(), tc.binary->buildinfo().version_string, links.size(), cmd.extra(),
               config.duration
                   ? fmt::format("{:.1f}s.", static_cast<double>(config.duration->count()) / 1000.0)
                   : std::string("Ctrl-C to end."));
  const uint64_t cpu_start = tc.process.cpu_time_ns();
  auto cost_now = [&] {
    const uint64_t cpu_now = tc.process.cpu_time_ns();
    return cost_of(cpu_now > cpu_start ? cpu_now - cpu_start : 0);
  };
  // The trace's time (-d, the governor's steps) counts from here: loading
  // and attaching on a loaded host can take seconds.
  if (!gone) cmd.at_edge(tc, TraceCommand::Edge::Began);
  pass.began = std::chrono::steady_clock::now();
  const double since_start = later ? std::chrono::duration<double>(pass.began - *trace_began).count() : 0;
  Governor governor(config, record, cmd, since_start);
  TraceLoopOptions lo;
  lo.duration = config.duration;
  lo.status_line = config.status_line;

  const size_t probes = links.size();
  ProbeWindows windows(duty);
  if (stats_fd >= 0 && duty >= 1)
    lo.over_budget = [&](double t) {
      if (!governor.over_budget(t, cost_now)) return false;
      // The same probes in windows: no reload, so this pass goes on and
      // keeps what it saw (its report covers the whole time, scaled).
      auto way = cmd.cheaper();
      if (!way || !way->windows || windows.on()) return true;
      cmd.take_cheaper(tc);
      links.clear();  // the window that was on ends here
      windows.start(ProbeWindows::duty_after(record), t);
      return false;
    };
  auto turn_windows = [&] {
    switch (windows.due()) {
      case ProbeWindows::Turn::Off:
        links.clear();
        windows.turned_off();
        break;
      case ProbeWindows::Turn::On:
        cmd.between_windows();
        if (auto again = attach_probe_table(cmd.probes(), cmd.object(), tc, options, multi, links); !again) {
          links.clear();  // (what attached before the failure)
          tc.notes.push_back("probes could not be attached again for a window: " + again.error().message);
          windows.failed();
        } else {
          windows.turned_on();
        }
        break;
      case ProbeWindows::Turn::None:
        break;
    }
  };
  uint64_t last = 0;
  double last_t = 0;
  TraceOutcome& out = pass.outcome;
  if (gone) {
    out.loop.reason = identity == Identity::Exited ? StopReason::TargetExited : StopReason::TargetExeced;
    if (identity != Identity::Exited) out.loop.error = tc.process.identity_text(identity);
  } else
    out.loop = run_trace_loop(
        tc.process, lo,
        [&](int timeout) {
          turn_windows();
          if (rb) {
            // The programs wake this poll only when the buffer fills a quarter
            // (ringbuf_submit_lazy): what a timeout leaves is taken here.
            int n = ring_buffer__poll(rb.get(), timeout);
            if (n < 0) return n;
            int m = ring_buffer__consume(rb.get());
            return m < 0 ? m : n + m;
          }
          usleep(static_cast<useconds_t>(timeout) * 1000);
          return 0;
        },
        [&](double t) {
          auto c = read_counters(counters_fd);
          uint64_t n = c[cmd.rate_counter()];
          double rate = t > last_t ? static_cast<double>(n - last) / (t - last_t) : 0;
          last = n;
          last_t = t;
          TraceCost cost = cost_now();
          std::string cost_text = cost.known && cost.target_cpu_ns
                                      ? fmt::format("  cost ~{:.1f}% of its CPU", 100 * cost.share())
                                      : "";
          return fmt::format("{:.0f}s  {} probes  {}{}", t, links.size(), cmd.status(c, rate), cost_text);
        });
  out.attached = probes;
  const double attached_fraction = windows.attached_fraction(out.loop.elapsed.count());
  const uint64_t cpu_end = tc.process.cpu_time_ns();
  *cmd.stopped_flag() = 1;  // nothing after the end counts, while the probes come off
  if (!gone) cmd.at_edge(tc, TraceCommand::Edge::Ended);
  const auto detach_start = std::chrono::steady_clock::now();
  const size_t nlinks = links.links();
  links.clear();
  const double detach_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - detach_start).count();
  log_debug("detached {} probes ({} links{}) in {:.0f} ms", out.attached, nlinks,
            multi ? ", multi-uprobe" : "", detach_s * 1000);
  if (rb) ring_buffer__consume(rb.get());
  out.counters = read_counters(counters_fd);
  out.summary =
      tc.summary(out.loop, out.counters, cmd.counters(), out.attached, out.counters[cmd.rate_counter()]);
  out.summary.detach_s = detach_s;
  out.summary.cost = cost_of(cpu_end > cpu_start ? cpu_end - cpu_start : 0);
  if (windows.on()) {
    out.summary.attached_fraction = attached_fraction;
    out.summary.notes.push_back(windows.note(attached_fraction));
  }
  return pass;
}

}  // namespace

int run_trace(TraceCommand& cmd, const TraceConfig& config) {
  const char* name = cmd.probes().command.data();
  if (auto c = check_counter_specs(cmd.counters()); !c) {  // a bug in gotrace, not the user's
    fmt::print(stderr, "gotrace {}: internal error: {}\n", name, c.error().message);
    return kExitFailure;
  }
  if (auto v = cmd.validate(); !v) {
    fmt::print(stderr, "gotrace {}: {}\n", name, v.error().message);
    return kExitUsage;
  }
  const OutputPaths outputs{config.pprof_path, config.folded_path};
  if (!prepare_outputs(name, outputs)) return kExitOutput;

  // The probe keeper, forked now while gotrace is small and has one thread.
  if (auto keeper = ProbeKeeper::get(); !keeper) {
    fmt::print(stderr, "gotrace: {}\n", keeper.error().message);
    return kExitFailure;
  }
  auto ctx = TraceContext::prepare(config.pid, cmd.probes());
  if (!ctx) {
    fmt::print(stderr, "gotrace: {}\n", ctx.error().message);
    return kExitFailure;
  }
  TraceContext& tc = *ctx;
  if (auto r = cmd.prepare(tc); !r) {
    fmt::print(stderr, "gotrace {}: {}\n", name, r.error().message);
    return kExitUsage;
  }
  if (interrupted_before_start()) return kExitInterrupted;
  install_libbpf_logging();

  // One pass per way of tracing: the governor may end a pass and go on a
  // cheaper way for the rest of the time.
  GovernorRecord governor;
  TraceConfig pass_config = config;
  std::optional<std::chrono::steady_clock::time_point> started;  // when the first pass began to trace
  Pass pass;
  std::optional<RenderedReport> earlier;  // the costlier way's report, at the last reloading switch
  bool use_earlier = false;
  for (;;) {
    // In windows, the share of the time that brings the last measured cost
    // within half the budget (window edges and the judged windows add to
    // it), at least 2% and at most half of the time.
    const double duty = cmd.windowed() && !governor.steps.empty() ? ProbeWindows::duty_after(governor) : 1;
    if (earlier && stop_signal()) {  // interrupted during the switch
      use_earlier = true;
      break;
    }
    pass = run_pass(cmd, tc, pass_config, governor, duty, started);
    if (pass.exit && earlier && stop_signal()) {  // interrupted while the cheaper way started
      use_earlier = true;
      break;
    }
    if (pass.exit) return *pass.exit;
    if (!started) started = pass.began;
    if (pass.outcome.loop.reason != StopReason::OverBudget) break;
    // Ended, or the target gone, while switching: report what the costlier
    // way saw (its maps are still there until the next pass opens).
    const Identity identity = tc.process.identity();
    if (stop_signal() || identity != Identity::Same) {
      const StopReason why = stop_signal()                  ? StopReason::Interrupted
                             : identity == Identity::Exited ? StopReason::TargetExited
                                                            : StopReason::TargetExeced;
      pass.outcome.loop.reason = why;
      if (why == StopReason::TargetExeced)
        pass.outcome.summary.notes.push_back(tc.process.identity_text(identity));
      pass.outcome.summary.stopped_by = std::string(stop_reason_text(why));
      pass.outcome.summary.target_alive = tc.process.alive();
      governor.steps.back().action += " (not done: the trace ended first)";
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    const double earlier_s = std::chrono::duration<double>(now - *started).count();
    if (config.duration) {  // by the clock from the trace's start: a switch takes time too
      auto left = *config.duration - std::chrono::duration_cast<std::chrono::milliseconds>(now - *started);
      if (left.count() <= 0) break;  // its time is up anyway: report what the pass saw
      pass_config.duration = left;
    }
    auto way = cmd.cheaper();
    if (!way) break;  // (the governor only stops a pass when there is one)
    {
      // The report of this way as it would read if a signal ended the trace
      // now: kept until the next way has traced as long (the sampler block
      // leaves for is handed it too).
      TraceOutcome o = pass.outcome;
      o.loop.reason = StopReason::Interrupted;
      o.summary.stopped_by = std::string(stop_reason_text(StopReason::Interrupted));
      o.summary.governor = governor;
      o.summary.governor.steps.back().action += " (not done: interrupted while switching)";
      o.summary.notes.push_back(fmt::format(
          "interrupted while the overhead governor switched to a cheaper way: this report covers the trace "
          "from {:.1f}s to {:.1f}s, traced the costlier way",
          std::chrono::duration<double>(pass.began - *started).count(), earlier_s));
      std::ostringstream text;
      auto profile = cmd.report(tc, o, config, text);
      earlier.reset();
      if (profile) {
        earlier.emplace();
        earlier->text = text.str();
        earlier->traced_s = o.loop.elapsed.count();
        if (*profile) {
          earlier->profile = std::move((*profile)->data);
          earlier->stacks = (*profile)->stacks;
          earlier->folded_value = (*profile)->folded_value;
        }
      }
      test_delay_at_switch();
    }
    std::erase_if(tc.notes, [](const std::string& n) { return n.starts_with(kEarlierNote); });
    tc.notes.push_back(fmt::format("{}{:.1f}s were traced a costlier way and are not in this report",
                                   kEarlierNote, earlier_s));
    if (way->leaves_runner) {
      if (earlier && stop_signal()) {  // interrupted during the switch
        use_earlier = true;
        break;
      }
      TraceSummary carried;
      carried.governor = governor;
      carried.notes = tc.notes;
      return cmd.run_instead(pass_config, carried, earlier ? &*earlier : nullptr);
    }
    cmd.take_cheaper(tc);
  }
  // Interrupted before the cheaper way traced as long as the costlier one
  // did: the costlier way's report says more.
  if (earlier && stop_signal() && pass.outcome.loop.reason == StopReason::Interrupted &&
      pass.outcome.loop.elapsed.count() < earlier->traced_s)
    use_earlier = true;
  if (use_earlier) return print_rendered(outputs, *earlier);
  TraceOutcome& out = pass.outcome;
  out.summary.governor = governor;
  if (out.loop.reason == StopReason::TargetExeced)  // (its line is in the report's notes too)
    fmt::print(stderr, "gotrace {}: {}: the trace ended there\n", name,
               out.loop.error.empty() ? tc.process.identity_text(tc.process.identity()) : out.loop.error);
  if (out.loop.reason == StopReason::OverBudget) out.summary.stopped_by = "duration elapsed";

  auto profile = cmd.report(tc, out, config, std::cout);
  if (!profile) {
    fmt::print(stderr, "gotrace: {}\n", profile.error().message);
    return kExitFailure;
  }
  const CommandProfile* p = *profile ? &**profile : nullptr;
  if (int rc = finish_outputs(outputs, p ? &p->data : nullptr, p ? p->stacks.get() : nullptr,
                              p ? p->folded_value : 0);
      rc != kExitOk)
    return rc;
  return out.loop.reason == StopReason::Error ? kExitFailure : kExitOk;
}

}  // namespace gotrace
