// gotrace lock: lock.bpf.c pairs each contended acquire with the
// release that hands the lock over; with chains on it also follows every
// goroutine wait (park_tracking.bpf.h). This file configures it and turns
// its maps and long-wait events into the model.
#include "commands/lock/lock_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "commands/lock/lock_report.h"
#include "commands/lock/lock_types.h"
#include "commands/lock/lock_writer.h"
#include "gotrace/elf/data_symbols.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/session/park_tracking.h"
#include "gotrace/session/trace_command.h"
#include "lock.skel.h"

namespace gotrace {

namespace {
// ProbeSpec::needs bits of the lock table.
constexpr uint32_t kChains = 1;        // follow every goroutine wait (what holders were blocked on)
constexpr uint32_t kRuntimeLocks = 2;  // --kind runtime: the runtime's own mutex
}  // namespace

const ProbeTable& lock_probe_table() {
  // Attached in dependency order: chain tracking before the acquires and
  // releases it explains, the hand-over (which counts a wait) last. The
  // acquires are each linked only if the program uses the primitive.
  static const ProbeTable table = [] {
    ProbeTable t{"lock", park_tracking_probes(kChains), false};
    std::vector<ProbeSpec> rest = {
        {ProbeRole::Semrelease1, "release_entry", 0, true},
        {ProbeRole::NotifyListNotifyOne, "release_entry"},
        {ProbeRole::NotifyListNotifyAll, "release_entry"},
        {ProbeRole::SemacquireMutex, "acquire_entry", GT_LOCK_MUTEX},
        {ProbeRole::SemacquireRWMutexR, "acquire_entry", GT_LOCK_RWMUTEX_R},
        {ProbeRole::SemacquireRWMutex, "acquire_entry", GT_LOCK_RWMUTEX_W},
        {ProbeRole::SemacquireWaitGroup, "acquire_entry", GT_LOCK_WAITGROUP},
        {ProbeRole::SyncSemacquire, "acquire_entry", GT_LOCK_WAITGROUP},
        {ProbeRole::NotifyListWait, "acquire_entry", GT_LOCK_COND},
        {ProbeRole::ReadyWithTime, "handoff_entry", 0, true},
        // The runtime's own locks. Go ≤1.20 builds futexsleep/futexwakeup
        // without an emulated instruction before the frame is set up: their
        // first instruction is probed instead. From 1.24 (spinbit mutex)
        // lock2 sleeps in semasleep, then on the futex of its m.waitsema.
        {ProbeRole::Futexsleep, "rt_lock_sleep", 0, true, true, kRuntimeLocks, 0, 23},
        {ProbeRole::Futexsleep, "rt_futex_sleep", 0, true, true, kRuntimeLocks, 24},
        {ProbeRole::Semasleep, "rt_lock_sleep", 0, true, true, kRuntimeLocks, 24},
        {ProbeRole::Futexwakeup, "rt_futex_wake", 0, true, true, kRuntimeLocks},
    };
    t.probes.insert(t.probes.end(), rest.begin(), rest.end());
    return t;
  }();
  return table;
}

namespace {

// Long waits (≥ kMinEventNs or --min) travel through the ring buffer for the
// deeper chain links and the longest-waits list; at most this many are kept
// (the longest), and the rest are counted.
constexpr uint64_t kMinEventNs = 100'000;
constexpr size_t kEventsKept = 100'000;

constexpr CounterSpec kLockCounters[] = {GT_LOCK_COUNTERS(GT_CNT_SPEC_ENTRY)};

class LockCommand final : public SkeletonCommand<lock_bpf> {
 public:
  explicit LockCommand(const LockConfig& config)
      : SkeletonCommand({lock_bpf__open, lock_bpf__load, lock_bpf__destroy}, "lock"), config_(config) {}

  const ProbeTable& probes() const override { return lock_probe_table(); }
  std::string what() const override { return "contended locks"; }

