#include <memory>

#include "commands/lock/lock_command.h"
#include "gotrace/cli/cli_command.h"

namespace gotrace::cli {

CliCommand lock_cli() {
  CliCommand c;
  c.name = "lock";
  c.description =
      "contended sync.Mutex/RWMutex/WaitGroup/Cond: who waited, who held the lock (the goroutine whose "
      "release "
      "handed it over), and what the holder was itself blocked on meanwhile (Ctrl-C ends and prints). Only "
      "contended acquisitions are seen: the uncontended fast path is inlined into the program and costs "
      "nothing";
  c.probes = &lock_probe_table();
  c.setup = [](CLI::App& sub, std::span<const ProbeTable* const>) {
    auto config = std::make_shared<LockConfig>();
    auto opts = std::make_shared<TraceOptions>();
    opts->add_to(sub, config->trace, /*waits=*/true);
    sub.add_option(
           "--kind", config->kinds,
           "only these kinds: mutex, rwmutex-r, rwmutex-w, waitgroup, cond, runtime (the runtime's internal "
           "locks; costs more), all; default: all but runtime")
        ->delimiter(',');
    sub.add_flag("--by-lock", config->by_lock,
                 "one entry per lock address (with its variable name when known)");
    sub.add_flag("!--no-chains", config->chains,
                 "do not follow every goroutine wait (cheaper; no 'while it held the lock' links)");
    return std::function<int()>([config, opts] {
      if (!opts->finish("lock", config->trace) || !check_list("lock", "--kind", config->kinds))
        return kExitUsage;
      return run_lock(*config);
    });
  };
  return c;
}

}  // namespace gotrace::cli
