#include <fmt/format.h>

#include <memory>

#include "commands/info/info_command.h"
#include "gotrace/cli/cli_command.h"

namespace gotrace::cli {

CliCommand info_cli() {
  CliCommand c;
  c.name = "info";
  c.description =
      "what gotrace sees in a Go binary (version, layout, probe sites) and whether it can trace it here";
  c.setup = [](CLI::App& sub, std::span<const ProbeTable* const> tables) {
    auto info = std::make_shared<InfoConfig>();
    auto* pid =
        sub.add_option("-p,--pid", info->pid, "PID of the running Go program")->check(decimal_number(true));
    auto* bin = sub.add_option("-b,--binary", info->binary, "a Go executable on disk (static analysis only)")
                    ->check(CLI::ExistingFile);
    pid->excludes(bin);
    bin->excludes(pid);
    sub.add_option("path", info->binary, "a Go executable (same as --binary)")->check(CLI::ExistingFile);
    sub.add_flag("--json", info->json, "machine-readable output");
    return std::function<int()>([info, tables] {
      if (info->pid && *info->pid <= 0) {
        fmt::print(stderr, "gotrace info: bad --pid {} (a process ID is a positive number)\n", *info->pid);
        return kExitUsage;
      }
      if (!info->pid && info->binary.empty()) {
        fmt::print(stderr, "gotrace info: give a target: -p PID or --binary PATH\n");
        return kExitUsage;
      }
      return run_info(*info, tables);
    });
  };
  return c;
}

}  // namespace gotrace::cli
