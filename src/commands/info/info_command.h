// `gotrace info`: analyses a binary (or a process's) and says, for each
// tracing command's probe table, whether it can run here.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>

#include "gotrace/probes/probe_table.h"

namespace gotrace {

struct InfoConfig {
  std::optional<pid_t> pid;
  std::string binary;  // --binary PATH (static analysis only)
  bool json = false;
};

int run_info(const InfoConfig& config, std::span<const ProbeTable* const> tables);

}  // namespace gotrace
