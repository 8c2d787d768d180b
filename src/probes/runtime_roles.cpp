// The role table: which runtime symbol plays each role in which Go release.
// Read from each release's runtime sources, checked with `go tool nm` against
// the fixtures built by Go 1.19–1.26 for amd64 and arm64
// (tests/unit/runtime_roles_test.cpp keeps it honest).
//
// Found that way (each differs from what the sources alone suggest):
//  - sync.runtime_SemacquireRWMutexR / sync.runtime_SemacquireRWMutex are
//    present in 1.20 binaries ; 1.19's
//    RWMutex uses sync.runtime_SemacquireMutex.
//  - sync.runtime_Semacquire is still defined in 1.24+ sources but nothing in
//    sync calls it (WaitGroup moved to runtime_SemacquireWaitGroup), so the
//    linker drops it: the role ends at 1.23.
//  - runtime.mapassign_fast32ptr is only called by 32-bit compilers and is
//    never linked into an amd64 or arm64 binary.
#include "gotrace/probes/runtime_roles.h"

#include <array>

#include "gotrace/gobin/pclntab.h"

namespace gotrace {
namespace {

std::vector<RoleSpec> build_table() {
  using R = ProbeRole;
  // Symbols the runtime always links (scheduler, semaphores, allocator, locks)
  // versus those present only when the program uses the sync primitive or map
  // kind that calls them (the linker drops unreachable functions).
  // clang-format off
  std::vector<RoleSpec> t = {
      {R::Gopark, "gopark", "a goroutine blocks (runtime.gopark)", {{"runtime.gopark"}}},
      {R::Ready, "ready", "a goroutine is made runnable (runtime.ready; goready is inlined from 1.21)",
       {{"runtime.ready"}}},
      {R::InjectGlist, "injectglist", "netpoll makes a list of goroutines runnable (bypasses ready)",
       {{"runtime.injectglist"}}},
      {R::Netpollready, "netpollready", "the network poller readies the goroutines waiting on an fd (IO wait)",
       {{"runtime.netpollready"}}},
      {R::Semacquire1, "semacquire1", "runtime semaphore acquire, every sync primitive (runtime.semacquire1)",
       {{"runtime.semacquire1"}}},
      {R::SemacquireMutex, "semacquire_mutex", "sync.Mutex slow path waits on its semaphore",
       {{"sync.runtime_SemacquireMutex", 0, 23}, {"internal/sync.runtime_SemacquireMutex", 24}}},
      {R::SemacquireRWMutexR, "semacquire_rwmutex_r", "sync.RWMutex.RLock waits for a writer",
       {{"sync.runtime_SemacquireRWMutexR", 20}}, 20},
      {R::SemacquireRWMutex, "semacquire_rwmutex", "sync.RWMutex.Lock waits for readers",
       {{"sync.runtime_SemacquireRWMutex", 20}}, 20},
      {R::SemacquireWaitGroup, "semacquire_waitgroup", "sync.WaitGroup.Wait blocks",
       {{"sync.runtime_SemacquireWaitGroup", 24}}, 24},
      {R::SyncSemacquire, "sync_semacquire", "sync.runtime_Semacquire (WaitGroup.Wait up to 1.23)",
       {{"sync.runtime_Semacquire", 0, 23}}, 0, 23},
      {R::Semrelease1, "semrelease1", "runtime semaphore release, on the releasing goroutine",
       {{"runtime.semrelease1"}}},
      {R::ReadyWithTime, "ready_with_time",
       "a semaphore or Cond release hands over to a waiter (runtime.readyWithTime)", {{"runtime.readyWithTime"}}},
      {R::NotifyListWait, "notifylist_wait", "sync.Cond.Wait blocks", {{"sync.runtime_notifyListWait"}}},
      {R::NotifyListNotifyOne, "notifylist_notify_one", "sync.Cond.Signal",
       {{"sync.runtime_notifyListNotifyOne"}}},
      {R::NotifyListNotifyAll, "notifylist_notify_all", "sync.Cond.Broadcast",
       {{"sync.runtime_notifyListNotifyAll"}}},
      {R::Newproc1, "newproc1", "goroutine creation, on g0 (runtime.newproc1)", {{"runtime.newproc1"}}},
      {R::Goexit1, "goexit1", "goroutine exit, on the exiting goroutine (runtime.goexit1)",
       {{"runtime.goexit1"}}},
      {R::Goexit0, "goexit0", "goroutine teardown, on g0 (runtime.goexit0)", {{"runtime.goexit0"}}},
      {R::Mallocgc, "mallocgc", "every heap allocation (runtime.mallocgc; hot)", {{"runtime.mallocgc"}}},
      // 1.27 links the size-specialized functions instead of mallocgcTiny
      // (mallocgc's only call to it is behind !sizeSpecializedMallocEnabled).
      {R::MallocgcTiny, "mallocgc_tiny", "tiny noscan allocation (1.24–1.26)", {{"runtime.mallocgcTiny", 24, 26}},
       24, 26},
      {R::MallocgcSmallNoscan, "mallocgc_small_noscan", "small pointer-free allocation (1.24+)",
       {{"runtime.mallocgcSmallNoscan", 24}}, 24},
      {R::MallocgcSmallScanNoHeader, "mallocgc_small_scan_noheader",
       "small allocation with pointers, no malloc header (1.24+)", {{"runtime.mallocgcSmallScanNoHeader", 24}},
       24},
      {R::MallocgcSmallScanHeader, "mallocgc_small_scan_header",
       "small allocation with pointers and a malloc header (1.24+)", {{"runtime.mallocgcSmallScanHeader", 24}},
       24},
      {R::MallocgcLarge, "mallocgc_large", "large allocation (1.24+)", {{"runtime.mallocgcLarge", 24}}, 24},
      // 1.27 (GOEXPERIMENT=sizespecializedmalloc on by default, internal/buildcfg/exp.go:88):
      // one function per size class up to 80 bytes (runtime/malloc_generated.go).
      {R::MallocgcTinySC2, "mallocgc_tiny_sc2", "tiny noscan allocation, size-specialized (1.27+)",
       {{"runtime.mallocgcTinySC2", 27}}, 27},
      {R::MallocgcSmallNoScanSC2, "mallocgc_small_noscan_sc2", "16-byte pointer-free allocation (1.27+)",
       {{"runtime.mallocgcSmallNoScanSC2", 27}}, 27},
      {R::MallocgcSmallNoScanSC3, "mallocgc_small_noscan_sc3", "24-byte pointer-free allocation (1.27+)",
       {{"runtime.mallocgcSmallNoScanSC3", 27}}, 27},
      {R::MallocgcSmallNoScanSC4, "mallocgc_small_noscan_sc4", "32-byte pointer-free allocation (1.27+)",
       {{"runtime.mallocgcSmallNoScanSC4", 27}}, 27},
      {R::MallocgcSmallNoScanSC5, "mallocgc_small_noscan_sc5", "48-byte pointer-free allocation (1.27+)",
       {{"runtime.mallocgcSmallNoScanSC5", 27}}, 27},
      {R::MallocgcSmallNoScanSC6, "mallocgc_small_noscan_sc6", "64-byte pointer-free allocation (1.27+)",
       {{"runtime.mallocgcSmallNoScanSC6", 27}}, 27},
      {R::MallocgcSmallNoScanSC7, "mallocgc_small_noscan_sc7", "80-byte pointer-free allocation (1.27+)",
       {{"runtime.mallocgcSmallNoScanSC7", 27}}, 27},
      {R::MallocgcSmallScanNoHeaderSC1, "mallocgc_small_scan_sc1", "8-byte allocation with pointers (1.27+)",
       {{"runtime.mallocgcSmallScanNoHeaderSC1", 27}}, 27},
      {R::MallocgcSmallScanNoHeaderSC2, "mallocgc_small_scan_sc2", "16-byte allocation with pointers (1.27+)",
       {{"runtime.mallocgcSmallScanNoHeaderSC2", 27}}, 27},
      {R::MallocgcSmallScanNoHeaderSC3, "mallocgc_small_scan_sc3", "24-byte allocation with pointers (1.27+)",
       {{"runtime.mallocgcSmallScanNoHeaderSC3", 27}}, 27},
      {R::MallocgcSmallScanNoHeaderSC4, "mallocgc_small_scan_sc4", "32-byte allocation with pointers (1.27+)",
       {{"runtime.mallocgcSmallScanNoHeaderSC4", 27}}, 27},
      {R::MallocgcSmallScanNoHeaderSC5, "mallocgc_small_scan_sc5", "48-byte allocation with pointers (1.27+)",
       {{"runtime.mallocgcSmallScanNoHeaderSC5", 27}}, 27},
      {R::MallocgcSmallScanNoHeaderSC6, "mallocgc_small_scan_sc6", "64-byte allocation with pointers (1.27+)",
       {{"runtime.mallocgcSmallScanNoHeaderSC6", 27}}, 27},
      {R::MallocgcSmallScanNoHeaderSC7, "mallocgc_small_scan_sc7", "80-byte allocation with pointers (1.27+)",
       {{"runtime.mallocgcSmallScanNoHeaderSC7", 27}}, 27},
      {R::Profilealloc, "profilealloc", "sampled allocation, one per MemProfileRate bytes",
       {{"runtime.profilealloc"}}},
      {R::MProfMalloc, "mprof_malloc", "memory profile records a sampled allocation", {{"runtime.mProf_Malloc"}}},
      {R::Mapassign, "mapassign", "map write, generic key", {{"runtime.mapassign"}}},
      {R::MapassignFast32, "mapassign_fast32", "map write, 4-byte key", {{"runtime.mapassign_fast32"}}},
      {R::MapassignFast32ptr, "mapassign_fast32ptr", "map write, 4-byte pointer key (32-bit platforms only)",
       {{"runtime.mapassign_fast32ptr"}}},
      {R::MapassignFast64, "mapassign_fast64", "map write, 8-byte key", {{"runtime.mapassign_fast64"}}},
      {R::MapassignFast64ptr, "mapassign_fast64ptr", "map write, 8-byte pointer key",
       {{"runtime.mapassign_fast64ptr"}}},
      {R::MapassignFaststr, "mapassign_faststr", "map write, string key", {{"runtime.mapassign_faststr"}}},
      {R::Lock2, "lock2", "runtime-internal lock (runtime.lock2)", {{"runtime.lock2"}}},
      {R::Unlock2, "unlock2", "runtime-internal unlock (runtime.unlock2)", {{"runtime.unlock2"}}},
      {R::Futexsleep, "futexsleep", "an M sleeps on a futex (runtime locks up to 1.23, notes)",
       {{"runtime.futexsleep"}}},
      {R::Futexwakeup, "futexwakeup", "an M wakes a futex sleeper", {{"runtime.futexwakeup"}}},
      {R::Semasleep, "semasleep", "an M sleeps for a contended runtime lock (spinbit mutex, 1.24+)",
       {{"runtime.semasleep", 24}}, 24},
      {R::Unlock2Wake, "unlock2_wake", "the spinbit runtime mutex wakes a sleeping M (1.24+)",
       {{"runtime.unlock2Wake", 24}}, 24},
      {R::AllocLarge, "alloc_large", "a large object gets its own span ((*mcache).allocLarge)",
       {{"runtime.(*mcache).allocLarge"}}},
      {R::Refill, "refill", "an mcache takes a fresh span of a size class ((*mcache).refill)",
       {{"runtime.(*mcache).refill"}}},
      {R::HashGrow, "hash_grow", "a classic map grows (runtime.hashGrow, up to 1.23)", {{"runtime.hashGrow", 0, 23}},
       0, 23},
      {R::MapGrowToSmall, "map_grow_to_small", "a swiss map gets its first group (1.24+)",
       {{"internal/runtime/maps.(*Map).growToSmall", 24}}, 24},
      {R::MapGrowToTable, "map_grow_to_table", "a full small swiss map becomes a table (1.24+)",
       {{"internal/runtime/maps.(*Map).growToTable", 24}}, 24},
      {R::MapTableRehash, "map_table_rehash", "a full swiss map table grows or splits (1.24+)",
       {{"internal/runtime/maps.(*table).rehash", 24}}, 24},
      {R::GcStart, "gc_start", "a GC cycle may start, with its trigger (runtime.gcStart)", {{"runtime.gcStart"}}},
      {R::GcStartCycle, "gc_start_cycle", "a GC cycle starts, once per cycle ((*gcControllerState).startCycle)",
       {{"runtime.(*gcControllerState).startCycle"}}},
      {R::StopTheWorld, "stop_the_world", "the world stops (runtime.stopTheWorldWithSema)",
       {{"runtime.stopTheWorldWithSema"}}},
      {R::StartTheWorld, "start_the_world", "the world restarts (runtime.startTheWorldWithSema)",
       {{"runtime.startTheWorldWithSema"}}},
      {R::GcMarkTermination, "gc_mark_termination", "a GC cycle's marking ends (runtime.gcMarkTermination)",
       {{"runtime.gcMarkTermination"}}},
      {R::FreeSpecial, "free_special", "a special record is freed, e.g. a sampled object died (runtime.freeSpecial)",
       {{"runtime.freeSpecial"}}},
      {R::NewprocQueue, "newproc_queue",
       "a new goroutine is queued (the CALL runtime.runqput in runtime.newproc.func1)",
       {{"runtime.newproc.func1"}}},
      {R::Gdestroy, "gdestroy", "goroutine teardown, on g0 (runtime.gdestroy, 1.22+)", {{"runtime.gdestroy", 22}},
       22},
      {R::GcPauseEnd, "gc_pause_end",
       "a GC pause ends, at the time the runtime counts ((*gcCPULimiterState).finishGCTransition, 1.19+)",
       {{"runtime.(*gcCPULimiterState).finishGCTransition", 19}}, 19},
      {R::Execute, "execute", "a runnable goroutine starts running on an M (runtime.execute)",
       {{"runtime.execute"}}},
      {R::GoschedImpl, "gosched_impl", "a goroutine yields or is preempted back to the run queue (runtime.goschedImpl)",
       {{"runtime.goschedImpl"}}},
      {R::GoyieldM, "goyield_m", "a goroutine yields onto its P's local run queue (runtime.goyield_m)",
       {{"runtime.goyield_m"}}},
      {R::ExitsyscallSlow, "exitsyscall_slow",
       "a goroutine back from a system call finds no P and becomes runnable (exitsyscall0; exitsyscallNoP 1.26+)",
       {{"runtime.exitsyscall0", 0, 25}, {"runtime.exitsyscallNoP", 26}}},
  };
  // clang-format on
  for (auto& spec : t) {
    switch (spec.role) {
      case R::SemacquireMutex:
      case R::SemacquireRWMutexR:
      case R::SemacquireRWMutex:
      case R::SemacquireWaitGroup:
      case R::SyncSemacquire:
      case R::NotifyListWait:
      case R::NotifyListNotifyOne:
      case R::NotifyListNotifyAll:
      case R::Mapassign:
      case R::MapassignFast32:
      case R::MapassignFast32ptr:
      case R::MapassignFast64:
      case R::MapassignFast64ptr:
      case R::MapassignFaststr:
      case R::HashGrow:  // only with a map assignment linked
      case R::MapGrowToSmall:
      case R::MapGrowToTable:
      case R::MapTableRehash:
        spec.always_linked = false;
        break;
      default:
        spec.always_linked = true;
    }
    // newproc's closure (it runs newproc1 on the system stack) queues the new
    // goroutine with runqput(pp, newg, true): at that call newg has its final
    // goid (1.19–1.23 assign it after the status change, so a probe on
    // newproc1's casgstatus would read the previous occupant's goid), its
    // gopc and startpc, and it is in BX (the second argument). Every release
    // 1.19–1.26 has this one direct call there (checked in
    // runtime_roles_test.cpp against every fixture).
    if (spec.role == R::NewprocQueue) spec.call_to = "runtime.runqput";
    // Roles named after 32-bit-only symbols never exist on amd64 or arm64.
    if (spec.role == R::MapassignFast32ptr) spec.only_32bit = true;
  }
  return t;
}

const std::vector<RoleSpec>& table() {
  static const std::vector<RoleSpec> t = [] {
    auto built = build_table();
    // Index by role: the table above is written in enum order; keep it so.
    std::vector<RoleSpec> by_role;
    by_role.reserve(kProbeRoleCount);
    for (size_t i = 0; i < kProbeRoleCount; ++i)
      for (auto& s : built)
        if (static_cast<size_t>(s.role) == i) by_role.push_back(s);
    return by_role;
  }();
  return t;
}

bool in_range(int minor, int lo, int hi) { return minor >= lo && minor <= hi; }

}  // namespace

const RoleSpec& role_spec(ProbeRole role) { return table().at(static_cast<size_t>(role)); }

std::span<const RoleSpec> all_roles() { return table(); }

bool role_expected(const RoleSpec& spec, int minor) {
  return in_range(minor, spec.min_minor, spec.max_minor);
}

std::optional<std::string_view> expected_symbol(ProbeRole role, int minor) {
  const RoleSpec& spec = role_spec(role);
  if (!role_expected(spec, minor)) return std::nullopt;
  for (const auto& c : spec.candidates)
    if (in_range(minor, c.min_minor, c.max_minor)) return c.symbol;
  return std::nullopt;
}

std::optional<std::string_view> resolve_role(ProbeRole role, const std::optional<GoVersion>& version,
                                             const Pclntab& pclntab) {
  const RoleSpec& spec = role_spec(role);
  if (version && version->major == 1) {
    for (const auto& c : spec.candidates)
      if (in_range(version->minor, c.min_minor, c.max_minor) && pclntab.function_by_name(c.symbol))
        return c.symbol;
  }
  // Unknown version, or a binary that surprises the table.
  for (const auto& c : spec.candidates)
    if (pclntab.function_by_name(c.symbol)) return c.symbol;
  return std::nullopt;
}

}  // namespace gotrace
