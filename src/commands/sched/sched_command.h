// gotrace sched: where goroutines wait to run once runnable — Go's run
// queue, the kernel, the CPU quota, the world's stops — by code site.
#pragma once

#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_config.h"

namespace gotrace {

struct SchedConfig {
  TraceConfig trace;
};

const ProbeTable& sched_probe_table();
int run_sched(const SchedConfig& config);

}  // namespace gotrace