  // No --kind: the sync primitives. The runtime's own locks cost more to
  // follow (their probes also see Ms going idle) and are asked for by name.
  Result<void> validate() override {
    // Every item is checked, "all" included among others ("all,nosuch" is
    // as wrong as "nosuch").
    bool all = false;
    for (const auto& k : config_.kinds) {
      if (k == "all") {
        all = true;
        continue;
      }
      auto kind = parse_lock_kind(k);
      if (!kind)
        return make_error("unknown --kind '{}' (mutex, rwmutex-r, rwmutex-w, waitgroup, cond, runtime, all)",
                          k);
      kinds_.push_back(*kind);
    }
    if (all) {
      kinds_.clear();
      for (size_t i = 0; i < kLockKindCount; ++i) kinds_.push_back(static_cast<LockKind>(i));
    }
    runtime_locks_ = std::find(kinds_.begin(), kinds_.end(), LockKind::Runtime) != kinds_.end();
    return {};
  }

  Result<void> prepare(TraceContext& tc) override {
    if (tc.binary->wait_reasons()) reasons_ = *tc.binary->wait_reasons();
    sync_reasons_ = reason_mask_where(
        reasons_, [](const std::string& n) { return n == "semacquire" || n.starts_with("sync."); });
    chains_ = config_.chains && tc.site(ProbeRole::Gopark) && tc.site(ProbeRole::Ready);
    if (config_.chains && !chains_)
      tc.notes.push_back("wait chains off: no probe site for runtime.gopark or runtime.ready");
    return {};
  }
  // Over budget, the first thing to go is following every goroutine wait.
  // Then, the probes are attached in time windows, the counts scaled.
  std::optional<CheaperWay> cheaper() const override {
    if (chains_) return CheaperWay{"dropped the wait chains (--no-chains) and started again", false};
    if (!windowed_)
      return CheaperWay{"attaching the probes in time windows from now on (counts and times scaled)", false,
                        true};
    return std::nullopt;
  }
  // Dropping the chains starts again with new programs (what the old ones
  // saw goes with them); windows go on with the same ones, in place (the
  // runner keeps the pass), and keep what they saw.
  void take_cheaper(TraceContext&) override {
    if (!chains_) {
      windowed_ = true;
      return;
    }
    chains_ = false;
    events_.clear();
    events_not_kept_ = 0;
    waits_cut_ = 0;
  }
  bool windowed() const override { return windowed_; }
  // With no probe attached: waits that began before the gap (and who was
  // releasing or holding what) cannot be followed into the next window.
  void between_windows() override {
    waits_cut_ += clear_map(map_fd("pending"));
    for (const char* m : {"releasing", "held", "releases", "rt_pending", "rt_sleeper"}) clear_map(map_fd(m));
  }

  uint32_t options(const TraceContext& tc) const override {
    uint32_t o = runtime_locks_ ? kRuntimeLocks : 0;
    if (chains_) o |= kChains | park_tracking_options(const_cast<TraceContext&>(tc));
    return o;
  }
  Result<void> configure(TraceContext& tc) override {
    auto* ro = skel().rodata;
    configure_park_tracking(ro, tc, reasons_);
    ro->min_event_ns = std::max<uint64_t>(config_.trace.min.count(), kMinEventNs);
    static_assert(sizeof(ro->sync_reason_mask) == sizeof(ReasonMask));
    for (size_t i = 0; i < sync_reasons_.size(); ++i) ro->sync_reason_mask[i] = sync_reasons_[i];
    ro->handoff_check = site_check(*tc.site(ProbeRole::ReadyWithTime));
    ro->rt_spinbit = tc.binary->version().at_least(1, 24);
    return {};
  }
  Result<void> check_attached(const TraceContext& tc, const std::vector<ProbeRole>& attached) override {
    if (runtime_locks_) return {};
    for (ProbeRole r :
         {ProbeRole::SemacquireMutex, ProbeRole::SemacquireRWMutexR, ProbeRole::SemacquireRWMutex,
          ProbeRole::SemacquireWaitGroup, ProbeRole::SyncSemacquire, ProbeRole::NotifyListWait})
      if (std::find(attached.begin(), attached.end(), r) != attached.end()) return {};
    return make_error("PID {} ({}): no contended-acquire entry point of a sync primitive to probe",
                      tc.process.pid(), tc.process.comm());
  }
  void on_event(const void* data, size_t size) override {
    if (size < sizeof(gt_lock_event)) return;
    const auto* e = static_cast<const gt_lock_event*>(data);
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
    keep_event(std::move(r));
  }
  std::string extra() const override { return chains_ ? ", wait chains on" : ""; }
  CounterSpecs counters() const override { return counter_specs({park_counter_specs(false), kLockCounters}); }
  uint32_t rate_counter() const override { return GT_CNT_LOCK_WAITS; }
  std::string status(const Counters& c, double rate) const override {
    return fmt::format("{:.0f} contended waits/s  {} handed over  {} dropped", rate, c[GT_CNT_HANDOFFS],
                       drops(c) + events_not_kept_);
  }

