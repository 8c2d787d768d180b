// The result of `gotrace lock`: contended waits on sync primitives by (kind,
// waiter stack, holder stack), the locks themselves, and what each holder was
// blocked on while others waited for it (wait chains). Writers
// (lock_writer.h) format it; nothing here touches BPF.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gotrace/model/histogram.h"
#include "gotrace/model/runtime_waits.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/model/trace_summary.h"

namespace gotrace {

enum class LockKind : uint8_t { Mutex = 0, RWMutexR = 1, RWMutexW = 2, WaitGroup = 3, Cond = 4, Runtime = 5 };
inline constexpr size_t kLockKindCount = 6;
std::string_view lock_kind_name(LockKind k);  // "mutex", "rwmutex-r", … (the --kind names)
std::string_view lock_kind_type(LockKind k);  // "sync.Mutex", "sync.RWMutex (RLock)", …
std::optional<LockKind> parse_lock_kind(std::string_view name);

// The kind a wait really is, from the entry point it came through and the
// waiter's stack: Go 1.19 waits for RWMutex through the Mutex entry point,
// and RWMutex.Lock first waits on its inner Mutex (writer against writer).
// build_lock_report also derives the lock's address from the semaphore's
// (Mutex +4, RWMutex writerSem +8 / readerSem +12, WaitGroup +8, Cond's
// notify list +16).
LockKind refine_lock_kind(LockKind from_probe, const std::vector<Frame>& waiter_frames);

// One link of a wait chain: while the waiter waited (and the holder held the
// lock), the holder was itself blocked here. depth 1 is the holder; depth 2
// is whoever held what the holder waited for, and so on. The links of a
// chain form a tree: parent is the index (in the same vector) of the link
// this one extends, -1 at depth 1; a vector is in tree order (each link
// right after its parent or an earlier sibling, siblings by total, descending).
struct ChainLink {
  int depth = 1;
  int parent = -1;
  unsigned reason = 0;
  std::string reason_name;
  uint64_t stack_id = 0;
  uint64_t count = 0;     // waits of the entry during which this happened
  uint64_t total_ns = 0;  // blocked time inside those waits
  uint64_t goid = 0;      // an example goroutine
};

// Wait time blamed on one holder by time held: while the waiters waited, the
// goroutines that held the lock, one after the other, each for part of the
// wait (not only the one whose release ended it). Holders are told apart by
// their stack at the release.
inline constexpr uint64_t kBlameNotKept = ~0ULL;  // stack_id: holders before the oldest release kept
struct BlameShare {
  uint64_t stack_id = 0;
  uint64_t goid = 0;         // the goroutine with the longest single hold here
  uint64_t waits = 0;        // waits during which a goroutine held it here
  uint64_t total_ns = 0;     // blamed time
  uint64_t max_hold_ns = 0;  // the longest single hold inside one wait
  double share = 0;          // of the entry's (or lock's) total wait
};

struct LockEntry {
  LockKind kind = LockKind::Mutex;
  uint64_t waiter_stack = 0;
  uint64_t holder_stack = 0;  // the releasing goroutine's stack at the release
  uint64_t count = 0;
  uint64_t total_ns = 0;
  uint64_t min_ns = 0;  // shortest wait (0: not known)
  uint64_t max_ns = 0;
  uint64_t max_goid = 0;
  uint64_t max_holder_goid = 0;
  Log2Histogram hist;
  std::set<uint64_t> locks;       // distinct lock addresses
  std::vector<ChainLink> chain;   // by depth, then total, descending
  std::vector<BlameShare> blame;  // by total, descending (none for runtime locks)
  uint64_t p50() const { return hist.percentile(0.5, min_ns, max_ns); }
  uint64_t p99() const { return hist.percentile(0.99, min_ns, max_ns); }
  uint64_t mean() const { return count ? total_ns / count : 0; }
};

struct StackShare {
  uint64_t stack_id = 0;
  uint64_t count = 0;
  uint64_t total_ns = 0;
};

// One lock address (--by-lock).
struct LockSite {
  uint64_t addr = 0;
  LockKind kind = LockKind::Mutex;
  bool mixed_kinds = false;  // e.g. RLock and Lock waits on one RWMutex
  std::string name;          // "main.cacheMu" or "main.cache+0x10" when the symbol table has it
  uint64_t count = 0;
  uint64_t total_ns = 0;
  uint64_t max_ns = 0;
  std::vector<StackShare> waiters;  // by total, descending
  std::vector<StackShare> holders;  // by the waits their release ended
  std::vector<BlameShare> blame;    // holders by time held while others waited, descending
};

// One long wait (>= the event threshold) with its chain.
struct LockWait {
  uint64_t goid = 0;
  uint64_t holder_goid = 0;
  uint64_t addr = 0;  // the lock
  LockKind kind = LockKind::Mutex;
  uint64_t duration_ns = 0;
  uint64_t waiter_stack = 0;
  uint64_t holder_stack = 0;
  std::vector<ChainLink> chain;
};

struct LockReport {
  TraceSummary summary;
  std::vector<LockEntry> entries;  // by total_ns, descending
  std::vector<LockSite> locks;     // by total_ns, descending
  std::vector<LockWait> longest;   // by duration, descending
  uint64_t min_ns = 0;
  bool chains = true;
  std::vector<LockKind> kinds;  // what was asked for
  std::shared_ptr<StackTable> stacks;
};

}  // namespace gotrace

