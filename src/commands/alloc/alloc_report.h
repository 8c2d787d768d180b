// The result of `gotrace alloc`: estimated allocation by site and type, every
// large object, map growth, and the GC cycles of the trace with what drove
// them. Writers (alloc_writer.h) format it; nothing here touches BPF.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gotrace/model/histogram.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/model/stw_pauses.h"
#include "gotrace/model/trace_summary.h"

namespace gotrace {

// Which probe produced the allocation samples.
enum class AllocSampler : uint8_t {
  Profilealloc,  // the runtime's own samples (MemProfileRate > 0): unsampled like pprof
  Refill,        // span refills: one sample per span handed to a P, weighted by the span's bytes
  Exact,         // every mallocgc call (--exact)
};
std::string_view sampler_name(AllocSampler s);  // "profilealloc", "refill", "exact"

enum class AllocGroupBy : uint8_t { Stack, Function, Package, Type };
std::string_view group_by_name(AllocGroupBy b);
std::optional<AllocGroupBy> parse_group_by(std::string_view name);

// One row of the hotspot table. For --by stack a (stack, type, slot size)
// aggregate; otherwise the sum over every stack with the same key, with the
// stack that contributed most as an example.
struct AllocEntry {
  std::string key;           // function / package / type for grouped views; "" for --by stack
  uint64_t stack_id = 0;     // the stack (or the example stack)
  std::string type;          // "" when the runtime had no type (pointer-free runtime allocations)
  bool mixed_types = false;  // a grouped row whose stacks allocated several types
  uint64_t slot_size = 0;    // size-class slot when known (profilealloc, refill); 0 otherwise
  double bytes = 0;          // estimated bytes allocated during the trace
  double objects = 0;        // estimated objects
  uint64_t samples = 0;      // probe hits behind the estimate
};

struct LargeEntry {
  uint64_t stack_id = 0;
  std::string type;
  bool noscan = false;
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t max_bytes = 0;
  uint64_t max_goid = 0;
  Log2Histogram hist;  // log2(bytes)
};

struct MapGrowthEntry {
  uint64_t stack_id = 0;
  std::string map_type;  // "map[string]*main.T" ("" when the type did not decode)
  uint64_t growths = 0;  // every growth event (hashGrow / growToSmall / growToTable / rehash)
  uint64_t max_len = 0;  // entries the map held when it last grew
};

// Map assignments (--map-writes), every one. For --by stack one row per
// (stack, map type); for --by function/package per (that key, map type) with
// the stack that wrote most as an example; for --by type per map type.
struct MapWriteEntry {
  std::string key;        // function / package for grouped views; "" otherwise
  uint64_t stack_id = 0;  // the stack (or the example stack)
  std::string map_type;   // "map[string]*main.T" ("" when the type did not decode)
  uint64_t writes = 0;
  uint64_t max_len = 0;  // the most entries a map held when one of these writes began
};

struct GcDriver {
  uint64_t stack_id = 0;
  std::string type;
  double bytes = 0;
};

struct GcCycle {
  uint64_t number = 0;  // the runtime's own count, the N of gctrace's "gc N" (0: unknown)
  uint64_t t_ns = 0;    // when the cycle started (startCycle), monotonic
  std::string trigger;  // "heap", "time", "forced", "unknown"
  std::optional<uint64_t> heap_live, heap_marked, heap_goal;  // read when the cycle's last pause ended
  std::vector<StwPause> pauses;
  std::vector<GcDriver> drivers;  // top allocation sites since the previous cycle
};

struct AllocReport {
  TraceSummary summary;
  AllocSampler sampler = AllocSampler::Profilealloc;
  int64_t rate = 0;            // MemProfileRate the target ran with
  std::string sampler_detail;  // how the estimate was made, in one line
  AllocGroupBy by = AllocGroupBy::Stack;
  double total_bytes = 0, total_objects = 0;
  uint64_t total_samples = 0;
  std::vector<AllocEntry> entries;  // by bytes, descending
  std::vector<LargeEntry> large;    // by bytes, descending
  uint64_t large_count = 0, large_bytes = 0;
  std::vector<MapGrowthEntry> maps;  // by growths, descending
  bool maps_traced = false;
  std::vector<MapWriteEntry> map_writes;  // by writes, descending
  uint64_t total_map_writes = 0;
  bool map_writes_traced = false;
  std::vector<GcCycle> gc;       // in time order
  uint64_t unpaired_pauses = 0;  // a stop or start whose partner fell outside the trace
  // The target's own counter of allocated bytes, read at start and end.
  std::optional<uint64_t> target_alloc_start, target_alloc_end;
  std::shared_ptr<StackTable> stacks;
};

// ---- Building the report from what the kernel collected -------------------
// (Plain records, so the assembly is tested without BPF.)

struct RawAllocAgg {  // alloc_agg
  uint64_t stack_id = 0, type = 0,
           size = 0;  // size: slot size, span class (refill) or requested size (exact)
  uint64_t count = 0, bytes = 0;
};
struct RawLargeAgg {  // large_agg
  uint64_t stack_id = 0, type = 0;
  bool noscan = false;
  uint64_t count = 0, bytes = 0, max_bytes = 0, max_goid = 0;
  std::array<uint64_t, kHistBuckets> hist{};
};
struct RawMapAgg {  // map_agg
  uint64_t stack_id = 0, map_type = 0;
  unsigned growth = 0;
  uint64_t count = 0, max_len = 0;
};
struct RawMapWriteAgg {  // map_write_agg
  uint64_t stack_id = 0, map_type = 0;
  uint64_t count = 0, max_len = 0;
};
// A GC or stop-the-world event (stw_pauses.h) and what user space read with it.
struct RawGcEvent : StwEvent {
  // Read by user space when the event arrived (optional).
  std::optional<uint64_t> heap_live, heap_marked, heap_goal;
  // Cycle: the cumulative alloc_agg as user space read it when the event
  // arrived (for "what drove GC"); empty when not read.
  std::vector<RawAllocAgg> aggs_at;
};

struct AllocBuildInput {
  std::vector<RawAllocAgg> aggs;
  std::vector<RawLargeAgg> large;
  std::vector<RawMapAgg> maps;
  std::vector<RawMapWriteAgg> map_writes;
  std::vector<RawGcEvent> gc_events;  // in arrival order
};

// Whether an allocation's stack (leaf first) made a slice's backing array:
// runtime.makeslice, makeslice64, makeslicecopy or growslice among the
// runtime frames above the allocating code.
bool makes_slice(const std::vector<Frame>& frames);

struct AllocBuildOptions {
  AllocSampler sampler = AllocSampler::Profilealloc;
  int64_t rate = 0;  // MemProfileRate (profilealloc)
  AllocGroupBy by = AllocGroupBy::Stack;
  // Runtime type address -> name ("" unknown); map type -> "map[K]V".
  std::function<std::string(uint64_t)> type_name;
  // Whether a stack allocated a slice's backing array (makeslice, growslice:
  // the runtime is given the element type), so T is shown as []T.
  std::function<bool(uint64_t stack_id)> slice_alloc;
  // Refill: a span class's slot size and how many slots one span holds.
  std::function<uint64_t(uint32_t)> class_slot_size;
  std::function<uint64_t(uint32_t)> class_span_objects;
  // Go 1.21+ reason numbering (stopTheWorldWithSema's argument).
  std::function<std::string(uint32_t)> stw_reason_name;
  size_t drivers = 5;
};

// The estimate one aggregate stands for (bytes, objects).
std::pair<double, double> unsample(const RawAllocAgg& a, const AllocBuildOptions& o);
// pprof's scaling of a heap sample: size/(1-exp(-size/rate)) per sample.
std::pair<double, double> unsample_profile(uint64_t count, uint64_t bytes, int64_t rate);
// "gotrace.test/fixtures/internal/allocwork.(*T).m" -> its package path.
std::string function_package(std::string_view function);
std::string_view gc_trigger_name(uint32_t kind);  // 0 heap, 1 time, 2 forced

// Fills everything but summary and the target's counters (stacks must be set).
void build_alloc_report(AllocReport& report, const AllocBuildInput& input, const AllocBuildOptions& options);

}  // namespace gotrace