  Result<std::optional<CommandProfile>> report(TraceContext& tc, TraceOutcome& outcome,
                                               const TraceConfig& config, std::ostream& out) override {
    LockReport report;
    report.min_ns = static_cast<uint64_t>(config.min.count());
    report.chains = chains_;
    report.kinds = kinds_;
    report.summary = outcome.summary;
    if (events_not_kept_) {
      report.summary.counters["long_waits_not_kept"] = events_not_kept_;  // in the totals: not dropped
      report.summary.notes.push_back(
          fmt::format("{} long waits beyond the {} longest were not kept: they are in the totals, but not in "
                      "the longest waits "
                      "or the deeper chain links",
                      events_not_kept_, kEventsKept));
    }
    if (chains_)
      account_park_evictions(report.summary, outcome.counters, map_fd("parked"), map_fd("parked_spill"),
                             false);  // lock's parks are its chains' links, not its events
    uint64_t pending_left = 0;
    for_each_map_entry<uint64_t, gt_lock_pending>(map_fd("pending"),
                                                  [&](const auto&, const auto&) { ++pending_left; });
    const Counters& c = outcome.counters;
    account_lru_evictions(report.summary, "drop_pending_evicted", c[GT_CNT_PENDING_ADDED],
                          c[GT_CNT_PENDING_REMOVED] + waits_cut_, c[GT_CNT_PENDING_REPLACED], pending_left);
    if (windowed_) report.summary.counters["waits_cut_at_window_end"] = waits_cut_;
    report.stacks = tc.read_stacks(map_fd("stacks"));

    // Probes attached in windows: what they saw stands for the whole time.
    const double scale = 1 / outcome.summary.attached_fraction;
    auto scaled = [scale](uint64_t v) {
      return static_cast<uint64_t>(std::llround(static_cast<double>(v) * scale));
    };
    LockBuildInput in;
    for_each_map_entry<gt_lock_key, gt_lock_val>(map_fd("lock_agg"), [&](const auto& k, const auto& v) {
      RawLockAgg a;
      a.kind = static_cast<LockKind>(k.kind < GT_LOCK__COUNT ? k.kind : 0);
      a.waiter_stack = k.waiter_stack;
      a.releaser_stack = k.releaser_stack;
      a.sema_addr = k.addr;
      a.count = scaled(v.count);
      a.total_ns = scaled(v.total_ns);
      a.min_ns = v.min_ns;
      a.max_ns = v.max_ns;
      a.max_goid = v.max_goid;
      a.max_releaser_goid = v.max_releaser_goid;
      std::transform(std::begin(v.hist), std::end(v.hist), a.hist.begin(), scaled);
      in.aggs.push_back(a);
    });
    for_each_map_entry<gt_chain_key, gt_chain_val>(map_fd("chain_agg"), [&](const auto& k, const auto& v) {
      RawChainAgg c;
      c.kind = static_cast<LockKind>(k.kind < GT_LOCK__COUNT ? k.kind : 0);
      c.waiter_stack = k.waiter_stack;
      c.releaser_stack = k.releaser_stack;
      c.chain_stack = k.chain_stack;
      c.reason = k.reason;
      c.count = scaled(v.count);
      c.overlap_ns = scaled(v.overlap_ns);
      c.goid = v.example_goid;
      in.chains.push_back(c);
    });
    for_each_map_entry<gt_blame_key, gt_blame_val>(map_fd("blame_agg"), [&](const auto& k, const auto& v) {
      RawBlameAgg b;
      b.kind = static_cast<LockKind>(k.kind < GT_LOCK__COUNT ? k.kind : 0);
      b.waiter_stack = k.waiter_stack;
      b.releaser_stack = k.releaser_stack;
      b.sema_addr = k.addr;
      b.holder_stack = k.holder_stack == GT_BLAME_NOT_KEPT ? kBlameNotKept : k.holder_stack;
      b.total_ns = scaled(v.total_ns);
      b.waits = scaled(v.waits);
      b.max_hold_ns = v.max_hold_ns;
      b.goid = v.max_goid;
      in.blame.push_back(b);
    });
    if (uint64_t t = c[GT_CNT_BLAME_TRUNCATED])
      report.summary.notes.push_back(fmt::format(
          "{} waits began before the oldest of the last {} releases their lock's ring kept (or the ring was "
          "evicted): that part of them is blamed on \"earlier holders (not kept)\"",
          t, GT_RELEASES));
    in.events = std::move(events_);

    DataSymbols globals(tc.binary->elf(), tc.load_bias);
    LockBuildOptions bo;
    bo.kinds = kinds_;
    bo.min_ns = report.min_ns;
    bo.reason_name = [&](unsigned r) { return reasons_.name(r); };
    bo.is_sync_reason = [&](unsigned r) { return mask_has(sync_reasons_, r); };
    bo.lock_name = [&](uint64_t addr) { return globals.name(addr); };
    build_lock_report(report, in, bo);
    if (globals.empty() && !report.locks.empty())
      report.summary.notes.push_back("no symbol table (stripped binary): locks are shown by address");

    LockWriterOptions wo;
    wo.top = config.top;
    wo.by_lock = config_.by_lock;
    if (config.json)
      write_lock_json(report, out, wo);
    else
      write_lock_text(report, out, wo);
    return std::optional<CommandProfile>{
        CommandProfile{lock_profile(report, tc.process.exe_target()), report.stacks, 1}};
  }

