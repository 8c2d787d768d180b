// gotrace block: the park tracking of bpf/park_tracking.bpf.h, aggregated by
// block.bpf.c per (stack, reason) and per waker; long waits through the
// ring buffer. This file configures it and turns its maps into the model.
#include <bpf/bpf.h>
#include <fmt/format.h>
#include <time.h>

#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "commands/block/block_types.h"
// The skeleton after the records it embeds.
#include "block.skel.h"
#include "commands/block/block_command.h"
#include "commands/block/block_report.h"
#include "commands/block/block_writer.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/session/park_tracking.h"
#include "gotrace/session/trace_command.h"
#include "gotrace/snapshot/goroutines.h"
#include "gotrace/util/clock.h"
#include "gotrace/util/log.h"
#include "gotrace/util/signals.h"

namespace gotrace {

const ProbeTable& block_probe_table() {
  static const ProbeTable table{"block", park_tracking_probes(0), true};
  return table;
}

namespace {

// Waits at least this long also travel through the ring buffer (the longest
// single waits, with goroutine ids); shorter ones are only aggregated.
constexpr uint64_t kMinEventNs = 1'000'000;
// The longest waits kept in user space; what does not fit is counted.
constexpr size_t kLongestKept = 4096;

// The id bpf/gotrace_common.bpf.h gives a stack (intern_walk): FNV-1a over
// its PCs, low bit set. A stack gotrace interns itself under this id is the
// same entry as the one a probe interns for the same PCs.
uint64_t bpf_stack_id(std::span<const __u64> pcs) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint64_t pc : pcs) h = (h ^ pc) * 0x100000001b3ULL;
  return h | 1;
}

// One meaning of "time blocked" in both modes: the goroutine-time spent
// parked inside the traced window, which is what the sampler measures. The
// probes see the waits that begin and end inside it; these are the others.
// A wait already under way when the trace began is found in a snapshot of
// every goroutine taken just before attaching and put in the programs' park
// table (time 0, the snapshot's stack), where a wake times it from the
// window's start, and a new park of its goroutine replaces it like any
// stale park; one still under way at the end is read from the park table
// and timed to the window's end.
struct PreWait {
  uint64_t sp = 0, pc = 0;  // where it parked (g.sched), as the snapshot saw it
  int64_t waitsince = 0;
  unsigned reason = 0;
  std::vector<uint64_t> pcs;  // its stack as the programs would walk it (freed once handed over)
};

class BlockCommand final : public SkeletonCommand<block_bpf> {
 public:
  explicit BlockCommand(const BlockConfig& config)
      : SkeletonCommand({block_bpf__open, block_bpf__load, block_bpf__destroy}, "block"), config_(config) {}

  const ProbeTable& probes() const override { return block_probe_table(); }
  std::string what() const override { return "goroutine blocking"; }

