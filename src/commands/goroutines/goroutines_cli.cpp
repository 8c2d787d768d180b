#include <fmt/format.h>

#include <limits>
#include <memory>

#include "commands/goroutines/goroutine_probes.h"
#include "commands/goroutines/goroutines_command.h"
#include "gotrace/cli/cli_command.h"
#include "gotrace/util/duration.h"

namespace gotrace::cli {

// `goroutines` reads the target's memory and does not use the tracing
// runner; only --watch --leaks attaches probes (its table is the one `info`
// checks).
CliCommand goroutines_cli() {
  CliCommand c;
  c.name = "goroutines";
  c.description =
      "every goroutine of a running program, grouped by state, wait reason, stack and creation site, read "
      "from its "
      "memory without stopping it (no BPF; needs the rights gdb would)";
  c.probes = &goroutines_probe_table();
  c.setup = [](CLI::App& sub, std::span<const ProbeTable* const>) {
    struct Raw {
      GoroutinesConfig config;
      long long pid = 0;
      long long top = 20;
      std::string min_wait;
      std::string watch;
      std::string duration;
      // Given at all: an empty value is a wrong value, not a missing option.
      CLI::Option* min_wait_opt = nullptr;
      CLI::Option* watch_opt = nullptr;
      CLI::Option* duration_opt = nullptr;
    };
    auto raw = std::make_shared<Raw>();
    sub.add_option("-p,--pid", raw->pid, "PID of the running Go program")
        ->required()
        ->check(decimal_number(true));
    sub.add_flag("--all", raw->config.all, "one entry per goroutine, like the runtime's own dump");
    sub.add_option("--top", raw->top, "how many groups to show (0: all)")
        ->capture_default_str()
        ->check(decimal_number(true));
    raw->min_wait_opt = sub.add_option(
        "--min-wait", raw->min_wait,
        "only goroutines known to have waited at least this long (1m, 30s; from the GC's coarse stamp)");
    sub.add_option("--state", raw->config.states,
                   "only these states: runnable, running, syscall, waiting, preempted, leaked")
        ->delimiter(',');
    sub.add_option("--reason", raw->config.reasons,
                   "only these wait reasons (runtime names: \"chan receive\", select, …)")
        ->delimiter(',');
    sub.add_flag("--system", raw->config.system, "also the runtime's own goroutines (GC workers, …)");
    sub.add_flag("--json", raw->config.json, "machine-readable output on stdout");
    sub.add_option("--pprof", raw->config.pprof_path,
                   "also write a goroutine profile here (go tool pprof FILE)");
    sub.add_option("--folded", raw->config.folded_path,
                   "also write folded stacks here (flamegraph.pl FILE > out.svg)");
    raw->watch_opt =
        sub.add_option("--watch", raw->watch,
                       "take a snapshot every INTERVAL (1s, 250ms) and follow goroutines by creation site: "
                       "a heat map of live goroutines and the leak suspects");
    raw->duration_opt = sub.add_option("-d,--duration", raw->duration,
                                       "watch for this long (alone: --watch 1s; default: until Ctrl-C)");
    sub.add_option("--svg", raw->config.svg_path, "with --watch: also write the heat map as an SVG here");
    sub.add_flag("!--no-status", raw->config.status_line, "with --watch: no live status line on stderr");
    sub.add_flag("--leaks", raw->config.leaks,
                 "with --watch: count every goroutine created and exited per site, exactly, with two probes "
                 "(needs BPF rights)");
    return std::function<int()>([raw] {
      GoroutinesConfig& cfg = raw->config;
      if (!check_pid("goroutines", raw->pid, cfg.pid) || !check_top("goroutines", raw->top, 0, cfg.top))
        return kExitUsage;
      if (raw->min_wait_opt->count() > 0) {
        auto d = parse_duration(raw->min_wait);
        if (!d) {
          fmt::print(stderr, "gotrace goroutines: bad --min-wait '{}' (examples: 30s, 5m)\n", raw->min_wait);
          return kExitUsage;
        }
        cfg.min_wait = *d;
      }
      if (raw->watch_opt->count() > 0) {
        auto d = parse_duration(raw->watch);
        if (!d || d->count() < 10'000'000) {
          fmt::print(stderr,
                     "gotrace goroutines: bad --watch '{}' (an interval of at least 10ms: 1s, 250ms)\n",
                     raw->watch);
          return kExitUsage;
        }
        cfg.watch_interval = *d;
      }
      if (raw->duration_opt->count() > 0) {
        std::chrono::milliseconds d{};
        if (!check_duration("goroutines", raw->duration, d)) return kExitUsage;
        // -d alone means "observe for this long": a watch at the default
        // interval (a snapshot has no length).
        if (raw->watch_opt->count() == 0) cfg.watch_interval = std::chrono::seconds(1);
        cfg.watch_duration = d;
      }
      if (!cfg.svg_path.empty() && cfg.watch_interval.count() == 0) {
        fmt::print(stderr, "gotrace goroutines: --svg draws the heat map of a --watch (add --watch 1s)\n");
        return kExitUsage;
      }
      if (cfg.leaks && cfg.watch_interval.count() == 0) {
        fmt::print(stderr, "gotrace goroutines: --leaks counts goroutines over a --watch (add --watch 1s)\n");
        return kExitUsage;
      }
      if (!check_list("goroutines", "--state", cfg.states) ||
          !check_list("goroutines", "--reason", cfg.reasons))
        return kExitUsage;
      return run_goroutines(cfg);
    });
  };
  return c;
}

}  // namespace gotrace::cli
