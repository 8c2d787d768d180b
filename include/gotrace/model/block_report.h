// The result of `gotrace block`: blocked time by (stack, wait reason), who
// woke each, the longest single waits, and what the trace itself saw and
// lost. Writers (report/block_writer.h) format it; nothing here touches BPF.
#pragma once

#include "gotrace/model/histogram.h"
#include "gotrace/model/runtime_waits.h"
#include "gotrace/model/stack_table.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gotrace {

enum class WakerKind : uint8_t { Goroutine = 0, Netpoll = 1, Runtime = 2 };
std::string_view waker_kind_name(WakerKind k);  // "goroutine", "netpoller", "runtime"

struct WakerShare {
  WakerKind kind = WakerKind::Goroutine;
  uint64_t stack_id = 0;  // 0: none (netpoller, or a runtime path without a goroutine)
  uint64_t count = 0;
  uint64_t total_ns = 0;
};

struct BlockEntry {
  uint64_t stack_id = 0;
  unsigned reason = 0;
  std::string reason_name;
  uint64_t count = 0;
  uint64_t total_ns = 0;
  uint64_t min_ns = 0;  // shortest wait (0: not known)
  uint64_t max_ns = 0;
  uint64_t max_goid = 0;
  Log2Histogram hist;
  std::vector<WakerShare> wakers;  // most frequent first
  RuntimeWait runtime = RuntimeWait::None;  // set by classify_runtime_waits
  uint64_t p50() const { return hist.percentile(0.5, min_ns, max_ns); }
  uint64_t p99() const { return hist.percentile(0.99, min_ns, max_ns); }
  uint64_t mean() const { return count ? total_ns / count : 0; }
};

struct LongWait {
  uint64_t goid = 0;
  uint64_t waker_goid = 0;
  uint64_t duration_ns = 0;
  unsigned reason = 0;
  std::string reason_name;
  uint64_t stack_id = 0;
  uint64_t waker_stack_id = 0;
  WakerKind waker_kind = WakerKind::Goroutine;
  RuntimeWait runtime = RuntimeWait::None;
};

// What every tracing command reports about the trace itself.
struct TraceSummary {
  int pid = 0;
  std::string comm;
  std::string go_version;
  double duration_s = 0;
  std::string stopped_by;  // "duration elapsed", "interrupted", "target exited"
  bool target_alive = true;
  size_t probes_attached = 0;
  uint64_t events = 0;   // probe hits accepted
  uint64_t dropped = 0;  // every loss, all kinds
  std::map<std::string, uint64_t> counters;  // name -> value (including each drop kind)
  std::vector<std::string> notes;            // things the user should know
};

struct BlockReport {
  TraceSummary summary;
  std::vector<BlockEntry> entries;  // by total_ns, descending
  std::vector<LongWait> longest;    // by duration, descending
  uint64_t min_ns = 0;
  std::shared_ptr<StackTable> stacks;
  // Waits of the runtime's background goroutines (scavenger, sweeper, GC
  // workers …) are left out unless asked for (--reason given).
  bool show_runtime_background = false;
  bool runtime_classified = false;
};

// Labels every entry and long wait with the runtime machinery it belongs to
// (from its stack) and, unless show_runtime_background, moves the background
// ones out, counted in summary.counters["runtime_background_hidden"] and a
// note. Once per report; the writers call it if the builder did not.
void classify_runtime_waits(BlockReport& report);

}  // namespace gotrace