  Result<void> prepare(TraceContext& tc) override {
    if (tc.binary->wait_reasons()) reasons_ = *tc.binary->wait_reasons();
    auto mask = reason_mask(reasons_, config_.reasons);
    if (!mask) return mask.error();
    mask_ = *mask;
    return {};
  }
  uint32_t options(const TraceContext& tc) const override {
    return park_tracking_options(const_cast<TraceContext&>(tc));
  }
  Result<void> configure(TraceContext& tc) override {
    snapshot_before(tc);
    auto* ro = skel().rodata;
    configure_park_tracking(ro, tc, reasons_);
    ro->min_event_ns = std::max<uint64_t>(config_.trace.min.count(), kMinEventNs);
    static_assert(sizeof(ro->reason_mask) == sizeof(ReasonMask));
    for (size_t i = 0; i < mask_.size(); ++i) ro->reason_mask[i] = mask_[i];
    return {};
  }
  Result<void> loaded(TraceContext& tc) override {
    // The snapshot's stacks into the programs' stack table, under the ids
    // the programs would give them, and its waits into the park table (both
    // empty: nothing is attached yet), as park_put would place them.
    const int stacks_fd = map_fd("stacks"), parked_fd = map_fd("parked"), spill_fd = map_fd("parked_spill");
    // At most a quarter of the stack table (32768) for these: the probes
    // need room for theirs.
    constexpr size_t kMaxBeforeStacks = 8192;
    std::unordered_set<uint64_t> interned;
    std::unordered_map<uint32_t, uint32_t> ways_used;
    int64_t spilled = 0;
    for (auto& [goid, w] : before_) {
      gt_stack st{};
      st.len = static_cast<uint32_t>(std::min<size_t>(w.pcs.size(), GT_MAX_STACK_DEPTH));
      std::copy_n(w.pcs.begin(), st.len, st.pcs);
      const uint64_t id = bpf_stack_id(std::span<const __u64>(st.pcs, st.len));
      gt_parked p{};  // t_park_ns 0: under way when the trace began
      p.stack_id = id;
      p.reason = w.reason;
      if (!interned.count(id)) {
        if (interned.size() >= kMaxBeforeStacks ||
            (bpf_map_update_elem(stacks_fd, &id, &st, BPF_NOEXIST) != 0 && errno != EEXIST)) {
          p.stack_id = GT_NO_STACK;
          ++before_without_stack_;
        } else {
          interned.insert(id);
        }
      }
      const uint32_t set = static_cast<uint32_t>(goid) & (GT_PARK_SETS - 1);
      uint32_t& used = ways_used[set];
      if (used < 2) {
        gt_park_slot slot{};
        slot.goid = goid;
        slot.p = p;
        const uint32_t index = set * 2 + used;
        if (bpf_map_update_elem(parked_fd, &index, &slot, BPF_ANY) == 0) {
          ++used;
          ++seeded_;
        }
      } else if (bpf_map_update_elem(spill_fd, &goid, &p, BPF_NOEXIST) == 0) {
        ++spilled;
        ++seeded_;
      }
      w.pcs = {};  // (the place stays, for the check at the end)
    }
    skel().bss->spill_live = spilled;
    return {};
  }
  void at_edge(TraceContext& tc, Edge edge) override {
    if (edge == Edge::Began) {
      window_start_ns_ = monotonic_now_ns();
      skel().bss->window_start_ns = window_start_ns_;
    } else {
      window_end_ns_ = monotonic_now_ns();
    }
  }
  void on_event(const void* data, size_t size) override {
    if (size < sizeof(gt_block_event)) return;
    const auto* e = static_cast<const gt_block_event*>(data);
    longest_.add({e->goid, e->waker_goid, e->duration_ns, e->reason, "", e->stack_id, e->waker_stack_id,
                  static_cast<WakerKind>(e->waker_kind)});
  }
  CounterSpecs counters() const override { return counter_specs({park_counter_specs()}); }
  uint32_t rate_counter() const override { return GT_CNT_PARKS; }
  std::string status(const Counters& c, double rate) const override {
    return fmt::format("{:.0f} parks/s  {} waits ended  {} dropped", rate, c[GT_CNT_WAKES], drops(c));
  }

  Result<std::optional<CommandProfile>> report(TraceContext& tc, TraceOutcome& outcome,
                                               const TraceConfig& config, std::ostream& out) override {
    BlockReport report;
    report.min_ns = static_cast<uint64_t>(config.min.count());
    report.show_runtime_background = !config_.reasons.empty();  // an explicit --reason shows what it names
    report.summary = outcome.summary;
    account_park_evictions(report.summary, outcome.counters, map_fd("parked"), map_fd("parked_spill"), true,
                           seeded_);
    report.stacks = tc.read_stacks(map_fd("stacks"));

    BlockBuildInput in;
    for_each_map_entry<gt_waker_key, gt_waker_val>(map_fd("waker_agg"), [&](const auto& k, const auto& v) {
      in.wakers.push_back({k.stack_id, k.reason, static_cast<WakerKind>(k.waker_kind), k.waker_stack_id,
                           v.count, v.total_ns});
    });
    for_each_map_entry<gt_block_key, gt_block_val>(map_fd("block_agg"), [&](const auto& k, const auto& v) {
      RawBlockAgg a;
      a.stack_id = k.stack_id;
      a.reason = k.reason;
      a.count = v.count;
      a.total_ns = v.total_ns;
      a.min_wait_ns = v.min_ns;
      a.max_ns = v.max_ns;
      a.max_goid = v.max_goid;
      std::copy(std::begin(v.hist), std::end(v.hist), a.hist.begin());
      in.aggs.push_back(a);
    });
    if (longest_.not_kept())
      report.summary.notes.push_back(
          fmt::format("{} long waits beyond the {} longest were not kept for the list "
                      "of longest waits (they are in the totals)",
                      longest_.not_kept(), kLongestKept));
    in.longest = longest_.take();
    add_open_waits(tc, in, report, config);
    BlockBuildOptions bo;
    bo.min_ns = report.min_ns;
    bo.reason_name = [&](unsigned r) { return reasons_.name(r); };
    build_block_report(report, std::move(in), bo);

    BlockWriterOptions wo;
    wo.top = config.top;
    if (config.json)
      write_block_json(report, out, wo);
    else
      write_block_text(report, out, wo);
    return std::optional<CommandProfile>{
        CommandProfile{block_profile(report, tc.process.exe_target()), report.stacks, 1}};
  }

