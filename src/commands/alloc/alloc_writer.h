// Writers for AllocReport: a text report for people, JSON for machines.
#pragma once

#include <ostream>

#include "commands/alloc/alloc_report.h"
#include "gotrace/report/profile_writers.h"

namespace gotrace {

struct AllocWriterOptions {
  size_t top = 10;
  size_t max_frames = 12;  // per stack in text output
  size_t large_top = 5;
  size_t maps_top = 10;
  size_t gc_top = 10;   // GC cycles listed in text: those with the longest pauses
  bool gc_all = false;  // --gc-cycles: every one
};

// "every map write pays a probe trap: ~1.2µs per write here (…)": the
// --map-writes cost line, from the trace's own measured cost.
std::string map_write_cost(const TraceCost& cost);

// "12.3 MiB", "512 B"
std::string format_bytes(double bytes);

void write_alloc_text(AllocReport& report, std::ostream& out, const AllocWriterOptions& options);
// The summary fields of every command, then sampler, rate, total_bytes,
// total_objects, samples, target_alloc_bytes, entries [{stack, type, bytes,
// objects, samples}] (by bytes), large [{stack, type, count, bytes,
// max_bytes}], maps [{map_type, stack, growths, max_len}], gc [{trigger,
// heap_live, heap_goal, pauses_ns, pause_reasons}].
void write_alloc_json(AllocReport& report, std::ostream& out, const AllocWriterOptions& options);

// Samples alloc_objects/count and alloc_space/bytes, as in Go's heap
// profile (so `go tool pprof -sample_index=alloc_space` works), per (stack,
// type, slot size), labelled with the type; estimates rounded to whole
// objects and bytes. Build the report with AllocGroupBy::Stack: grouped rows
// carry only an example stack.
ProfileData alloc_profile(AllocReport& report, const std::string& binary);

}  // namespace gotrace
