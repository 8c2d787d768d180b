#include "gotrace/cli/cli_command.h"
#include "gotrace/session/block_command.h"

#include <memory>

namespace gotrace::cli {

CliCommand block_cli() {
  CliCommand c;
  c.name = "block";
  c.description = "where goroutines wait, why, for how long, and who woke them (Ctrl-C ends and prints)";
  c.probes = &block_probe_table();
  c.setup = [](CLI::App& sub) {
    auto config = std::make_shared<BlockConfig>();
    auto opts = std::make_shared<TraceOptions>();
    opts->add_to(sub, config->trace);
    sub.add_option("--reason", config->reasons,
                   "only these wait reasons: chan, select, mutex, cond, waitgroup, sema, io, sleep, gc, all, "
                   "or runtime names (\"chan receive\"); default: all but the runtime's idle background waits")
        ->delimiter(',');
    return std::function<int()>([config, opts] {
      if (!opts->finish("block", config->trace) || !check_list("block", "--reason", config->reasons))
        return kExitUsage;
      return run_block(*config);
    });
  };
  return c;
}

}  // namespace gotrace::cli
