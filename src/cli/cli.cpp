#include "gotrace/cli/cli.h"

#include "gotrace/cli/commands.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace gotrace::cli {

namespace {

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_color_st("gotrace");
  logger->set_pattern("gotrace: %^%l%$: %v");
  logger->set_level(verbosity >= 2 ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void add_target_options(CLI::App* cmd, TargetConfig& t, bool allow_binary) {
  auto* pid = cmd->add_option("-p,--pid", t.pid, "PID of the running Go program");
  if (allow_binary) {
    auto* bin = cmd->add_option("-b,--binary", t.binary, "a Go executable on disk (static analysis only)");
    pid->excludes(bin);
    bin->excludes(pid);
    bin->check(CLI::ExistingFile);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "gotrace: look inside a running, unmodified Go program with eBPF.\n"
      "Where goroutines wait, which locks they fight over, who holds them, what allocates."};
  app.set_version_flag("--version", std::string("gotrace ") + GOTRACE_VERSION);
  app.require_subcommand(1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "more diagnostics on stderr (-vv for libbpf's)");

  InfoConfig info;
  auto* info_cmd = app.add_subcommand(
      "info", "what gotrace sees in a Go binary (version, layout, probe sites) and whether it can trace it here");
  add_target_options(info_cmd, info.target, true);
  info_cmd->add_option("path", info.target.binary, "a Go executable (same as --binary)")->check(CLI::ExistingFile);
  info_cmd->add_flag("--json", info.json, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  setup_logging(verbosity);

  if (info_cmd->parsed()) {
    if (!info.target.pid && info.target.binary.empty()) {
      fmt::print(stderr, "gotrace info: give a target: -p PID or --binary PATH\n");
      return kExitUsage;
    }
    return run_info(info);
  }
  return kExitUsage;
}

}  // namespace gotrace::cli
