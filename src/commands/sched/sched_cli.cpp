#include <memory>

#include "commands/sched/sched_command.h"
#include "gotrace/cli/cli_command.h"

namespace gotrace::cli {

CliCommand sched_cli() {
  CliCommand c;
  c.name = "sched";
  c.description =
      "where goroutines wait to run: Go's run queue by code site, the kernel's share, the CPU quota's "
      "throttling, stop-the-world pauses (Ctrl-C ends and prints)";
  c.probes = &sched_probe_table();
  c.setup = [](CLI::App& sub, std::span<const ProbeTable* const>) {
    auto config = std::make_shared<SchedConfig>();
    auto opts = std::make_shared<TraceOptions>();
    opts->add_to(sub, config->trace, /*waits=*/true);
    sub.add_flag(
        "--exact", config->exact,
        "time every runnable-to-running transition (not the runtime's 1 in 8) from the sites that make "
        "goroutines runnable, and split each goroutine's time into running, runnable (Go's queue, the "
        "kernel's), in system calls and parked, by start function: probes on gopark, ready, execute and "
        "the scheduler's paths, a few traps per goroutine switch; for short traces (over --max-overhead "
        "the governor falls back)");
    sub.footer(
        "Cost: one probe at runtime.execute, hit at every goroutine switch (~1.5 µs each measured on a KVM "
        "guest; "
        "the report states it for its host); untracked switches return after one read. Latency is timed for "
        "the transitions the runtime itself tracks (1 in 8), counts and totals scaled by 8. The kernel's "
        "side "
        "comes from the sched_switch and sched_wakeup tracepoints (no trap).\n" +
        sub.get_footer());
    return std::function<int()>([config, opts] {
      if (!opts->finish("sched", config->trace)) return kExitUsage;
      return run_sched(*config);
    });
  };
  return c;
}

}  // namespace gotrace::cli
