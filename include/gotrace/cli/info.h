// `gotrace info`: analyses a binary (or a process's) and says, for each
// tracing command's probe table, whether it can run here.
#pragma once

#include <span>

#include "gotrace/cli/config.h"
#include "gotrace/probes/probe_table.h"

namespace gotrace {

int run_info(const InfoConfig& config, std::span<const ProbeTable* const> tables);

}  // namespace gotrace
