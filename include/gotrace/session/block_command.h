// gotrace block: where goroutines wait, why, how long, and who woke them.
#pragma once

#include <string>
#include <vector>

#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_config.h"

namespace gotrace {

struct BlockConfig {
  TraceConfig trace;
  std::vector<std::string> reasons;  // categories or runtime names; empty: default set
};

const ProbeTable& block_probe_table();
int run_block(const BlockConfig& config);

}  // namespace gotrace
