#include <fmt/format.h>

#include <memory>

#include "commands/block/block_command.h"
#include "gotrace/cli/cli_command.h"
#include "gotrace/util/duration.h"

namespace gotrace::cli {

namespace {
// "" (--sample alone): 49 Hz, off the beat of round-number periodic work.
double parse_sample_hz(const std::string& s) {
  if (s.empty()) return 49;
  auto hz = parse_decimal(s);  // "0x10" is not 16
  return hz && *hz >= 1 && *hz <= 1000 ? *hz : 0;
}
}  // namespace

CliCommand block_cli() {
  CliCommand c;
  c.name = "block";
  c.description = "where goroutines wait, why, for how long, and who woke them (Ctrl-C ends and prints)";
  c.probes = &block_probe_table();
  c.setup = [](CLI::App& sub, std::span<const ProbeTable* const>) {
    auto config = std::make_shared<BlockConfig>();
    auto opts = std::make_shared<TraceOptions>();
    opts->add_to(sub, config->trace, /*waits=*/true);
    sub.add_option(
           "--reason", config->reasons,
           "only these wait reasons: chan, select, mutex, cond, waitgroup, sema, io, sleep, gc, all, "
           "or runtime names (\"chan receive\"); default: all but the runtime's idle background waits")
        ->delimiter(',');
    auto sample = std::make_shared<std::string>();
    CLI::Option* sample_opt =
        sub.add_option(
               "--sample", *sample,
               "no probes: sample every goroutine's state HZ times a second (default 49) and estimate "
               "goroutine-time blocked; no wakers or per-wait durations")
            ->expected(0, 1);
    return std::function<int()>([config, opts, sample, sample_opt] {
      if (!opts->finish("block", config->trace) || !check_list("block", "--reason", config->reasons))
        return kExitUsage;
      if (sample_opt->count() > 0) {
        config->sample_hz = parse_sample_hz(*sample);
        if (config->sample_hz <= 0) {
          fmt::print(stderr, "gotrace block: bad --sample '{}' (a rate in Hz, 1 to 1000)\n", *sample);
          return kExitUsage;
        }
        return run_block_sample(*config);
      }
      return run_block(*config);
    });
  };
  return c;
}

}  // namespace gotrace::cli
