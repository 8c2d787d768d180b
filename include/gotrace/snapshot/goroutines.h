// A snapshot of every goroutine of a live Go process, read from outside while
// it runs: no probe, no signal, no stop, and never a write to its memory.
//
// How (checked against the runtime's sources of Go 1.19–1.26):
//  - runtime.allglen, then runtime.allgptr (the runtime stores allgptr before
//    allglen, so len entries behind the pointer are valid), then the array of
//    *g, then allgptr again: a change means the array was reallocated while we
//    read it, and the read is retried. Goroutines created during the read may
//    be missed; entries never change once written.
//  - each g is copied in one read (all gs in one batched read). After the
//    stacks are walked, the moving parts of every g (sched, the syscall frame,
//    status, goid) are read again in one more batched read; a g where any of
//    them changed, that the GC is scanning (_Gscan bit), or whose stack is
//    being copied (_Gcopystack) is read once more, and if it changes again it
//    is left out and counted.
//  - stacks are unwound by frame pointers from g.sched (parked, runnable,
//    preempted) or from g.syscallpc/syscallsp (in a syscall or cgo call). A
//    running goroutine has no saved state: its stack cannot be read without
//    stopping its thread, so it has none here. Every step stays inside the
//    copied [stack.lo, stack.hi), frame pointers must increase, every PC must
//    be in a Go function, and the walk ends at a depth cap that is counted.
//  - walked stacks are cached by (goid, sp, pc): a goroutine parked in the
//    same place on the next snapshot costs no stack reads.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gotrace/gobin/go_binary.h"
#include "gotrace/target/remote_memory.h"
#include "gotrace/util/result.h"

namespace gotrace {

// g.atomicstatus without the _Gscan bit (runtime2.go).
enum class GStatus : uint8_t {
  Idle = 0,
  Runnable = 1,
  Running = 2,
  Syscall = 3,
  Waiting = 4,
  MoribundUnused = 5,
  Dead = 6,
  EnqueueUnused = 7,
  Copystack = 8,
  Preempted = 9,
  Leaked = 10,     // Go 1.26: found leaked by the goroutine-leak GC
  DeadExtra = 11,  // Go 1.26: the idle g of a cgo extra M
  Unknown = 255,
};
std::string_view gstatus_name(GStatus s);  // "chan receive"-style names: "waiting", "runnable", …
GStatus gstatus_from_raw(uint32_t raw);    // scan bit stripped; Unknown for values out of range

// Where a goroutine's stack came from.
enum class StackOrigin : uint8_t {
  None,     // running (or never ran): no saved state to unwind from
  Sched,    // g.sched.pc / g.sched.bp
  Syscall,  // g.syscallpc / the frame pointer saved below g.syscallsp
};

struct Goroutine {
  uint64_t goid = 0;
  uint64_t g_addr = 0;
  GStatus status = GStatus::Unknown;
  uint8_t wait_reason = 0;   // raw waitReason; meaningful for Waiting and Leaked
  int64_t waitsince = 0;     // CLOCK_MONOTONIC ns the GC stamped; 0 = not stamped (coarse, see model)
  uint64_t parent_goid = 0;  // 0 = unknown (before Go 1.21, or runtime-created)
  uint64_t gopc = 0;         // runtime address after the `go` statement's call
  uint64_t startpc = 0;      // runtime address of the goroutine's function
  uint64_t m = 0;            // g.m (nonzero while running or in a syscall)
  bool locked_to_thread = false;
  bool system = false;  // started in a runtime.* function (pprof leaves these out)
  StackOrigin stack_origin = StackOrigin::None;
  // The saved SP and PC the stack was walked from (g.sched, or the syscall
  // frame); 0 with StackOrigin::None. Unchanged while a goroutine stays
  // parked in the same place.
  uint64_t saved_sp = 0, saved_pc = 0;
  // Runtime PCs. [0] is where it stopped, ready to symbolize: the saved PC
  // is a return address, so it is the saved PC - 1 (as the runtime's own
  // traceback does), or the entry of a goroutine that never ran. The rest
  // are return addresses. runtime.goexit is left out.
  std::vector<uint64_t> stack;
  uint64_t goexit_ret = 0;       // the return address into runtime.goexit the walk ended at (0: none)
  bool stack_truncated = false;  // hit the depth cap
  bool stack_broken = false;     // the walk stopped at a bad frame before goexit
  bool has_labels = false;       // g.labels set (pprof.Do / SetGoroutineLabels)
  bool labels_decoded = false;
  std::vector<std::pair<std::string, std::string>> labels;
};

struct SnapshotStats {
  uint64_t allglen = 0;        // slots in allgs
  uint64_t dead = 0;           // free (dead) gs, not goroutines
  uint64_t dead_assumed = 0;   // of which not re-read this time (long dead; set_dead_recheck)
  uint64_t inconsistent = 0;   // changed while read (status/goid/sched moved, GC scan, stack copy): left out
  uint64_t unreadable = 0;     // g memory could not be read: left out
  uint64_t allgs_retries = 0;  // allgs reallocated during the read
  uint64_t stacks_walked = 0;
  uint64_t stacks_cached = 0;     // reused from an earlier snapshot
  uint64_t stacks_truncated = 0;  // depth cap reached
  uint64_t stacks_broken = 0;     // bad frame pointer or PC before the bottom
  uint64_t labels_undecoded = 0;  // labels present, layout not decoded
  uint64_t syscalls = 0;          // process_vm_readv calls
  uint64_t bytes = 0;
  double wall_seconds = 0;
};

struct GoroutineSnapshot {
  std::vector<Goroutine> goroutines;  // by goid
  SnapshotStats stats;
  int64_t monotonic_ns = 0;  // CLOCK_MONOTONIC when taken (the clock of waitsince)
  int64_t unix_ns = 0;
};

class GoroutineReader {
 public:
  static constexpr size_t kMaxDepth = 128;

