// The result of `gotrace goroutines`: a snapshot's goroutines grouped the way
// a good stack-dump analyser groups them — same state, wait reason, stack and
// creation site is one group — sorted by count. Writers
// (goroutine_writer.h) format it; nothing here reads a process.
//
// How long a goroutine has waited comes from g.waitsince, which only the GC
// writes (runtime/mgcmark.go, markroot; every release 1.17-1.27): a cycle
// that finds a goroutine blocked with waitsince == 0 stores work.tstart, and
// work.tstart is set at mark termination (mgc.go, gcMark) — the *previous*
// cycle's. execute() and exitsyscall() reset it to 0. So the stamp can
// predate the wait by a whole GC interval: now - waitsince is no lower bound
// (it is what Go's own dump prints). What is certain: the cycle that stamped
// the goroutine finished its marking before it set its own work.tstart, the
// next stamp value there is. Any larger stamp seen anywhere in the same
// snapshot is such a later mark termination, so a goroutine stamped s has
// waited at least now - (the smallest stamp in the snapshot above s). With
// no larger stamp in sight, the lower bound is unknown. Repeated snapshots
// (--watch) give exact ages.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gotrace/gobin/wait_reasons.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/snapshot/goroutines.h"

namespace gotrace {

// Wait-duration buckets of a group (from waitsince).
inline constexpr size_t kWaitBuckets = 5;
std::string_view wait_bucket_name(size_t i);  // "unknown", "<1m", "1m-10m", "10m-1h", "≥1h"
size_t wait_bucket_of(std::optional<int64_t> wait_ns);

struct GoroutineFilter {
  int64_t min_wait_ns = 0;        // keep waits certainly at least this long (0: all)
  std::set<std::string> states;   // "waiting", "runnable", … (empty: all)
  std::set<std::string> reasons;  // "chan receive", … (empty: all)
  bool include_system = true;     // runtime-started goroutines (pprof leaves them out)
};

struct GoroutineEntry {  // one goroutine, for --all and JSON
  uint64_t goid = 0;
  GStatus status = GStatus::Unknown;
  std::string reason;                   // empty unless waiting/leaked
  std::optional<int64_t> wait_ns;       // waited at least this long (see above); nullopt: unknown
  std::optional<int64_t> stamp_age_ns;  // now - waitsince, Go's own figure; nullopt: not stamped
  uint64_t stack_id = 0;                // 0: no stack (running)
  uint64_t created_by_id = 0;           // 0: no creation site (runtime.main, cgo extra Ms)
  uint64_t parent_goid = 0;
  bool locked_to_thread = false;
  bool system = false;
  bool stack_truncated = false;
  bool stack_broken = false;
  std::vector<std::pair<std::string, std::string>> labels;
  bool has_labels = false;
};

struct GoroutineGroup {
  GStatus status = GStatus::Unknown;
  std::string reason;
  uint64_t stack_id = 0;
  uint64_t created_by_id = 0;
  bool system = false;
  uint64_t count = 0;
  uint64_t locked = 0;                              // members locked to their thread
  uint64_t with_labels = 0;                         // members with pprof labels
  std::map<std::string, uint64_t> label_sets;       // "k=v,k2=v2" -> members
  std::optional<int64_t> min_wait_ns, max_wait_ns;  // lower bounds, over members whose bound is known
  uint64_t wait_known = 0;                          // members with a known lower bound
  std::array<uint64_t, kWaitBuckets> wait_buckets{};
  std::vector<uint64_t> goids;  // members, ascending
  std::set<uint64_t> parents;   // distinct parent goids (1.21+)
  bool stack_truncated = false;
  bool stack_broken = false;
};

struct GoroutineReport {
  StackTable stacks;
  std::vector<GoroutineGroup> groups;      // by count, descending
  std::vector<GoroutineEntry> goroutines;  // by goid (only the ones the filter kept)
  SnapshotStats stats;
  uint64_t total = 0;   // goroutines in the snapshot
  uint64_t shown = 0;   // after the filter
  uint64_t system = 0;  // runtime goroutines in the snapshot
  uint64_t filtered_out = 0;
  uint64_t running_without_stack = 0;
  int64_t unix_ns = 0;
  explicit GoroutineReport(StackTable st) : stacks(std::move(st)) {}
};

// "k=v,k2=v2" (keys sorted), or "(undecoded)".
std::string label_set_text(const GoroutineEntry& e);

GoroutineReport build_goroutine_report(const GoroutineSnapshot& snap, const WaitReasons& reasons,
                                       StackTable stacks, const GoroutineFilter& filter);

}  // namespace gotrace
