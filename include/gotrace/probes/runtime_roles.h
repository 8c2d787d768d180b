// The runtime functions gotrace probes, named by what they do ("role") rather
// than by symbol, because the symbol moves between releases: the mutex
// semaphore acquire is sync.runtime_SemacquireMutex up to 1.23 and
// internal/sync.runtime_SemacquireMutex from 1.24; runtime.goready is inlined
// from 1.21, so wakes are seen at runtime.ready.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "gotrace/gobin/go_version.h"

namespace gotrace {

class Pclntab;

enum class ProbeRole : uint8_t {
  Gopark,               // a goroutine blocks (R14 = it; CL = wait reason)
  Ready,                // a goroutine is made runnable (RAX = it; waker = g0.m.curg)
  InjectGlist,          // netpoll wakes a list of goroutines (bypasses ready)
  Netpollready,         // the poller found an fd ready: pd.rg / pd.wg wake (IO wait)
  Semacquire1,          // runtime semaphore acquire (every sync primitive)
  SemacquireMutex,      // sync.Mutex slow path
  SemacquireRWMutexR,   // RWMutex.RLock slow path (1.20+)
  SemacquireRWMutex,    // RWMutex.Lock writer wait (1.20+)
  SemacquireWaitGroup,  // WaitGroup.Wait (1.24+)
  SyncSemacquire,       // sync.runtime_Semacquire (WaitGroup ≤1.23)
  Semrelease1,          // runtime semaphore release (R14 = releaser)
  ReadyWithTime,        // a semaphore / Cond release wakes a waiter (RAX = its sudog; R14 = releaser)
  NotifyListWait,       // sync.Cond.Wait
  NotifyListNotifyOne,  // sync.Cond.Signal
  NotifyListNotifyAll,  // sync.Cond.Broadcast
  Newproc1,             // goroutine creation (on g0)
  Goexit1,              // goroutine exit (on the exiting g)
  Goexit0,              // goroutine teardown (on g0)
  Mallocgc,             // every heap allocation (hot: not probed by default)
  MallocgcTiny,         // 1.24+ mallocgc helpers (type pointer in RBX)
  MallocgcSmallNoscan,
  MallocgcSmallScanNoHeader,
  MallocgcSmallScanHeader,
  MallocgcLarge,
  // 1.27+ size-specialized mallocs (malloc_generated.go), (size, typ, needzero)
  // like mallocgc; compiled `new(T)` of <= 80 bytes calls them directly.
  MallocgcTinySC2,
  MallocgcSmallNoScanSC2,
  MallocgcSmallNoScanSC3,
  MallocgcSmallNoScanSC4,
  MallocgcSmallNoScanSC5,
  MallocgcSmallNoScanSC6,
  MallocgcSmallNoScanSC7,
  MallocgcSmallScanNoHeaderSC1,
  MallocgcSmallScanNoHeaderSC2,
  MallocgcSmallScanNoHeaderSC3,
  MallocgcSmallScanNoHeaderSC4,
  MallocgcSmallScanNoHeaderSC5,
  MallocgcSmallScanNoHeaderSC6,
  MallocgcSmallScanNoHeaderSC7,
  Profilealloc,  // sampled allocation (one per MemProfileRate bytes)
  MProfMalloc,
  Mapassign,  // map writes, each variant
  MapassignFast32,
  MapassignFast32ptr,
  MapassignFast64,
  MapassignFast64ptr,
  MapassignFaststr,
  Lock2,  // runtime-internal lock slow path
  Unlock2,
  Futexsleep,         // an M sleeps on a futex (contended runtime lock ≤1.23; also notes)
  Futexwakeup,        // wakes a futex sleeper (unlock2 ≤1.23; notes; semawakeup 1.24+)
  Semasleep,          // an M sleeps for a contended runtime lock (spinbit mutex, 1.24+)
  Unlock2Wake,        // the spinbit mutex's wake path (1.24+): tells which lock implementation
  AllocLarge,         // (*mcache).allocLarge: every large object (BX = size, CL = noscan)
  Refill,             // (*mcache).refill: a span of one size class goes to an mcache (BL = spanClass)
  HashGrow,           // classic map growth (≤1.23): AX = maptype, BX = hmap
  MapGrowToSmall,     // swiss map (1.24+): first group of a map (AX = Map, BX = maptype)
  MapGrowToTable,     // swiss map: a full 8-slot small map becomes a table
  MapTableRehash,     // swiss map: a full table grows or splits (AX = table, BX = maptype, CX = Map)
  GcStart,            // a GC cycle may start (AX = trigger kind)
  GcStartCycle,       // (*gcControllerState).startCycle: once per cycle, in sweep termination
  StopTheWorld,       // stopTheWorldWithSema (AL = reason from 1.21; on g0, stackguard1 from 1.23)
  StartTheWorld,      // startTheWorldWithSema (1.22+: BL = reason, CX = when the stop began)
  GcMarkTermination,  // the end of a cycle's marking
  FreeSpecial,        // a special record is freed (profile specials: a sampled object died)
  NewprocQueue,       // a new goroutine is queued: newproc.func1's CALL runqput (BX = newg, final goid)
  Gdestroy,           // goroutine teardown, on g0 (1.22+; goexit0 calls it; AX = gp)
  GcPauseEnd,   // (*gcCPULimiterState).finishGCTransition(now) (1.19+): BX = when the runtime ends a GC pause
  Execute,      // a runnable goroutine starts running (on g0, AX = it; never inlined, every release)
  GoschedImpl,  // a running goroutine goes back to the run queue: Gosched, preemption (on g0, AX = it)
  GoyieldM,     // the same, onto the local run queue (goyield: on g0, AX = it)
  ExitsyscallSlow,  // back from a syscall with no P: runnable (exitsyscall0; exitsyscallNoP 1.26+; AX = it)
  Count
};
inline constexpr size_t kProbeRoleCount = static_cast<size_t>(ProbeRole::Count);

struct RoleCandidate {
  std::string_view symbol;
  int min_minor = 0;   // first Go 1.x release with this name (0: any)
  int max_minor = 99;  // last one
};

struct RoleSpec {
  ProbeRole role;
  std::string_view id;           // stable short name: "gopark", "semacquire_mutex"
  std::string_view description;  // one line for `gotrace info`
  std::vector<RoleCandidate> candidates;
  int min_minor = 0;   // the role exists from this release on (0: always)
  int max_minor = 99;  // … up to this one
  // The runtime links the symbol into every program of the range. When false
  // it is there only if the program uses what calls it (a sync primitive, a
  // map kind): the linker drops unreachable functions.
  bool always_linked = true;
  bool only_32bit = false;  // never present on amd64/arm64 (e.g. mapassign_fast32ptr)
  // The probe site is the function's first direct call to this symbol
  // rather than its entry (a CALL/BL, emulated by the kernel; no stack check
  // to interpret there). Empty: the entry site.
  std::string_view call_to;
};

const RoleSpec& role_spec(ProbeRole role);
std::span<const RoleSpec> all_roles();

// Whether Go 1.<minor> has the role at all, and the symbol the table names
// for it in that release (nullopt outside the role's range).
bool role_expected(const RoleSpec& spec, int minor);
std::optional<std::string_view> expected_symbol(ProbeRole role, int minor);

// The symbol that plays the role in this binary: the candidate whose version
// range holds the binary's version and which the pclntab has; failing that,
// any candidate the pclntab has (a binary can surprise a table). nullopt when
// the role does not exist in this build.
std::optional<std::string_view> resolve_role(ProbeRole role, const std::optional<GoVersion>& version,
                                             const Pclntab& pclntab);

}  // namespace gotrace
