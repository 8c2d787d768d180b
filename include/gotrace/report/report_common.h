// What every command's writers share: durations, the trace summary, and Go
// stacks for people (the user's frame first) and for machines.
#pragma once

#include <ostream>
#include <string>

#include "gotrace/model/histogram.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/model/trace_summary.h"
#include "gotrace/report/json_writer.h"

namespace gotrace {

std::string format_duration(uint64_t ns);  // "1.23s", "45.6ms", "789µs", "12ns"
void write_summary_text(const TraceSummary& s, std::ostream& out);
// "Cost to the target: ~X of CPU (Y% of …): N probe hits, …" (nothing when unknown).
void write_cost_text(const TraceCost& c, std::ostream& out);
// pid, comm, go_version, duration_s, stopped_by, target_alive,
// probes_attached, events, dropped, counters, notes (inside an open object).
void write_summary_json_fields(JsonWriter& j, const TraceSummary& s);

// "main.worker" (the first user frame) and "via runtime.chanrecv1" (the
// standard-library call it was in).
struct StackSummary {
  const Frame* user = nullptr;
  const Frame* via = nullptr;
};
StackSummary summarize(StackTable& st, uint64_t id);
// "main.worker (/src/demo/main.go:55) via sync.(*Mutex).Lock"
std::string stack_label(StackTable& st, uint64_t stack_id);
// The stack from just above the user's frame, at most max_frames.
void print_stack(StackTable& st, uint64_t id, std::ostream& out, size_t max_frames, const char* indent);
// What the runtime was doing when it woke a goroutine with no user goroutine
// of its own (a timer, the GC, the scheduler).
std::string runtime_waker(StackTable& st, uint64_t stack_id);
// [{func, file, line, inlined?}, …], innermost first.
void write_stack_json(JsonWriter& j, StackTable& st, uint64_t id);

}  // namespace gotrace
