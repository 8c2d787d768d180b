// gotrace alloc: what allocates, how much, of which type; every large
// object; map growth; the GC cycles of the trace and what drove them.
#pragma once

#include <string>

#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_config.h"

namespace gotrace {

struct AllocConfig {
  TraceConfig trace;
  std::string by = "stack";  // stack | function | package | type
  bool maps = false;         // map growth probes
  bool exact = false;        // every mallocgc call (costly)
  bool map_writes = false;   // every map assignment, runtime.mapassign* (costly)
  bool gc_cycles = false;    // list every GC cycle in the text (not only the 10 longest pauses)
};

const ProbeTable& alloc_probe_table();
int run_alloc(const AllocConfig& config);

}  // namespace gotrace
