#include "gotrace/app/cli.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "gotrace/cli/cli_command.h"
#include "gotrace/util/log.h"

// Every command, in the order `--help` lists them. Adding a command: one
// entry here, and its folder src/commands/<cmd>/ with <cmd>_cli.cpp
// defining <cmd>_cli().
#define GOTRACE_COMMANDS(X) \
  X(info)                   \
  X(block)                  \
  X(lock)                   \
  X(alloc)                  \
  X(goroutines)             \
  X(sched)

namespace gotrace::cli {

#define GOTRACE_DECLARE(cmd) CliCommand cmd##_cli();
GOTRACE_COMMANDS(GOTRACE_DECLARE)
#undef GOTRACE_DECLARE

namespace {

std::vector<CliCommand> all_commands() {
#define GOTRACE_ENTRY(cmd) cmd##_cli(),
  return {GOTRACE_COMMANDS(GOTRACE_ENTRY)};
#undef GOTRACE_ENTRY
}

constexpr const char* kExitCodes =
    "Exit codes: 0 the report was printed (also after Ctrl-C or the target's exit); 1 the target or host "
    "cannot be "
    "traced, or tracing failed; 2 bad command line; 3 the report or a profile could not be written; 130 "
    "interrupted "
    "before tracing began.";

}  // namespace

int main(int argc, char** argv) {
  std::vector<CliCommand> commands = all_commands();
  std::string names;
  for (const auto& c : commands) names += (names.empty() ? "" : ", ") + std::string(c.name);
  CLI::App app{
      "gotrace: look inside a running, unmodified Go program with eBPF.\n"
      "Where goroutines wait, which locks they fight over and who holds them, what allocates,\n"
      "and every goroutine it has. Commands: " +
      names + "."};
  app.footer(kExitCodes);
  app.set_version_flag("--version", std::string("gotrace ") + GOTRACE_VERSION);
  app.require_subcommand(1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "more diagnostics on stderr (-vv for libbpf's)");

  // The probe tables of the tracing commands (what `info` checks), before
  // any command is set up.
  std::vector<const ProbeTable*> tables;
  for (const auto& c : commands)
    if (c.probes) tables.push_back(c.probes);
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(std::string(c.name), c.description);
    runners.emplace_back(sub, c.setup(*sub, tables));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message
    return kExitUsage;
  }
  setup_logging(verbosity);

  for (auto& [sub, run] : runners)
    if (sub->parsed()) return run();
  return kExitUsage;
}

}  // namespace gotrace::cli
