// `gotrace block --sample`: a statistical block profile from goroutine state,
// with no probes. Every scan reads all goroutines (snapshot/goroutines.h);
// each goroutine parked in a scan (waiting, with a reason the filter keeps)
// adds the time since the previous scan to its (wait reason, stack). What
// adds up is an estimate of goroutine-time spent blocked, the same quantity
// probe mode measures as total_ns.
//
// What sampling cannot know is left unknown rather than guessed: no per-wait
// durations (so no percentiles or max), no wakers, and the wait count is only
// a lower bound (see BlockSampler::add_scan).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "commands/block/block_report.h"
#include "gotrace/snapshot/goroutines.h"

namespace gotrace {

struct BlockSampleStats {
  uint64_t scans = 0;
  uint64_t parked_samples = 0;    // parked goroutines counted, over all scans
  uint64_t filtered_samples = 0;  // parked with a reason the filter leaves out
  uint64_t no_stack = 0;          // parked but no stack could be walked (counted under an empty stack)
  uint64_t inconsistent = 0;      // goroutines the reader left out: changed while read
  uint64_t unreadable = 0;        // goroutines the reader left out: memory unreadable
  uint64_t late_scans = 0;        // scans that came more than 1.5 periods after the previous one
  uint64_t dead_assumed = 0;      // long-dead gs taken as still dead without a read (summed over scans)
  double scan_seconds_total = 0;
  double scan_seconds_max = 0;
  double mean_scan_ms() const { return scans ? 1e3 * scan_seconds_total / static_cast<double>(scans) : 0; }
};

class BlockSampler {
 public:
  // keep(reason): whether a wait reason is counted; period_ns: the nominal
  // interval between scans (the weight of the first scan).
  BlockSampler(std::function<bool(unsigned)> keep, uint64_t period_ns);

  // One scan. Each counted goroutine adds the time since the previous scan
  // (the snapshots' monotonic clocks). A wait is identified by (goid, saved
  // SP, saved PC, waitsince): it is counted once, on the first scan that
  // sees it. The count is a lower bound: waits that begin and end between
  // two scans are never seen, and a goroutine that wakes and parks again at
  // the same place with the same waitsince (the GC stamps it only coarsely,
  // usually leaving 0) looks like one wait.
  void add_scan(const GoroutineSnapshot& snap);

  const BlockSampleStats& stats() const { return stats_; }
  // The interval between scans from now on (a scan more than 1.5 of them
  // after the previous one is late).
  void set_period(uint64_t period_ns) { period_ns_ = period_ns; }
  // The aggregates, as the probe mode's raw records: count and total_ns set;
  // no histogram, no min/max (unknown); max_goid is a goroutine seen there.
  BlockBuildInput build_input() const;
  // The interned stacks (id -> runtime PCs, innermost first), ids from 1.
  const std::vector<std::vector<uint64_t>>& stacks() const { return stacks_; }
  uint64_t stack_id_of(size_t index) const { return index + 1; }

 private:
  struct Seen {
    uint64_t sp = 0, pc = 0;
    int64_t waitsince = 0;
    unsigned reason = 0;
    uint64_t stack_id = 0;
  };
  struct Agg {
    uint64_t count = 0, total_ns = 0, goid = 0;
  };
  uint64_t intern(const std::vector<uint64_t>& pcs);

  std::function<bool(unsigned)> keep_;
  uint64_t period_ns_;
  int64_t last_scan_ns_ = 0;
  BlockSampleStats stats_;
  std::unordered_map<uint64_t, Seen> previous_;  // goid -> its wait in the previous scan
  std::map<std::vector<uint64_t>, uint64_t> stack_ids_;
  std::vector<std::vector<uint64_t>> stacks_;
  std::map<std::pair<uint64_t, unsigned>, Agg> aggs_;  // (stack id, reason)
};

}  // namespace gotrace
