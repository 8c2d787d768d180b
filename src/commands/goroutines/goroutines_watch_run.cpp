// run_goroutines_watch: `gotrace goroutines --watch`: a snapshot every
// interval until -d, Ctrl-C or the target's exit, each goroutine followed by
// goid and creation site (GoroutineWatch), then the heat map and the leak
// suspects. Only reads of the target's memory, unless --leaks: then the
// creation and exit probes (GoroutineProbes) go on before the first
// snapshot, and their per-site counts are read after each one.
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "commands/goroutines/goroutine_probes.h"
#include "commands/goroutines/goroutine_watch.h"
#include "commands/goroutines/goroutine_watch_writer.h"
#include "commands/goroutines/goroutines_command.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/report/report_common.h"
#include "gotrace/session/open_target.h"
#include "gotrace/session/outputs.h"
#include "gotrace/session/probe_keeper.h"
#include "gotrace/session/trace_context.h"
#include "gotrace/session/trace_loop.h"
#include "gotrace/snapshot/goroutines.h"
#include "gotrace/target/process.h"
#include "gotrace/util/output_file.h"
#include "gotrace/util/signals.h"

namespace gotrace {

namespace {

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Interns stacks into one table for the whole watch, and names creation
// sites: the function and line of the `go` statement (gopc is the return
// address of its call, so gopc - 1 is inside it).
class SiteNamer {
 public:
  explicit SiteNamer(StackTable& st) : st_(st) {}
  uint64_t intern(const std::vector<uint64_t>& pcs) {
    if (pcs.empty()) return 0;
    auto [it, fresh] = ids_.emplace(pcs, ids_.size() + 1);
    if (fresh) st_.add(it->second, pcs);
    return it->second;
  }
  std::pair<std::string, uint64_t> site(const Goroutine& g) {
    if (g.goid == 1) return {"runtime.main (the main goroutine)", 0};
    return site_at(g.gopc);
  }
  // The site of a `go` statement by its gopc (a runtime address).
  std::pair<std::string, uint64_t> site_at(uint64_t gopc) {
    if (!gopc) return {"(no creation site)", 0};
    auto found = names_.find(gopc);
    if (found != names_.end()) return found->second;
    uint64_t id = intern({gopc - 1});
    const auto& fs = st_.frames(id);
    std::string name = fs.empty() ? fmt::format("{:#x}", gopc - 1)
                                  : fmt::format("{} ({}:{})", fs.front().function, base_name(fs.front().file),
                                                fs.front().line);
    return names_[gopc] = {name, id};
  }