  // Over budget, block stops probing and samples goroutine states instead
  // (no probes at all); it cannot when --min asks for each wait's length.
  std::optional<CheaperWay> cheaper() const override {
    if (config_.trace.min.count() > 0) return std::nullopt;
    return CheaperWay{fmt::format("switched to sampling goroutine states at {:g} Hz (no probes; --sample)",
                                  kGovernorSampleHz),
                      true};
  }
  int run_instead(const TraceConfig& rest, const TraceSummary& carried,
                  const RenderedReport* earlier) override {
    BlockConfig sampled = config_;
    sampled.trace = rest;
    sampled.sample_hz = kGovernorSampleHz;
    return run_block_sample(sampled, &carried, earlier);
  }

 private:
  // The goroutines parked (with a wanted reason) just before attaching.
  void snapshot_before(TraceContext& tc) {
    before_.clear();
    auto reader = GoroutineReader::create(*tc.binary, tc.process.pid(), tc.load_bias);
    if (!reader) {
      tc.notes.push_back("waits under way when the trace began are not counted: " + reader.error().message);
      return;
    }
    reader_.emplace(std::move(*reader));
    reader_->set_cancel([] { return stop_signal() != 0; });  // a Ctrl-C ends the read at once
    auto snap = reader_->snapshot();
    if (!snap) {
      tc.notes.push_back("waits under way when the trace began are not counted: " + snap.error().message);
      return;
    }
    // The snapshot's innermost PC is inside gopark (where mcall saved it);
    // the probe's is gopark's probe site. The same wait, the same stack.
    const PlannedSite* gopark = tc.site(ProbeRole::Gopark);
    for (const Goroutine& g : snap->goroutines) {
      if (g.status != GStatus::Waiting && g.status != GStatus::Leaked) continue;
      if (!mask_has(mask_, g.wait_reason)) continue;
      PreWait w{g.saved_sp, g.saved_pc, g.waitsince, g.wait_reason, g.stack};
      // The programs' walk keeps the return address into goexit, last.
      if (g.goexit_ret) w.pcs.push_back(g.goexit_ret);
      if (gopark && !w.pcs.empty()) {
        const uint64_t link = w.pcs[0] - tc.load_bias;
        if (link >= gopark->function.entry && link < gopark->function.end)
          w.pcs[0] = gopark->code.entry_site->address + tc.load_bias;
      }
      before_.emplace(g.goid, std::move(w));
    }
  }

