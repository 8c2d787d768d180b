// gotrace lock: plan -> load -> attach -> poll -> read maps -> report.
#include "gotrace/cli/commands.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/model/lock_report.h"
#include "gotrace/probes/probe_plan.h"
#include "gotrace/report/lock_writer.h"
#include "gotrace/session/bpf_util.h"
#include "gotrace/session/trace_context.h"
#include "gotrace/session/trace_loop.h"
#include "gotrace/session/trace_run.h"
#include "gotrace/report/profile_writers.h"

#include "gotrace/bpf/lock_types.h"
#include "lock.skel.h"

#include <bpf/bpf.h>
#include <elf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <unistd.h>

namespace gotrace {

namespace {

int on_lock_event(void* ctx, void* data, size_t size) {
  auto* events = static_cast<std::vector<RawLockEvent>*>(ctx);
  if (size < sizeof(gt_lock_event)) return 0;
  const auto* e = static_cast<const gt_lock_event*>(data);
  if (events->size() >= 100'000) return 0;  // the longest are kept by the aggregates anyway
  RawLockEvent r;
  r.kind = static_cast<LockKind>(e->kind < GT_LOCK__COUNT ? e->kind : 0);
  r.goid = e->goid;
  r.releaser_goid = e->releaser_goid;
  r.sema_addr = e->addr;
  r.t_start_ns = e->t_start_ns;
  r.t_end_ns = e->t_end_ns;
  r.t_held_ns = e->t_held_ns;
  r.waiter_stack = e->waiter_stack;
  r.releaser_stack = e->releaser_stack;
  for (uint32_t i = 0; i < std::min<uint32_t>(e->nchain, GT_CHAIN_IN_EVENT); ++i)
    r.chain.push_back({e->chain[i].t0_ns, e->chain[i].t1_ns, e->chain[i].stack_id, e->chain[i].reason});
  events->push_back(std::move(r));
  return 0;
}

// Names of global variables (ELF data symbols), by runtime address.
class DataSymbols {
 public:
  DataSymbols(const ElfImage& elf, uint64_t bias) : bias_(bias) {
    for (const auto& s : elf.symbols())
      if (s.type == STT_OBJECT && s.size && !s.name.empty()) syms_.push_back(&s);
    std::sort(syms_.begin(), syms_.end(), [](const ElfSymbol* a, const ElfSymbol* b) { return a->value < b->value; });
  }
  std::string name(uint64_t runtime_addr) const {
    uint64_t a = runtime_addr - bias_;
    auto it = std::upper_bound(syms_.begin(), syms_.end(), a,
                               [](uint64_t v, const ElfSymbol* s) { return v < s->value; });
    if (it == syms_.begin()) return "";
    const ElfSymbol* s = *std::prev(it);
    if (a >= s->value + s->size) return "";
    return a == s->value ? s->name : fmt::format("{}+{:#x}", s->name, a - s->value);
  }
  bool empty() const { return syms_.empty(); }

 private:
  uint64_t bias_;
  std::vector<const ElfSymbol*> syms_;
};

template <typename K, typename V, typename F>
void for_each_entry(int fd, F&& f) {
  K k{}, next{};
  V v{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, &v) == 0) f(next, v);
    k = next;
    prev = &k;
  }
}

}  // namespace