 private:
  StackTable& st_;
  std::map<std::vector<uint64_t>, uint64_t> ids_;
  std::map<uint64_t, std::pair<std::string, uint64_t>> names_;
};

}  // namespace

int run_goroutines_watch(const GoroutinesConfig& c) {
  if (c.all || !c.pprof_path.empty() || !c.folded_path.empty() || c.min_wait.count() || !c.states.empty() ||
      !c.reasons.empty()) {
    fmt::print(
        stderr,
        "gotrace goroutines: --watch follows every goroutine by creation site; --all, --pprof, --folded, "
        "--min-wait, --state and --reason are for one snapshot (drop them or --watch)\n");
    return kExitUsage;
  }
  // Check the SVG's path first so that a bad one fails before the watch, not
  // after; the file is written whole at the end (a failed run leaves it).
  if (!check_output("goroutines", "--svg", c.svg_path)) return kExitOutput;
  // With --leaks the target is opened the way the tracing commands open it
  // (TraceContext: probe sites planned, host and rights checked).
  std::optional<TraceContext> tc;
  std::optional<OpenTarget> own;
  Process* proc = nullptr;
  const GoBinary* bin = nullptr;
  uint64_t bias = 0;
  if (c.leaks) {
    // The probe keeper, forked now while gotrace has one thread.
    if (auto keeper = ProbeKeeper::get(); !keeper) {
      fmt::print(stderr, "gotrace: --leaks: {}\n", keeper.error().message);
      return kExitFailure;
    }
    auto ctx = TraceContext::prepare(c.pid, goroutines_probe_table());
    if (!ctx) {
      fmt::print(stderr, "gotrace: --leaks: {}\n", ctx.error().message);
      return kExitFailure;
    }
    tc.emplace(std::move(*ctx));
    proc = &tc->process;
    bin = tc->binary.get();
    bias = tc->load_bias;
  } else {
    // Until the first snapshot is in, only reads: a stop signal ends
    // gotrace at once (util/signals.h).
    exit_on_stop_signal(fmt::format("before the first snapshot of PID {}", c.pid));
    auto t = open_target(c.pid);
    if (!t) {
      fmt::print(stderr, "gotrace: {}\n", t.error().message);
      return kExitFailure;
    }
    own.emplace(std::move(*t));
    proc = &own->process;
    exit_on_stop_signal(fmt::format("before the first snapshot of PID {} ({})", c.pid, proc->comm()));
    bin = own->binary.get();
    bias = own->load_bias;
  }
  const GoBinary& b = *bin;
  if (!b.wait_reasons()) {
    fmt::print(stderr, "gotrace: {}\n", target_failure(*proc, b.wait_reasons().error().message));
    return kExitFailure;
  }
  auto reader = GoroutineReader::create(b, c.pid, bias);
  if (!reader) {
    fmt::print(stderr, "gotrace: {}\n", target_failure(*proc, reader.error().message));
    return kExitFailure;
  }
  reader->set_cancel([] { return stop_signal() != 0; });
  size_t snapshots = 0;
  // Interrupted before the first snapshot: nothing to report.
  auto interrupted_early = [&] {
    fmt::print(stderr, "{}",
               interrupted_line(fmt::format("before the first snapshot of PID {} ({})", c.pid, proc->comm()),
                                stop_signal()));
    return kExitInterrupted;
  };

  StackTable stacks(b.pclntab(), bias);
  SiteNamer namer(stacks);
  GoroutineWatch watch;
  std::unique_ptr<GoroutineProbes> probes;
  if (tc) {
    auto started = GoroutineProbes::start(*tc);
    if (!started) {
      fmt::print(stderr, "gotrace: --leaks: {}\n", started.error().message);
      return kExitFailure;
    }
    probes = std::move(*started);
  }
  // Started in the runtime (runtime.main and coroutines excepted): the
  // runtime's own goroutines, as the snapshot classifies them.
  auto system_start = [&](uint64_t startpc) {
    if (startpc < bias) return false;
    auto fn = b.pclntab().function_at(startpc - bias);
    return fn && fn->name.starts_with("runtime.") && fn->name != "runtime.main" &&
           fn->name != "runtime.corostart";
  };
  auto read_probes = [&] {
    std::map<std::string, SiteProbeCounts> cum;
    for (const ProbedSite& p : probes->sites()) {
      if (!c.system && system_start(p.key.startpc)) continue;
      SiteProbeCounts& s = cum[namer.site_at(p.key.gopc).first];
      s.created += p.counts.created;
      s.exited_new += p.counts.exited_new;
      s.exited_before += p.counts.exited_before;
    }
    watch.add_probe_counts(cum);
  };
  uint64_t left_out = 0;
  std::string ended_by = "-d";
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto next = start;
  if (c.watch_duration.count() == 0)
    fmt::print(stderr, "gotrace: watching PID {} ({}) every {}; Ctrl-C ends and prints\n", c.pid,
               proc->comm(), format_duration(static_cast<uint64_t>(c.watch_interval.count())));
  // Gone, or another program now (an exec, a reused PID): what its memory
  // reads as is no longer the runtime analysed, so the watch ends there.
  std::string identity_note;
  auto target_changed = [&] {
    const Identity id = proc->identity();
    if (id == Identity::Same) return false;
    if (id == Identity::Exited) {
      ended_by = "the target's exit";
    } else {
      ended_by = "the target's exec";
      identity_note = proc->identity_text(id);
      fmt::print(stderr, "gotrace: {}: the watch ended there\n", identity_note);
    }
    return true;
  };
  // Progress on stderr (the report waits for the end): snapshots, the
  // goroutines of the last against the first, and with --leaks the counts.
  StatusLine status(c.status_line);
  size_t first_count = 0, last_count = 0;
  auto show_status = [&] {
    if (!status.due()) return;
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    std::string line =
        fmt::format("{:.0f}s  {} snapshots  {} goroutines ({:+} since the first)", t, snapshots, last_count,
                    static_cast<int64_t>(last_count) - static_cast<int64_t>(first_count));
    if (probes) {
      const Counters n = probes->counters();
      line += fmt::format("  {} created  {} exited", n[GT_CNT_G_CREATED], n[GT_CNT_G_EXITED]);
    }
    status.show(line);
  };
  for (;;) {
    if (stop_signal()) {
      if (!snapshots) return interrupted_early();
      ended_by = "Ctrl-C";
      break;
    }
    if (target_changed()) break;
    auto snap = reader->snapshot();
    if (!snap && reader->cancelled()) {
      if (!snapshots) return interrupted_early();
      ended_by = "Ctrl-C";
      break;
    }
    if (target_changed()) break;  // (read across the change: not kept)
    if (!snap) {
      // A target that is exiting fails the read a moment before it stops
      // looking alive: give it a moment before calling the failure ours.
      for (int i = 0; i < 20 && proc->alive(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!proc->alive() && !snapshots) {
        fmt::print(stderr, "gotrace: {}\n", exited_while_starting(*proc, snap.error().message));
        return kExitFailure;
      }
      if (target_changed()) break;
      fmt::print(stderr, "gotrace: PID {} ({}): {}\n", c.pid, proc->comm(), snap.error().message);
      return kExitFailure;
    }
    left_out += snap->stats.inconsistent + snap->stats.unreadable;
    std::vector<WatchObservation> obs;
    obs.reserve(snap->goroutines.size());
    for (const Goroutine& g : snap->goroutines) {
      if (g.system && !c.system) continue;
      WatchObservation o;
      o.goid = g.goid;
      std::tie(o.site, o.created_by_id) = namer.site(g);
      o.parked = (g.status == GStatus::Waiting || g.status == GStatus::Leaked) && !g.stack.empty();
      if (o.parked) {
        o.park_pc = g.stack.front();
        o.reason = b.wait_reasons()->name(g.wait_reason);
      }
      o.stack_id = namer.intern(g.stack);
      obs.push_back(std::move(o));
    }
    watch.add(snap->monotonic_ns, obs);
    if (probes) read_probes();
    last_count = obs.size();
    if (!snapshots) first_count = last_count;
    // From the first snapshot on, a signal ends the watch with its report.
    if (!snapshots++) defer_stop_signals();
    show_status();

    next += c.watch_interval;
    const auto end = c.watch_duration.count() ? start + c.watch_duration : Clock::time_point::max();
    if (next > end) break;  // -d reached: the last snapshot was taken
    bool stop = false;
    while (Clock::now() < next) {
      if (stop_signal()) break;
      if (target_changed()) {
        stop = true;
        break;
      }
      std::this_thread::sleep_for(
          std::min<Clock::duration>(next - Clock::now(), std::chrono::milliseconds(20)));
    }
    if (stop) break;
  }

  status.clear();
  WatchWriterOptions o;
  if (probes) {
    probes->stop();
    const Counters counts = probes->counters();
    const CounterSpecs specs = goroutines_counters();
    uint64_t lost = total_drops(counts, specs);  // drop_aggregation_full: the sites table was full
    for (const auto& spec : specs) o.probe_counters[std::string(spec.name)] = counts[spec.slot];
    const uint64_t evicted = probes->evicted();
    o.probe_counters["born_evicted"] = evicted;
    if (evicted)
      o.notes.push_back(fmt::format(
          "{} goroutines created during the watch fell out of the table of the {} newest: their exits "
          "count as of goroutines created before, and \"kept\" overstates by up to that many",
          evicted, GoroutineProbes::kBornCapacity));
    if (lost)
      o.notes.push_back(
          fmt::format("{} creations or exits could not be counted (a full table or an unreadable g)", lost));
  }
  if (!identity_note.empty()) o.notes.push_back(identity_note);
  WatchReport rep = watch.report();
  o.top = c.top;
  o.interval_ns = c.watch_interval.count();
  o.ended_by = ended_by;
  o.left_out = left_out;
  o.header = fmt::format("PID {} ({}), {}{}", c.pid, proc->comm(), b.buildinfo().version_string,
                         c.system ? "" : "; the runtime's own goroutines are left out (--system shows them)");
  if (c.json)
    write_watch_json(rep, stacks, std::cout, o);
  else
    write_watch_text(rep, stacks, std::cout, o);
  std::cout.flush();
  const bool stdout_ok = !std::cout.fail();
  const int stdout_errno = errno;
  bool svg_ok = true;
  if (!c.svg_path.empty()) {
    std::ostringstream svg;
    auto r = write_watch_svg(rep, svg, o, c.svg_path);
    if (r) r = write_file_replacing(c.svg_path, svg.str());
    if (!r) {
      fmt::print(stderr, "gotrace: --svg: {}\n", r.error().message);
      svg_ok = false;
    }
  }
  if (!stdout_ok) {
    if (stdout_errno != EPIPE)
      fmt::print(stderr, "gotrace: writing the report failed: {}\n", std::strerror(stdout_errno));
    return kExitOutput;
  }
  return svg_ok ? kExitOk : kExitOutput;
}

}  // namespace gotrace