  // The binary must have offsets and the allgs globals (symbols or code).
  // bias: runtime - link-time address (PIE).
  static Result<GoroutineReader> create(const GoBinary& binary, pid_t pid, uint64_t bias);

  // Fails when cancelled (see set_cancel) or when the target's memory
  // cannot be read.
  Result<GoroutineSnapshot> snapshot();
  // Asked between batches of goroutines (every kBatch): true abandons the
  // snapshot under way, which then fails with cancelled() true. A read of
  // 100,000 goroutines takes seconds on a loaded host; a Ctrl-C must not.
  void set_cancel(std::function<bool()> cancel) { cancel_ = std::move(cancel); }
  bool cancelled() const { return cancelled_; }
  static constexpr size_t kBatch = 1024;
  // For repeated snapshots at a high rate (block --sample): a g seen dead in
  // kLongDead snapshots in a row has its status re-read only every `every`
  // snapshots (staggered), else it is taken as still dead. Go reuses the
  // most recently freed gs first, so a long-dead one coming back to life is
  // seen at most every-1 snapshots late. 1 (the default): every g, every time.
  void set_dead_recheck(uint32_t every) { dead_recheck_ = every ? every : 1; }
  static constexpr uint8_t kLongDead = 4;
  static constexpr uint64_t kWordPage = 4096;  // status words are read a page at a time

  const RemoteMemory& memory() const { return mem_; }

 private:
  struct Layout;
  GoroutineReader(const GoBinary& binary, pid_t pid, uint64_t bias);
  Result<std::vector<uint64_t>> read_allgs(SnapshotStats& stats);
  struct Pending;
  // last_try: keep what is broken (counted) instead of asking for a retry.
  std::vector<uint64_t> without_dead(const std::vector<uint64_t>& gs, SnapshotStats& stats);
  void read_words(const std::vector<uint64_t>& gs, const std::vector<size_t>& asked, uint64_t offset,
                  std::vector<uint32_t>& raw, std::vector<bool>& ok);
  void read_gs(const std::vector<uint64_t>& addrs, GoroutineSnapshot& out, std::vector<uint64_t>& retry,
               bool last_try);
  void walk_stack(Goroutine& g, uint64_t fp, uint64_t lo, uint64_t hi, std::span<const uint8_t> window,
                  uint64_t window_addr);
  void read_labels(Goroutine& g, uint64_t ptr, SnapshotStats& stats);
  bool is_code(uint64_t runtime_pc) const;
  bool is_goexit(uint64_t runtime_pc) const;
  int64_t off(RtField f) const { return off_[static_cast<size_t>(f)]; }

  const GoBinary* binary_;
  RemoteMemory mem_;
  uint64_t bias_ = 0;
  uint64_t allglen_addr_ = 0;
  uint64_t allgptr_addr_ = 0;
  int minor_ = 0;
  uint64_t goexit_lo_ = 0, goexit_hi_ = 0;  // runtime.goexit, runtime addresses
  // g field offsets (-1 absent) and how many bytes of g to copy.
  std::array<int64_t, kRtFieldCount> off_{};
  size_t g_read_size_ = 0;
  uint32_t dead_recheck_ = 1;
  std::vector<uint64_t> allgs_known_;  // runtime.allgs as last read (it only grows)
  std::vector<uint8_t> word_buf_;      // read_words' pages, kept between scans
  // Per allgs slot (allgs only grows, in place): snapshots in a row that
  // found it dead, up to kLongDead; the g's address, to notice a moved slot.
  std::vector<uint8_t> dead_streak_;
  std::vector<uint64_t> streak_addr_;

  struct CacheKey {
    uint64_t goid, sp, pc;
    bool operator==(const CacheKey&) const = default;
  };
  struct CacheHash {
    size_t operator()(const CacheKey& k) const {
      return std::hash<uint64_t>()(k.goid * 0x9e3779b97f4a7c15ull ^ k.sp ^ (k.pc << 17));
    }
  };
  struct CachedStack {
    std::vector<uint64_t> pcs;
    bool truncated = false, broken = false;
    uint64_t generation = 0;
    uint64_t goexit_ret = 0;
  };
  std::unordered_map<CacheKey, CachedStack, CacheHash> cache_;
  mutable std::unordered_map<uint64_t, bool> code_cache_;
  uint64_t generation_ = 0;
  std::function<bool()> cancel_;
  bool cancelled_ = false;
};

}  // namespace gotrace
