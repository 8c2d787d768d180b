// The result of `gotrace block`: blocked time by (stack, wait reason), who
// woke each, the longest single waits, and what the trace itself saw and
// lost. Writers (block_writer.h) format it; nothing here touches BPF.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gotrace/model/histogram.h"
#include "gotrace/model/runtime_waits.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/model/trace_summary.h"

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
  // Of the count, waits not over inside the traced time: under way when it
  // began or still at its end, each timed for its part inside it.
  uint64_t open = 0;
  Log2Histogram hist;
  std::vector<WakerShare> wakers;           // most frequent first
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
  // Set when the report was sampled from goroutine states (block --sample,
  // block_sampler.h) rather than traced: total_ns is estimated
  // goroutine-time, count a lower bound; no per-wait durations, no wakers.
  struct Sampling {
    double hz = 0;  // asked
    uint64_t scans = 0;
    double scan_mean_ms = 0;
    double scan_max_ms = 0;
    double scan_cpu_ms = 0;  // gotrace's CPU time per scan, on average
    // The scans' CPU is kept within this share of a CPU (0: not capped,
    // --no-governor), and whether that slowed the rate below the one asked.
    double cpu_cap_share = 0;
    bool slowed_by_cap = false;
  };
  std::optional<Sampling> sampled;
};

// What the block BPF program left behind, as plain records (the session
// decodes the maps and the ring buffer into these).
struct RawBlockAgg {
  uint64_t stack_id = 0;
  unsigned reason = 0;
  uint64_t count = 0;
  uint64_t total_ns = 0;
  uint64_t min_wait_ns = 0;  // the shortest wait (0: not known)
  uint64_t max_ns = 0;
  uint64_t max_goid = 0;
  uint64_t open = 0;  // of the count, waits not over inside the traced time
  std::array<uint64_t, kHistBuckets> hist{};
};
struct RawWakerAgg {
  uint64_t stack_id = 0;  // the blocked stack
  unsigned reason = 0;
  WakerKind kind = WakerKind::Goroutine;
  uint64_t waker_stack_id = 0;
  uint64_t count = 0;
  uint64_t total_ns = 0;
};
struct BlockBuildInput {
  std::vector<RawBlockAgg> aggs;
  std::vector<RawWakerAgg> wakers;
  std::vector<LongWait> longest;  // any order; reason_name filled in by the builder
};
struct BlockBuildOptions {
  uint64_t min_ns = 0;  // entries whose longest wait is shorter are left out
  std::function<std::string(unsigned)> reason_name;
};

// Fills report.entries (by total time, each with its wakers, most frequent
// first) and report.longest (longest first) from the raw records.
void build_block_report(BlockReport& report, BlockBuildInput input, const BlockBuildOptions& options);

// Keeps the longest waits seen, at most `capacity`; what it had to let go is
// counted, never lost silently.
class LongestWaits {
 public:
  explicit LongestWaits(size_t capacity) : capacity_(capacity) {}
  void add(const LongWait& w);
  std::vector<LongWait> take() { return std::move(kept_); }
  uint64_t not_kept() const { return not_kept_; }

 private:
  size_t capacity_;
  std::vector<LongWait> kept_;  // a min-heap by duration once full
  uint64_t not_kept_ = 0;
};

// Labels every entry and long wait with the runtime machinery it belongs to
// (from its stack) and, unless show_runtime_background, moves the background
// ones out, counted in summary.counters["runtime_background_hidden"] and a
// note. Once per report; the writers call it if the builder did not.
void classify_runtime_waits(BlockReport& report);

}  // namespace gotrace
