// gotrace sched: where goroutines wait to run once runnable — Go's run
// queue, the kernel, the CPU quota, the world's stops — by code site.
#pragma once

#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_config.h"

namespace gotrace {

struct SchedConfig {
  TraceConfig trace;
  // Every runnable moment from the sites that make goroutines runnable, and
  // each goroutine's time split by state (probes on gopark, ready and the
  // scheduler's paths: a trap per goroutine switch each).
  bool exact = false;
};

const ProbeTable& sched_probe_table();
int run_sched(const SchedConfig& config);

}  // namespace gotrace
