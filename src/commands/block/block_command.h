// gotrace block: where goroutines wait, why, how long, and who woke them.
#pragma once

#include <string>
#include <vector>

#include "gotrace/model/trace_summary.h"
#include "gotrace/probes/probe_table.h"
#include "gotrace/session/outputs.h"
#include "gotrace/session/trace_config.h"

namespace gotrace {

struct BlockConfig {
  TraceConfig trace;
  std::vector<std::string> reasons;  // categories or runtime names; empty: default set
  double sample_hz = 0;              // > 0: --sample, no probes (run_block_sample)
};

const ProbeTable& block_probe_table();
int run_block(const BlockConfig& config);
// block --sample: scans every goroutine's state at config.sample_hz instead
// of probing (block_sample.cpp). carried: what an earlier way of
// tracing hands on to the report (the overhead governor's record, notes);
// earlier: that way's own report, printed instead when a signal ends the
// sampling before it covered as much time.
int run_block_sample(const BlockConfig& config, const TraceSummary* carried = nullptr,
                     const RenderedReport* earlier = nullptr);

}  // namespace gotrace
