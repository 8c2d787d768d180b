#include "gotrace/cli/cli.h"

#include <vector>

#include "gotrace/cli/cli_command.h"
#include "gotrace/cli/config.h"
#include "gotrace/cli/info.h"
#include "gotrace/util/log.h"

// The tracing commands, in the order `--help` lists them. Adding a command:
// one entry here, and its src/cli/<cmd>_cli.cpp defining <cmd>_cli().
#define GOTRACE_TRACING_COMMANDS(X) \
  X(block)                          \
  X(lock)                           \
  X(alloc)                          \
  X(goroutines)

namespace gotrace::cli {

#define GOTRACE_DECLARE(cmd) CliCommand cmd##_cli();
GOTRACE_TRACING_COMMANDS(GOTRACE_DECLARE)
#undef GOTRACE_DECLARE

namespace {

std::vector<CliCommand> tracing_commands() {
#define GOTRACE_ENTRY(cmd) cmd##_cli(),
  return {GOTRACE_TRACING_COMMANDS(GOTRACE_ENTRY)};
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
  CLI::App app{
      "gotrace: look inside a running, unmodified Go program with eBPF.\n"
      "Where goroutines wait, which locks they fight over and who holds them, what allocates,\n"
      "and every goroutine it has. Commands: info, block, lock, alloc, goroutines."};
  app.footer(kExitCodes);
  app.set_version_flag("--version", std::string("gotrace ") + GOTRACE_VERSION);
  app.require_subcommand(1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "more diagnostics on stderr (-vv for libbpf's)");

  InfoConfig info;
  auto* info_cmd = app.add_subcommand(
      "info",
      "what gotrace sees in a Go binary (version, layout, probe sites) and whether it can trace it here");
  auto* pid = info_cmd->add_option("-p,--pid", info.pid, "PID of the running Go program")
                  ->check(decimal_number(true));
  auto* bin =
      info_cmd->add_option("-b,--binary", info.binary, "a Go executable on disk (static analysis only)")
          ->check(CLI::ExistingFile);
  pid->excludes(bin);
  bin->excludes(pid);
  info_cmd->add_option("path", info.binary, "a Go executable (same as --binary)")->check(CLI::ExistingFile);
  info_cmd->add_flag("--json", info.json, "machine-readable output");

  std::vector<CliCommand> commands = tracing_commands();
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  std::vector<const ProbeTable*> tables;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(std::string(c.name), c.description);
    runners.emplace_back(sub, c.setup(*sub));
    if (c.probes) tables.push_back(c.probes);
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

  if (info_cmd->parsed()) {
    if (info.pid && *info.pid <= 0) {
      fmt::print(stderr, "gotrace info: bad --pid {} (a process ID is a positive number)\n", *info.pid);
      return kExitUsage;
    }
    if (!info.pid && info.binary.empty()) {
      fmt::print(stderr, "gotrace info: give a target: -p PID or --binary PATH\n");
      return kExitUsage;
    }
    return run_info(info, tables);
  }
  for (auto& [sub, run] : runners)
    if (sub->parsed()) return run();
  return kExitUsage;
}

}  // namespace gotrace::cli
