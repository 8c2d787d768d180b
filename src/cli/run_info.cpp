#include <fmt/format.h>

#include <iostream>

#include "gotrace/cli/info.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/host/features.h"
#include "gotrace/report/info_report.h"
#include "gotrace/session/trace_config.h"
#include "gotrace/target/code_check.h"
#include "gotrace/target/process.h"

namespace gotrace {

int run_info(const InfoConfig& config, std::span<const ProbeTable* const> tables) {
  std::optional<Process> process;
  std::string path = config.binary;
  if (config.pid) {
    auto p = Process::open(*config.pid);
    if (!p) {
      fmt::print(stderr, "gotrace: {}\n", p.error().message);
      return kExitFailure;
    }
    process = std::move(*p);
    path = process->exe_link();
  }
  auto binary = GoBinary::open(path);
  if (!binary) {
    if (process)
      fmt::print(stderr, "gotrace: PID {} ({}): {}\n", process->pid(), process->comm(),
                 binary.error().message);
    else
      fmt::print(stderr, "gotrace: {}\n", binary.error().message);
    return kExitFailure;
  }
  // A file alone needs no uprobe self-test (on a loaded host it took most
  // of `info --binary`'s 20 s): what only uprobes tell is left unknown.
  InfoReport report =
      build_info_report(**binary, probe_host(process ? HostCheck::Full : HostCheck::NoUprobes), tables);
  if (process) {
    report.pid = process->pid();
    report.comm = process->comm_exact();
    report.path = process->exe_target();
    report.alive = process->alive();
    if (auto bias = process->load_bias((*binary)->elf())) {
      report.load_bias = *bias;
      report.code = compare_code_with_file(process->pid(), (*binary)->elf(), *bias);
    }
  }
  if (config.json)
    write_info_json(report, std::cout);
  else
    write_info_text(report, std::cout);
  return kExitOk;
}

}  // namespace gotrace
