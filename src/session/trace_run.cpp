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
#include "gotrace/session/outputs.h"
#include "gotrace/session/park_tracking.h"
#include "gotrace/session/probe_keeper.h"
#include "gotrace/session/trace_command.h"
#include "gotrace/util/log.h"
#include "gotrace/util/signals.h"
#include "gotrace/util/slow_notice.h"

namespace gotrace {

namespace {

// One probe the table wants: where, with which cookie.
struct PlannedProbe {
  const ProbeSpec* spec;
  bpf_program* prog;
  uint64_t offset;
  uint64_t cookie;
  std::string what;
};

// After one probe's attach: attached, or, when it failed, an error if the
// probe is required and a note if not.
Result<void> keep_or_note(const PlannedProbe& p, const Result<void>& r, TraceContext& tc,
                          std::vector<ProbeRole>& attached) {
  if (r) {
    attached.push_back(p.spec->role);
    return {};
  }
  if (p.spec->required) return r.error();
  tc.notes.push_back(r.error().message);
  return {};
}

// With multi-uprobe links: one link per program for all its sites; a link
// that fails is retried site by site, so that one optional site failing
// does not take the others with it.
Result<std::vector<ProbeRole>> attach_multi(const std::vector<PlannedProbe>& planned, TraceContext& tc,
                                            pid_t pid, LinkSet& links) {
  std::vector<ProbeRole> attached;
  std::vector<bool> done(planned.size());
  for (size_t i = 0; i < planned.size(); ++i) {
    if (done[i]) continue;
    std::vector<size_t> group;
    std::vector<uint64_t> offsets, cookies;
    std::string what;
    for (size_t j = i; j < planned.size(); ++j)
      if (!done[j] && planned[j].prog == planned[i].prog) {
        group.push_back(j);
        offsets.push_back(planned[j].offset);
        cookies.push_back(planned[j].cookie);
        what += (what.empty() ? "" : ", ") + planned[j].what;
        done[j] = true;
      }
    if (attach_uprobe_multi(planned[i].prog, pid, tc.process.exe_fd(), offsets, cookies, what, links)) {
      for (size_t j : group) attached.push_back(planned[j].spec->role);
      continue;
    }
    for (size_t j : group) {
      const PlannedProbe& p = planned[j];
      auto r = attach_uprobe_multi(p.prog, pid, tc.process.exe_fd(), {p.offset}, {p.cookie}, p.what, links);
      if (auto k = keep_or_note(p, r, tc, attached); !k) return k.error();
    }
  }
  return attached;
}

// For tests only: GOTRACE_TEST_DELAY_ATTACH_MS=N waits N ms between the
// identity check and the attach, after saying so on stderr, so that a test
// can make the target exec in exactly that gap.
void test_delay_before_attach() {
  static const char* env = std::getenv("GOTRACE_TEST_DELAY_ATTACH_MS");
  if (!env || !*env) return;
  const long ms = std::strtol(env, nullptr, 10);
  fmt::print(stderr, "gotrace: test: attaching in {} ms\n", ms);
  std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Attaches each probe of the table this run wants, in order. A required one
// that fails is an error; an optional one becomes a note.
Result<std::vector<ProbeRole>> attach_table(TraceCommand& cmd, TraceContext& tc, pid_t pid, uint32_t options,
                                            bool multi, LinkSet& links) {
  std::vector<ProbeRole> attached;
  std::vector<PlannedProbe> planned;
  // Still the program analysed? (The probes go on the pinned file anyway,
  // so an exec after this check costs the new program nothing.)
  if (auto same = tc.process.check_same(); !same) return same.error();
  test_delay_before_attach();
  const int minor = tc.binary->version().minor;
  for (const auto& p : cmd.probes().probes) {
    if ((p.needs & options) != p.needs || !p.applies_to(minor)) continue;
    bpf_program* prog = bpf_object__find_program_by_name(cmd.object(), std::string(p.program).c_str());
    if (!prog)
      return make_error("internal: no BPF program '{}' in the {} object", p.program, cmd.probes().command);
    const PlannedSite* site = tc.site(p.role);
    std::optional<uint64_t> offset;
    uint64_t check = 0;
    std::string what;
    if (site) {
      offset = site->site_file_offset;
      check = site_check(*site);
      what = site->symbol;
    } else if (p.entry_fallback) {
      for (const auto& s : tc.sites)
        if (s.role == p.role && !s.symbol.empty()) {
          offset = tc.binary->elf().vaddr_to_file_offset(s.function.entry);
          what = s.symbol;
          tc.notes.push_back(
              fmt::format("{} has no emulated probe site in this Go release: probed at its first "
                          "instruction (single-stepped, costs more per hit)",
                          s.symbol));
        }
    }
    if (!offset) {
      if (p.required) return make_error("no probe site for {}", role_spec(p.role).id);
      continue;
    }
    planned.push_back({&p, prog, *offset, GT_COOKIE(p.cookie_kind, check), what});
  }
  if (multi) return attach_multi(planned, tc, pid, links);
  for (const auto& p : planned) {
    auto r = attach_uprobe(p.prog, pid, tc.process.exe_fd(), p.offset, p.what, links, p.cookie);
    if (auto k = keep_or_note(p, r, tc, attached); !k) return k.error();
  }
  return attached;
}

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

// The overhead governor's watch over one pass: every second, the cost of the
// last second against the budget (model/overhead_budget.h). It acts once
// per pass: it ends the pass when the command has a cheaper way and the
// user let it; otherwise it records that the probes stay.
constexpr std::chrono::milliseconds kWindowOn{500};
constexpr std::string_view kEarlierNote = "overhead governor: the first ";

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
  bool over_budget(double t, const std::function<TraceCost()>& cost_now) {
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

// One way of tracing: load the command's programs as configured now, attach,
// run the loop until the end or the governor's stop, and detach.
// duty < 1: the probes are attached in windows of kWindowOn, that share of
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
  auto attached = attach_table(cmd, tc, config.pid, options, multi, links);
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

  // Windows: attached for kWindowOn, then off for as long as the duty says.
  using Clock = std::chrono::steady_clock;
  const size_t probes = links.size();
  const auto on = std::chrono::duration_cast<Clock::duration>(kWindowOn);
  auto off = std::chrono::duration_cast<Clock::duration>(kWindowOn * (1 / duty - 1));
  bool attached_now = true;
  auto window_began = Clock::now();
  Clock::duration attached_total{};
  size_t windows = 1;
  bool windowing = duty < 1;
  bool windows_failed = false;
  double windows_from_s = 0;  // when windowing began in this pass (0: from its start)
  if (stats_fd >= 0 && duty >= 1)
    lo.over_budget = [&](double t) {
      if (!governor.over_budget(t, cost_now)) return false;
      // The same probes in windows: no reload, so this pass goes on and
      // keeps what it saw (its report covers the whole time, scaled).
      auto way = cmd.cheaper();
      if (!way || !way->windows || windowing) return true;
      cmd.take_cheaper(tc);
      const double share = std::max(record.steps.back().share, 1e-9);
      off = std::chrono::duration_cast<Clock::duration>(
          kWindowOn * (1 / std::clamp(0.5 * record.max_share / share, 0.02, 0.5) - 1));
      const auto now = Clock::now();
      links.clear();  // the window that was on ends here
      attached_total += now - window_began;
      attached_now = false;
      window_began = now;
      windowing = true;
      windows_from_s = t;
      return false;
    };
  auto turn_windows = [&] {
    if (!windowing || windows_failed) return;
    const auto now = Clock::now();
    if (attached_now && now - window_began >= on) {
      links.clear();
      attached_total += now - window_began;
      attached_now = false;
      window_began = now;
    } else if (!attached_now && now - window_began >= off) {
      cmd.between_windows();
      auto again = attach_table(cmd, tc, config.pid, options, multi, links);
      if (!again) {
        links.clear();  // (what attached before the failure)
        tc.notes.push_back("probes could not be attached again for a window: " + again.error().message);
        windows_failed = true;  // no more windows; the trace goes on without probes
        return;
      }
      attached_now = true;
      window_began = Clock::now();
      ++windows;
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
  if (attached_now) attached_total += Clock::now() - window_began;
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
  if (windowing) {
    const double elapsed = out.loop.elapsed.count();
    const double fraction = elapsed > 0 ? std::chrono::duration<double>(attached_total).count() / elapsed
                                        : 1.0;  // (none: nothing to scale)
    out.summary.attached_fraction = std::clamp(fraction, 1e-6, 1.0);
    // (switched in this pass: the first window is the time before the switch)
    const size_t later_windows = windows_from_s > 0 ? windows - 1 : windows;
    out.summary.notes.push_back(fmt::format(
        "probes attached {}in {} window{} of {:.1f}s, {:.1f}% of the time in all: counts and times are "
        "scaled "
        "by {:.1f}; waits across a window's edge are not seen, and those longer than a window are "
        "under-counted",
        windows_from_s > 0 ? fmt::format("throughout the first {:.1f}s, then ", windows_from_s) : "",
        later_windows, later_windows == 1 ? "" : "s", std::chrono::duration<double>(kWindowOn).count(),
        100 * out.summary.attached_fraction, 1 / out.summary.attached_fraction));
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
    double duty = 1;
    if (cmd.windowed() && !governor.steps.empty())
      duty = std::clamp(0.5 * governor.max_share / std::max(governor.steps.back().share, 1e-9), 0.02, 0.5);
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