int run_lock(const LockConfig& config) {
  // No --kind: the sync primitives. The runtime's own locks cost more to
  // follow (their probes also see Ms going idle) and are asked for by name.
  std::vector<LockKind> kinds;
  for (const auto& k : config.kinds) {
    if (k == "all") {
      kinds.clear();
      for (size_t i = 0; i < kLockKindCount; ++i) kinds.push_back(static_cast<LockKind>(i));
      break;
    }
    auto kind = parse_lock_kind(k);
    if (!kind) {
      fmt::print(stderr,
                 "gotrace lock: unknown --kind '{}' (mutex, rwmutex-r, rwmutex-w, waitgroup, cond, runtime, all)\n", k);
      return kExitUsage;
    }
    kinds.push_back(*kind);
  }
  const bool runtime_locks = std::find(kinds.begin(), kinds.end(), LockKind::Runtime) != kinds.end();

  auto ctx = TraceContext::prepare(config.trace.pid, Command::Lock);
  if (!ctx) {
    fmt::print(stderr, "gotrace: {}\n", ctx.error().message);
    return kExitFailure;
  }
  TraceContext& tc = *ctx;
  const GoBinary& bin = *tc.binary;
  WaitReasons reasons;
  if (bin.wait_reasons()) reasons = *bin.wait_reasons();

  install_libbpf_logging();
  SkeletonPtr<lock_bpf> skel(lock_bpf__open(), lock_bpf__destroy);
  if (!skel) {
    fmt::print(stderr, "gotrace: {}\n", explain_bpf_error(errno, "opening the lock BPF program"));
    return kExitFailure;
  }
  // Long waits go to user space for deeper chains and the longest-waits list.
  const uint64_t event_min_ns = std::max<uint64_t>(config.trace.min.count(), 100'000);
  auto* ro = skel->rodata;
  configure_park_tracking(ro, tc, config.trace, reasons);
  ro->min_event_ns = event_min_ns;
  for (unsigned v = 0; v < 256; ++v) {
    std::string n = reasons.name(v);
    if (n == "semacquire" || n.starts_with("sync.")) ro->sync_reason_mask[v / 64] |= 1ULL << (v % 64);
  }
  ro->handoff_check = site_check(*tc.site(ProbeRole::ReadyWithTime));
  // 1.24+ (spinbit mutex): lock2 sleeps in semasleep; before, on the lock's futex.
  const bool rt_spinbit = tc.site(ProbeRole::Unlock2Wake) && tc.site(ProbeRole::Semasleep);
  ro->rt_spinbit = rt_spinbit;

  bool chains = config.chains && tc.site(ProbeRole::Gopark) && tc.site(ProbeRole::Ready);
  if (config.chains && !chains) tc.notes.push_back("wait chains off: no probe site for runtime.gopark or runtime.ready");

  if (int err = lock_bpf__load(skel.get())) {
    fmt::print(stderr, "gotrace: {}\n", explain_bpf_error(err, "loading the lock BPF program"));
    return kExitFailure;
  }

  // Attached in dependency order: chain tracking before the acquires and
  // releases it explains, the hand-over (which counts a wait) last.
  std::vector<ProbeWant> wants;
  if (chains) wants = park_tracking_wants(skel->progs, tc);
  wants.insert(wants.end(), {
      {skel->progs.release_entry, ProbeRole::Semrelease1, 0, true},
      {skel->progs.release_entry, ProbeRole::NotifyListNotifyOne, 0, false},
      {skel->progs.release_entry, ProbeRole::NotifyListNotifyAll, 0, false},
      {skel->progs.acquire_entry, ProbeRole::SemacquireMutex, GT_LOCK_MUTEX, false},
      {skel->progs.acquire_entry, ProbeRole::SemacquireRWMutexR, GT_LOCK_RWMUTEX_R, false},
      {skel->progs.acquire_entry, ProbeRole::SemacquireRWMutex, GT_LOCK_RWMUTEX_W, false},
      {skel->progs.acquire_entry, ProbeRole::SemacquireWaitGroup, GT_LOCK_WAITGROUP, false},
      {skel->progs.acquire_entry, ProbeRole::SyncSemacquire, GT_LOCK_WAITGROUP, false},
      {skel->progs.acquire_entry, ProbeRole::NotifyListWait, GT_LOCK_COND, false},
      {skel->progs.handoff_entry, ProbeRole::ReadyWithTime, 0, true},
  });
  if (runtime_locks) {
    // Go ≤1.20 builds futexsleep/futexwakeup without an emulated instruction
    // before the frame is set up: their first instruction is probed instead.
    if (rt_spinbit) {
      wants.push_back({skel->progs.rt_futex_sleep, ProbeRole::Futexsleep, 0, true, true});
      wants.push_back({skel->progs.rt_lock_sleep, ProbeRole::Semasleep, 0, true, true});
    } else {
      wants.push_back({skel->progs.rt_lock_sleep, ProbeRole::Futexsleep, 0, true, true});
    }
    wants.push_back({skel->progs.rt_futex_wake, ProbeRole::Futexwakeup, 0, true, true});
  }
  LinkSet links;
  if (auto r = attach_wants(tc, config.trace.pid, wants, links); !r) {
    fmt::print(stderr, "gotrace: {}\n", r.error().message);
    return kExitFailure;
  }
  bool any_acquire = false;
  for (const auto& w : wants)
    if (w.prog == skel->progs.acquire_entry && tc.site(w.role)) any_acquire = true;
  if (!any_acquire && !runtime_locks) {
    fmt::print(stderr, "gotrace: PID {} ({}): no contended-acquire entry point of a sync primitive to probe\n",
               config.trace.pid, tc.process.comm());
    return kExitFailure;
  }

  std::vector<RawLockEvent> events;
  TraceRunSpec spec;
  spec.what = "contended locks";
  spec.extra = chains ? ", wait chains on" : "";
  spec.events_fd = bpf_map__fd(skel->maps.events);
  spec.on_event = on_lock_event;
  spec.event_ctx = &events;
  spec.counters_fd = bpf_map__fd(skel->maps.counters);
  spec.stopped = &skel->bss->tracing_stopped;
  spec.rate_counter = GT_CNT_LOCK_WAITS;
  spec.status = [](const Counters& c, double rate) {
    return fmt::format("{:.0f} contended waits/s  {} handed over  {} dropped", rate, c[GT_CNT_HANDOFFS],
                       total_drops(c));
  };
  auto run = run_attached(tc, config.trace, links, spec);
  if (!run) {
    fmt::print(stderr, "gotrace: {}\n", run.error().message);
    return kExitFailure;
  }
  const TraceLoopResult& result = run->loop;

  LockReport report;
  report.min_ns = static_cast<uint64_t>(config.trace.min.count());
  report.chains = chains;
  report.kinds = kinds;
  report.summary = tc.summary(result, run->counters, run->attached);
  report.summary.events = run->counters[GT_CNT_LOCK_WAITS];
  report.stacks = tc.read_stacks(bpf_map__fd(skel->maps.stacks));

  LockBuildInput in;
  for_each_entry<gt_lock_key, gt_lock_val>(bpf_map__fd(skel->maps.lock_agg), [&](const gt_lock_key& k,
                                                                                  const gt_lock_val& v) {
    RawLockAgg a;
    a.kind = static_cast<LockKind>(k.kind < GT_LOCK__COUNT ? k.kind : 0);
    a.waiter_stack = k.waiter_stack;
    a.releaser_stack = k.releaser_stack;
    a.sema_addr = k.addr;
    a.count = v.count;
    a.total_ns = v.total_ns;
    a.max_ns = v.max_ns;
    a.max_goid = v.max_goid;
    a.max_releaser_goid = v.max_releaser_goid;
    std::copy(std::begin(v.hist), std::end(v.hist), a.hist.begin());
    in.aggs.push_back(a);
  });
  for_each_entry<gt_chain_key, gt_chain_val>(bpf_map__fd(skel->maps.chain_agg), [&](const gt_chain_key& k,
                                                                                     const gt_chain_val& v) {
    RawChainAgg c;
    c.kind = static_cast<LockKind>(k.kind < GT_LOCK__COUNT ? k.kind : 0);
    c.waiter_stack = k.waiter_stack;
    c.releaser_stack = k.releaser_stack;
    c.chain_stack = k.chain_stack;
    c.reason = k.reason;
    c.count = v.count;
    c.overlap_ns = v.overlap_ns;
    c.goid = v.example_goid;
    in.chains.push_back(c);
  });
  in.events = std::move(events);

  DataSymbols globals(bin.elf(), tc.load_bias);
  LockBuildOptions bo;
  bo.kinds = kinds;
  bo.min_ns = report.min_ns;
  bo.reason_name = [&](unsigned r) { return reasons.name(r); };
  bo.is_sync_reason = [&](unsigned r) { return r < 256 && ((ro->sync_reason_mask[r / 64] >> (r % 64)) & 1); };
  bo.lock_name = [&](uint64_t addr) { return globals.name(addr); };
  build_lock_report(report, in, bo);
  if (globals.empty() && !report.locks.empty())
    report.summary.notes.push_back("no symbol table (stripped binary): locks are shown by address");

  LockWriterOptions wo;
  wo.top = config.trace.top;
  wo.by_lock = config.by_lock;
  if (config.trace.json) write_lock_json(report, std::cout, wo);
  else write_lock_text(report, std::cout, wo);
  bool wrote = write_profiles(config.trace, lock_profile(report, tc.process.exe_target()), *report.stacks);
  return result.reason == StopReason::Error || !wrote ? kExitFailure : kExitOk;
}

}  // namespace gotrace