  // Waits not over inside the traced window, each timed for its part in it.
  void add_open_waits(TraceContext& tc, BlockBuildInput& in, BlockReport& report, const TraceConfig& config) {
    if (!reader_ || !window_start_ns_ || !window_end_ns_) return;
    reader_->set_cancel(nullptr);  // (the trace is over: its end is read whatever ended it)
    auto snap = reader_->snapshot();
    if (!snap) {
      report.summary.notes.push_back("waits still under way at the end are not counted: " +
                                     snap.error().message);
      return;
    }
    std::unordered_map<uint64_t, const Goroutine*> parked_now;
    for (const Goroutine& g : snap->goroutines)
      if (g.status == GStatus::Waiting || g.status == GStatus::Leaked) parked_now.emplace(g.goid, &g);
    std::map<std::pair<uint64_t, unsigned>, size_t> index;
    for (size_t i = 0; i < in.aggs.size(); ++i)
      index.emplace(std::pair{in.aggs[i].stack_id, in.aggs[i].reason}, i);
    const uint64_t min_ns = static_cast<uint64_t>(config.min.count());
    uint64_t open_at_end = 0, whole = 0, cancelled = 0, unseen = 0;
    auto add = [&](uint64_t goid, uint64_t stack_id, unsigned reason, uint64_t dt) {
      if (dt < std::max<uint64_t>(min_ns, 1)) return;
      auto [it, added] = index.emplace(std::pair{stack_id, reason}, in.aggs.size());
      if (added) {
        RawBlockAgg a;
        a.stack_id = stack_id;
        a.reason = reason;
        in.aggs.push_back(a);
      }
      RawBlockAgg& a = in.aggs[it->second];
      ++a.count;
      ++a.open;
      a.total_ns += dt;
      ++a.hist[log2_bucket(dt)];
      if (!a.min_wait_ns || dt < a.min_wait_ns) a.min_wait_ns = dt;
      if (dt > a.max_ns) {
        a.max_ns = dt;
        a.max_goid = goid;
      }
    };
    // Parks the probes saw whose goroutine is still parked for that reason:
    // open at the end. The others were cancelled (gopark's unlock function
    // said no) and never were waits.
    // Waits from before the trace (time 0) that no wake ended and no new
    // park replaced: parked all along if the goroutine is still where the
    // first snapshot saw it (same saved SP, PC and GC stamp); otherwise it
    // woke unseen, before the probes were on, and had no time inside the
    // window.
    auto open_park = [&](uint64_t goid, const gt_parked& p) {
      auto it = parked_now.find(goid);
      if (!p.t_park_ns) {
        auto b = before_.find(goid);
        if (b == before_.end() || it == parked_now.end() || it->second->saved_sp != b->second.sp ||
            it->second->saved_pc != b->second.pc || it->second->waitsince != b->second.waitsince) {
          ++unseen;
          return;
        }
        ++whole;
        add(goid, p.stack_id, p.reason, window_end_ns_ - window_start_ns_);
        return;
      }
      if (it == parked_now.end() || it->second->wait_reason != p.reason) {
        ++cancelled;
        return;
      }
      const uint64_t from = std::max<uint64_t>(p.t_park_ns, window_start_ns_);
      ++open_at_end;
      add(goid, p.stack_id, p.reason, window_end_ns_ > from ? window_end_ns_ - from : 0);
    };
    for_each_array_entry<gt_park_slot>(map_fd("parked"), [&](uint32_t, const gt_park_slot& slot) {
      if (slot.goid) open_park(slot.goid, slot.p);
    });
    for_each_map_entry<uint64_t, gt_parked>(
        map_fd("parked_spill"), [&](const uint64_t& goid, const gt_parked& p) { open_park(goid, p); });
    auto& k = report.summary.counters;
    k["waits_open_at_end"] = open_at_end;
    k["waits_open_all_along"] = whole;
    k["parks_cancelled"] = cancelled;
    k["waits_from_before_ended_unseen"] = unseen;
    k["waits_from_before_without_stack"] = before_without_stack_;
    const uint64_t from_before = k["waits_from_before_ended"];
    if (open_at_end + whole + from_before)
      report.summary.notes.push_back(fmt::format(
          "every wait counts for its time inside the traced window (as --sample counts it): {} were "
          "under way when it began ({} of them still at its end), {} begun in it were still under way "
          "at its end",
          from_before + whole, whole, open_at_end));
  }

  static constexpr double kGovernorSampleHz = 49;
  const BlockConfig& config_;
  WaitReasons reasons_;
  ReasonMask mask_{};
  LongestWaits longest_{kLongestKept};
  std::optional<GoroutineReader> reader_;
  std::unordered_map<uint64_t, PreWait> before_;  // goid -> its wait at the snapshot before attaching
  uint64_t window_start_ns_ = 0, window_end_ns_ = 0;
  uint64_t before_without_stack_ = 0;
  uint64_t seeded_ = 0;  // waits from before put in the park table
};

static_assert(GT_HIST_BUCKETS == kHistBuckets, "BPF and model histograms must have the same buckets");
static_assert(GT_WAKER_GOROUTINE == static_cast<int>(WakerKind::Goroutine) &&
                  GT_WAKER_NETPOLL == static_cast<int>(WakerKind::Netpoll) &&
                  GT_WAKER_RUNTIME == static_cast<int>(WakerKind::Runtime),
              "waker kinds must agree between BPF and the model");

}  // namespace

int run_block(const BlockConfig& config) {
  BlockCommand cmd(config);
  return run_trace(cmd, config.trace);
}

}  // namespace gotrace
