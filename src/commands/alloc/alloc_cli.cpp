#include <memory>

#include "commands/alloc/alloc_command.h"
#include "gotrace/cli/cli_command.h"

namespace gotrace::cli {

CliCommand alloc_cli() {
  CliCommand c;
  c.name = "alloc";
  c.description =
      "what allocates, how much, of which type; large objects, map growth, and what drives GC (Ctrl-C ends "
      "and "
      "prints)";
  c.probes = &alloc_probe_table();
  c.setup = [](CLI::App& sub, std::span<const ProbeTable* const>) {
    auto config = std::make_shared<AllocConfig>();
    auto opts = std::make_shared<TraceOptions>();
    opts->add_to(sub, config->trace, /*waits=*/false);
    sub.add_option("--by", config->by,
                   "group the hotspots by stack, function, package or type (default: stack)");
    sub.add_flag("--gc-cycles", config->gc_cycles,
                 "list every GC cycle (default: a summary and the 10 cycles that paused longest)");
    sub.add_flag("--maps", config->maps,
                 "also trace map growth (a table's growth and rehash; not a new map's first insert): a few "
                 "events per map that grows; the governor stops it where maps grow all the time");
    sub.add_flag(
        "--map-writes", config->map_writes,
        "count every map assignment (m[k] = v) by stack and map type, exactly: every write pays a "
        "probe trap, measured at ~1.5 µs per write (scripts/bench-overhead.sh, 2-vCPU VM, 2026-12-01; the "
        "report states it for its host); for short traces (over --max-overhead the governor stops it)");
    sub.add_flag("--exact", config->exact,
                 "probe every allocation (runtime.mallocgc) instead of sampling: exact counts, but every "
                 "allocation pays a probe trap; for short traces");
    return std::function<int()>([config, opts] {
      if (!opts->finish("alloc", config->trace)) return kExitUsage;
      return run_alloc(*config);
    });
  };
  return c;
}

}  // namespace gotrace::cli