 private:
  // Keeps the kEventsKept longest events; counts the rest.
  void keep_event(RawLockEvent&& r) {
    auto shorter = [](const RawLockEvent& a, const RawLockEvent& b) {
      return a.t_end_ns - a.t_start_ns > b.t_end_ns - b.t_start_ns;
    };
    if (events_.size() < kEventsKept) {
      events_.push_back(std::move(r));
      if (events_.size() == kEventsKept) std::make_heap(events_.begin(), events_.end(), shorter);
      return;
    }
    ++events_not_kept_;
    if (r.t_end_ns - r.t_start_ns <= events_.front().t_end_ns - events_.front().t_start_ns) return;
    std::pop_heap(events_.begin(), events_.end(), shorter);
    events_.back() = std::move(r);
    std::push_heap(events_.begin(), events_.end(), shorter);
  }

  const LockConfig& config_;
  std::vector<LockKind> kinds_;
  bool runtime_locks_ = false;
  bool chains_ = false;
  bool windowed_ = false;   // the governor attaches the probes in windows
  uint64_t waits_cut_ = 0;  // waits pending when a window closed (forgotten, not lost from a full table)
  WaitReasons reasons_;
  ReasonMask sync_reasons_{};
  std::vector<RawLockEvent> events_;
  uint64_t events_not_kept_ = 0;
};

static_assert(GT_LOCK__COUNT == kLockKindCount, "lock kinds must agree between BPF and the model");
static_assert(GT_LOCK_MUTEX == static_cast<int>(LockKind::Mutex) &&
                  GT_LOCK_RWMUTEX_R == static_cast<int>(LockKind::RWMutexR) &&
                  GT_LOCK_RWMUTEX_W == static_cast<int>(LockKind::RWMutexW) &&
                  GT_LOCK_WAITGROUP == static_cast<int>(LockKind::WaitGroup) &&
                  GT_LOCK_COND == static_cast<int>(LockKind::Cond) &&
                  GT_LOCK_RUNTIME == static_cast<int>(LockKind::Runtime),
              "lock kinds must agree between BPF and the model");

}  // namespace

int run_lock(const LockConfig& config) {
  LockCommand cmd(config);
  return run_trace(cmd, config.trace);
}

}  // namespace gotrace