// ---- Building the report from what the kernel collected -------------------
// (Plain records, so the assembly is tested without BPF.)

namespace gotrace {

struct RawLockAgg {  // lock_agg: (kind from probe, waiter, releaser, semaphore)
  LockKind kind = LockKind::Mutex;
  uint64_t waiter_stack = 0, releaser_stack = 0, sema_addr = 0;
  uint64_t count = 0, total_ns = 0, min_ns = 0, max_ns = 0, max_goid = 0, max_releaser_goid = 0;
  std::array<uint64_t, kHistBuckets> hist{};
};

struct RawChainAgg {  // chain_agg: the releaser was blocked at chain_stack meanwhile
  LockKind kind = LockKind::Mutex;
  uint64_t waiter_stack = 0, releaser_stack = 0, chain_stack = 0;
  unsigned reason = 0;
  uint64_t count = 0, overlap_ns = 0, goid = 0;
};

struct RawBlameAgg {  // blame_agg: the entry's key and the holder blamed
  LockKind kind = LockKind::Mutex;
  uint64_t waiter_stack = 0, releaser_stack = 0, sema_addr = 0, holder_stack = 0;
  uint64_t total_ns = 0, waits = 0, max_hold_ns = 0, goid = 0;
};

struct RawSpan {  // one finished wait of a releaser
  uint64_t t0_ns = 0, t1_ns = 0, stack_id = 0;
  unsigned reason = 0;
};

struct RawLockEvent {  // one long wait
  LockKind kind = LockKind::Mutex;
  uint64_t goid = 0, releaser_goid = 0, sema_addr = 0;
  uint64_t t_start_ns = 0, t_end_ns = 0, t_held_ns = 0;
  uint64_t waiter_stack = 0, releaser_stack = 0;
  std::vector<RawSpan> chain;
};

struct LockBuildInput {
  std::vector<RawLockAgg> aggs;
  std::vector<RawChainAgg> chains;
  std::vector<RawBlameAgg> blame;
  std::vector<RawLockEvent> events;
};

struct LockBuildOptions {
  std::vector<LockKind> kinds;  // empty: all
  uint64_t min_ns = 0;          // entries whose longest wait is shorter are left out
  int max_chain_depth = 3;
  double min_link_share = 0.01;  // chain links below this share of the entry's wait are noise
  std::function<std::string(unsigned)> reason_name;  // wait reason value -> name
  std::function<bool(unsigned)> is_sync_reason;      // a semaphore / Cond wait
  std::function<std::string(uint64_t)> lock_name;    // lock address -> symbol (or "")
  size_t longest = 20;
};

// Fills entries, locks and longest of report (stacks must be set: kinds are
// refined from the symbolized waiter stacks).
void build_lock_report(LockReport& report, const LockBuildInput& input, const LockBuildOptions& options);

}  // namespace gotrace
