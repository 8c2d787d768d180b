#include "commands/info/info_command.h"

#include <fmt/format.h>

#include <iostream>

#include "commands/info/info_report.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/host/features.h"
#include "gotrace/session/open_target.h"
#include "gotrace/session/trace_config.h"
#include "gotrace/target/code_check.h"
#include "gotrace/target/process.h"

namespace gotrace {

int run_info(const InfoConfig& config, std::span<const ProbeTable* const> tables) {
  std::optional<OpenTarget> target;
  std::unique_ptr<GoBinary> file;
  if (config.pid) {
    auto t = open_target(*config.pid, NeedBias::No);
    if (!t) {
      fmt::print(stderr, "gotrace: {}\n", t.error().message);
      return kExitFailure;
    }
    target.emplace(std::move(*t));
  } else {
    auto b = GoBinary::open(config.binary);
    if (!b) {
      fmt::print(stderr, "gotrace: {}\n", b.error().message);
      return kExitFailure;
    }
    file = std::move(*b);
  }
  const GoBinary& binary = target ? *target->binary : *file;
  const Process* process = target ? &target->process : nullptr;
  // A file alone needs no uprobe self-test (on a loaded host it took most
  // of `info --binary`'s 20 s): what only uprobes tell is left unknown.
  InfoReport report =
      build_info_report(binary, probe_host(process ? HostCheck::Full : HostCheck::NoUprobes), tables);
  if (process) {
    report.pid = process->pid();
    report.comm = process->comm_exact();
    report.path = process->exe_target();
    report.alive = process->alive();
    if (target->has_load_bias) {
      report.load_bias = target->load_bias;
      report.code = compare_code_with_file(process->pid(), binary.elf(), target->load_bias);
    }
  }
  if (config.json)
    write_info_json(report, std::cout);
  else
    write_info_text(report, std::cout);
  return kExitOk;
}

}  // namespace gotrace
