// gotrace alloc: alloc.bpf.c samples allocations by stack and type, sees
// every large object, map growth (--maps) and the GC's cycles and pauses.
// This file picks the sampler for the target (its MemProfileRate, read from
// its memory), configures the program, reads the GC state around events,
// and turns the maps into the model.
#include "commands/alloc/alloc_command.h"

#include "commands/alloc/alloc_report.h"
#include "commands/alloc/alloc_writer.h"
#include "gotrace/gobin/go_types.h"
#include "gotrace/gobin/size_classes.h"
#include "gotrace/gobin/size_specialized.h"
#include "gotrace/session/trace_command.h"
#include "gotrace/snapshot/gc_state.h"

// The skeleton needs the shared record types first.
#include <fmt/format.h>

#include <map>
#include <optional>

#include "commands/alloc/alloc_types.h"
// The skeleton after the records it embeds.
#include "alloc.skel.h"

namespace gotrace {

namespace {
// ProbeSpec::needs bits of the alloc table: one sampler per run, maps on request.
constexpr uint32_t kProfilealloc = 1;
constexpr uint32_t kRefill = 2;
constexpr uint32_t kExact = 4;
constexpr uint32_t kMaps = 8;
constexpr uint32_t kMapWrites = 16;
}  // namespace

const ProbeTable& alloc_probe_table() {
  static const ProbeTable table{
      "alloc",
      {
          {ProbeRole::Profilealloc, "sample_entry", 0, true, false, kProfilealloc},
          {ProbeRole::Refill, "sample_entry", 0, true, false, kRefill},
          {ProbeRole::Mallocgc, "sample_entry", 0, true, false, kExact},
          // 1.27+: compiled `new(T)` of <= 80 bytes calls these without mallocgc.
          {ProbeRole::MallocgcTinySC2, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallNoScanSC2, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallNoScanSC3, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallNoScanSC4, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallNoScanSC5, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallNoScanSC6, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallNoScanSC7, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallScanNoHeaderSC1, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallScanNoHeaderSC2, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallScanNoHeaderSC3, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallScanNoHeaderSC4, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallScanNoHeaderSC5, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallScanNoHeaderSC6, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::MallocgcSmallScanNoHeaderSC7, "sample_entry", 0, false, false, kExact, 27},
          {ProbeRole::AllocLarge, "large_entry", 0, true},
          {ProbeRole::HashGrow, "map_grow_entry", GT_MAP_HASHGROW, false, false, kMaps},
          // (Not growToSmall, 1.24+: the first insert into every new map, a
          // probe hit per map a service makes — 15–22% of a real server's
          // CPU — for rows that say "grew to 8 slots". The groups it
          // allocates are in the allocation profile by type.)
          {ProbeRole::MapGrowToTable, "map_grow_entry", GT_MAP_GROW_TO_TABLE, false, false, kMaps, 24},
          {ProbeRole::MapTableRehash, "map_grow_entry", GT_MAP_REHASH, false, false, kMaps, 24},
          // --map-writes: every map assignment. Each entry is optional: the
          // linker keeps only the variants the program uses. (The _fast32ptr
          // variant exists on 32-bit platforms only.)
          {ProbeRole::Mapassign, "map_write_entry", 0, false, false, kMapWrites},
          {ProbeRole::MapassignFast32, "map_write_entry", 0, false, false, kMapWrites},
          {ProbeRole::MapassignFast64, "map_write_entry", 0, false, false, kMapWrites},
          {ProbeRole::MapassignFast64ptr, "map_write_entry", 0, false, false, kMapWrites},
          {ProbeRole::MapassignFaststr, "map_write_entry", 0, false, false, kMapWrites},
          {ProbeRole::GcStart, "gc_entry", GT_GC_START, true},
          {ProbeRole::GcStartCycle, "gc_entry", GT_GC_CYCLE, true},
          {ProbeRole::StopTheWorld, "gc_entry", GT_GC_STW_STOP, true},
          {ProbeRole::StartTheWorld, "gc_entry", GT_GC_STW_START, true},
          // The runtime's own end of each GC pause (without it, the pause
          // ends at startTheWorldWithSema's entry: short by the restart).
          {ProbeRole::GcPauseEnd, "gc_entry", GT_GC_PAUSE_END, false, false, 0, 19},
      },
      false};
  return table;
}

namespace {

constexpr CounterSpec kAllocCounters[] = {GT_ALLOC_COUNTERS(GT_CNT_SPEC_ENTRY)};

constexpr const char* kExactNote =
    "--exact probes every allocation (runtime.mallocgc): each one costs a trap; use it for short traces";
constexpr const char* kMapWritesNote =
    "--map-writes probes every map assignment (runtime.mapassign*): each write pays a probe trap (the Map "
    "writes section states the cost per write measured on this host); for short traces";

class AllocCommand final : public SkeletonCommand<alloc_bpf> {
 public:
  explicit AllocCommand(const AllocConfig& config)
      : SkeletonCommand({alloc_bpf__open, alloc_bpf__load, alloc_bpf__destroy}, "alloc"), config_(config) {}

  const ProbeTable& probes() const override { return alloc_probe_table(); }
  std::string what() const override { return "allocations"; }

  Result<void> validate() override {
    auto by = parse_group_by(config_.by);
    if (!by) return make_error("--by {}: expected stack, function, package or type", config_.by);
    by_ = *by;
    return {};
  }

  Result<void> prepare(TraceContext& tc) override {
    plan_ = plan_gc_state(*tc.binary);
    for (const auto& n : plan_.notes) tc.notes.push_back("GC state: " + n);
    mem_.emplace(tc.process.pid());
    start_ = read_gc_snapshot(plan_, *mem_, tc.load_bias);
    for (const auto& n : start_.notes) tc.notes.push_back("GC state: " + n);
    // The sampler this process allows (the runtime's own samples when its
    // MemProfileRate is on, span refills otherwise); --exact instead probes
    // every allocation, and the governor may fall back to the sampler.
    if (start_.mem_profile_rate) {
      rate_ = *start_.mem_profile_rate;
      sampler_ = rate_ > 0 ? AllocSampler::Profilealloc : AllocSampler::Refill;
    } else if (plan_.profiling_disabled_in_file) {
      sampler_ = *plan_.profiling_disabled_in_file ? AllocSampler::Refill : AllocSampler::Profilealloc;
      rate_ = *plan_.profiling_disabled_in_file ? 0 : 512 * 1024;
      tc.notes.push_back(fmt::format("MemProfileRate not readable: assumed {} from the binary", rate_));
    } else {
      sampler_ = AllocSampler::Refill;
      tc.notes.push_back("MemProfileRate unknown: using the span-refill sampler");
    }
    if (sampler_ == AllocSampler::Profilealloc && rate_ <= 0) rate_ = 512 * 1024;
    sampler_fallback_ = sampler_;
    if (config_.exact) {
      sampler_ = AllocSampler::Exact;
      tc.notes.push_back(kExactNote);
    }
    map_writes_ = config_.map_writes;
    if (map_writes_) tc.notes.push_back(kMapWritesNote);
    maps_ = config_.maps;
    auto types = GoTypes::load(tc.binary->elf(), tc.binary->pclntab());
    if (types)
      types_.emplace(std::move(*types));
    else
      tc.notes.push_back(types.error().message + " (types are shown as unknown)");
    // The binary's own size classes when its symbol table has them (the same
    // in every release 1.19–1.26; the built-in table otherwise).
    if (auto sc = size_classes_from_binary(tc.binary->elf())) classes_ = *sc;
    return {};
  }

  // Over budget, --exact falls back to the sampler; then --map-writes stops
  // (each time the trace starts again: the report covers the last pass).
  std::optional<CheaperWay> cheaper() const override {
    if (sampler_ == AllocSampler::Exact)
      return CheaperWay{
          fmt::format("fell back from --exact to the {} sampler and started again",
                      sampler_fallback_ == AllocSampler::Profilealloc ? "profilealloc" : "refill"),
          false};
    if (map_writes_) return CheaperWay{"stopped counting map writes (--map-writes) and started again", false};
    if (maps_) return CheaperWay{"stopped tracing map growth (--maps) and started again", false};
    return std::nullopt;
  }
  void take_cheaper(TraceContext& tc) override {
    if (sampler_ == AllocSampler::Exact) {
      sampler_ = sampler_fallback_;
      std::erase(tc.notes, std::string(kExactNote));
    } else if (map_writes_) {
      map_writes_ = false;
      std::erase(tc.notes, std::string(kMapWritesNote));
    } else {
      maps_ = false;
      maps_dropped_ = true;
    }
    events_.clear();
    start_ = read_gc_snapshot(plan_, *mem_, tc.load_bias);  // the memstats check covers this pass only
  }

  // The target's own counter over exactly the traced time (not from the
  // analysis before attaching to the report after detaching).
  void at_edge(TraceContext& tc, Edge edge) override {
    if (!mem_) return;
    GcSnapshot now = read_gc_snapshot(plan_, *mem_, tc.load_bias);
    if (edge == Edge::Began)
      start_total_ = now.total_alloc;
    else
      end_total_ = now.total_alloc;
  }

  uint32_t options(const TraceContext&) const override {
    uint32_t o = (maps_ ? kMaps : 0) | (map_writes_ ? kMapWrites : 0);
    switch (sampler_) {
      case AllocSampler::Profilealloc:
        return o | kProfilealloc;
      case AllocSampler::Refill:
        return o | kRefill;
      case AllocSampler::Exact:
        return o | kExact;
    }
    return o;
  }

  Result<void> configure(TraceContext& tc) override {
    auto* ro = skel().rodata;
    const int minor = tc.binary->version().minor;
    // Frames between each probe and mallocgc (go-alloc-facts §2, §3, §5):
    // ≤1.23 profilealloc and allocLarge are called by mallocgc itself and
    // refill through nextFree; 1.24+ adds the mallocgcX helper in between.
    const uint32_t helper = minor >= 24 ? 1 : 0;
    ro->mode = sampler_ == AllocSampler::Profilealloc ? GT_ALLOC_MODE_PROFILEALLOC
               : sampler_ == AllocSampler::Refill     ? GT_ALLOC_MODE_REFILL
                                                      : GT_ALLOC_MODE_EXACT;
    ro->sample_derefs = sampler_ == AllocSampler::Refill ? helper + 1 : helper;
    ro->large_derefs = helper;
    auto mallocgc = tc.binary->pclntab().function_by_name("runtime.mallocgc");
    if (!mallocgc) return make_error("runtime.mallocgc not found in {}", tc.process.exe_target());
    ro->mallocgc_lo = mallocgc->entry + tc.load_bias;
    ro->mallocgc_hi = mallocgc->end + tc.load_bias;
    mallocgc_ = *mallocgc;
    // 1.27+: below these functions no frame holds the type (size_specialized.h).
    auto sc = find_size_specialized_mallocs(tc.binary->pclntab());
    if (!sc) return make_error("{}", sc.error().message);
    sc_ = *sc;
    if (sc_) {
      ro->sc_lo = sc_->lo + tc.load_bias;
      ro->sc_hi = sc_->hi + tc.load_bias;
    }
    // Each cycle's number, as gctrace prints it (memstats.numgc + 1 at startCycle).
    if (plan_.memstats && plan_.offsets[GcField::Numgc].known())
      ro->numgc_addr =
          *plan_.memstats + tc.load_bias + static_cast<uint64_t>(plan_.offsets[GcField::Numgc].value);
    ro->stw_stop_has_reason = minor >= 21;
    ro->stw_start_has_reason = minor >= 22;
    load_bias_ = tc.load_bias;
    return {};
  }

  void on_event(const void* data, size_t size) override {
    if (size < sizeof(gt_gc_event)) return;
    const auto* e = static_cast<const gt_gc_event*>(data);
    RawGcEvent ev;
    ev.kind = static_cast<GcEventKind>(e->kind);
    ev.t_ns = e->t_ns;
    ev.arg = e->arg;
    ev.arg2 = e->arg2;
    if (ev.kind == GcEventKind::Cycle) {
      // The cumulative samples so far: differenced between cycles, they say
      // what allocated most before each one.
      for_each_map_entry<gt_alloc_key, gt_alloc_val>(map_fd("alloc_agg"), [&](const auto& k, const auto& v) {
        ev.aggs_at.push_back({k.stack_id, k.type, k.size, v.count, v.bytes});
      });
    }
    if (ev.kind == GcEventKind::StwStart && mem_) {
      GcSnapshot s = read_gc_snapshot(plan_, *mem_, load_bias_);
      ev.heap_live = s.heap_live;
      ev.heap_marked = s.heap_marked;
      ev.heap_goal = s.heap_goal;
    }
    events_.push_back(std::move(ev));
  }

  CounterSpecs counters() const override { return counter_specs({kAllocCounters}); }
  uint32_t rate_counter() const override { return GT_CNT_ALLOC_SAMPLES; }
  std::string status(const Counters& c, double rate) const override {
    std::string writes =
        map_writes_ ? fmt::format("  {} map writes", c[GT_CNT_ALLOC_MAP_WRITES]) : std::string();
    return fmt::format("{:.0f} samples/s  {} large{}  {} GC events  {} dropped", rate, c[GT_CNT_ALLOC_LARGE],
                       writes, c[GT_CNT_ALLOC_GC_EVENTS], drops(c));
  }

  Result<std::optional<CommandProfile>> report(TraceContext& tc, TraceOutcome& outcome,
                                               const TraceConfig& config, std::ostream& out) override {
    AllocReport report;
    report.summary = outcome.summary;
    report.stacks = tc.read_stacks(map_fd("stacks"));
    report.maps_traced = maps_;
    if (maps_dropped_)
      report.summary.notes.push_back("map growth was not traced: the governor stopped --maps (see above)");
    report.map_writes_traced = map_writes_;
    report.target_alloc_start = start_total_;
    report.target_alloc_end = end_total_;
    // 1.27+: samples below a size-specialized malloc have type 0; a direct
    // call (compiled `new(T)`) says the type at the call site.
    uint64_t from_call_sites = 0, untyped_sc = 0;
    auto resolve = [&](std::vector<RawAllocAgg>& aggs, bool tally) {
      if (!sc_ || !report.stacks) return;
      for (auto& a : aggs) {
        if (a.type != 0) continue;
        const auto* pcs = report.stacks->pcs(a.stack_id);
        if (!pcs) continue;
        size_t i = 1;
        while (i < pcs->size() && !sc_->contains((*pcs)[i] - tc.load_bias)) ++i;
        if (i >= pcs->size()) continue;  // not a size-specialized sample
        while (i < pcs->size() && sc_->contains((*pcs)[i] - tc.load_bias)) ++i;
        // A direct call passes typ as its second argument. Through
        // mallocgc's dispatch, typ came from mallocgc's caller: a constant
        // only at the call site of newobject / makeslice.
        std::optional<uint64_t> t;
        const auto& pcln = tc.binary->pclntab();
        auto ret_at = [&](size_t k) { return (*pcs)[k] - tc.load_bias; };
        if (i < pcs->size()) {
          if (!(ret_at(i) > mallocgc_.entry && ret_at(i) <= mallocgc_.end)) {
            t = call_site_type(tc.binary->elf(), pcln, ret_at(i));
          } else if (i + 2 < pcs->size()) {
            auto caller = pcln.function_at(ret_at(i + 1) - 1);
            if (auto arg = caller ? mallocgc_type_argument(caller->name) : std::nullopt)
              t = call_site_type(tc.binary->elf(), pcln, ret_at(i + 2), *arg);
          }
        }
        if (t) a.type = *t + tc.load_bias;
        if (tally) (t ? from_call_sites : untyped_sc) += a.count;
      }
    };
    if (uint64_t n = outcome.counters[GT_CNT_ALLOC_NO_FRAME])
      report.summary.notes.push_back(fmt::format(
          "{} samples without a type: mallocgc's frame was not where this Go release keeps it", n));

    AllocBuildInput in;
    for_each_map_entry<gt_alloc_key, gt_alloc_val>(map_fd("alloc_agg"), [&](const auto& k, const auto& v) {
      in.aggs.push_back({k.stack_id, k.type, k.size, v.count, v.bytes});
    });
    for_each_map_entry<gt_large_key, gt_large_val>(map_fd("large_agg"), [&](const auto& k, const auto& v) {
      RawLargeAgg a{k.stack_id, k.type, k.noscan != 0, v.count, v.bytes, v.max_bytes, v.max_goid, {}};
      std::copy(std::begin(v.hist), std::end(v.hist), a.hist.begin());
      in.large.push_back(a);
    });
    for_each_map_entry<gt_map_key, gt_map_val>(map_fd("map_agg"), [&](const auto& k, const auto& v) {
      in.maps.push_back({k.stack_id, k.map_type, k.growth, v.count, v.max_len});
    });
    for_each_map_entry<gt_map_write_key, gt_map_write_val>(
        map_fd("map_write_agg"), [&](const auto& k, const auto& v) {
          in.map_writes.push_back({k.stack_id, k.map_type, v.count, v.max_len});
        });
    in.gc_events = std::move(events_);
    resolve(in.aggs, true);
    for (auto& ev : in.gc_events) resolve(ev.aggs_at, false);
    // 1.27+: one stack per site, whichever path inside the allocator the
    // sample took (fast path or SlowPath), as Go's own profile has it.
    if (sc_ && report.stacks) {
      std::map<std::vector<uint64_t>, uint64_t> by_pcs;
      std::map<uint64_t, uint64_t> folded_id;
      uint64_t next_id = uint64_t{1} << 62;  // above any stack map id
      auto fold = [&](uint64_t& id) {
        auto [it, fresh] = folded_id.try_emplace(id, id);
        if (fresh) {
          if (const auto* pcs = report.stacks->pcs(id)) {
            auto folded = fold_size_specialized_frames(*pcs, *sc_, tc.binary->pclntab(), tc.load_bias);
            auto [at, added] = by_pcs.try_emplace(folded, 0);
            if (added) {
              at->second = folded == *pcs ? id : next_id++;
              if (at->second != id) report.stacks->add(at->second, folded);
            }
            it->second = at->second;
          }
        }
        id = it->second;
      };
      for (auto& a : in.aggs) fold(a.stack_id);
      for (auto& a : in.large) fold(a.stack_id);
      for (auto& ev : in.gc_events)
        for (auto& a : ev.aggs_at) fold(a.stack_id);
    }
    if (untyped_sc)
      report.summary.notes.push_back(fmt::format(
          "{} samples without a type: allocated through runtime.mallocgc's size-specialized functions "
          "(Go 1.27+, objects of at most 80 bytes), which keep the type in no frame; {} more took it from "
          "their call site",
          untyped_sc, from_call_sites));

    AllocBuildOptions bo;
    bo.sampler = sampler_;
    bo.rate = sampler_ == AllocSampler::Exact ? 0 : rate_;
    bo.by = AllocGroupBy::Stack;
    const uint64_t bias = tc.load_bias;
    bo.type_name = [this, bias](uint64_t t) -> std::string {
      if (!types_ || t < bias) return "";
      auto n = types_->name(t - bias);
      return n ? *n : "";
    };
    std::map<uint64_t, bool> slice_stacks;
    bo.slice_alloc = [&](uint64_t id) {
      auto [it, fresh] = slice_stacks.try_emplace(id, false);
      if (fresh && report.stacks && report.stacks->has(id))
        it->second = makes_slice(report.stacks->frames(id));
      return it->second;
    };
    bo.class_slot_size = [this](uint32_t spc) { return classes_.slot_size(spc); };
    bo.class_span_objects = [this](uint32_t spc) { return classes_.span_objects(spc); };
    bo.stw_reason_name = stw_reason_name;
    // The profile is always by stack; the printed report as asked.
    build_alloc_report(report, in, bo);
    ProfileData profile = alloc_profile(report, tc.process.exe_target());
    if (by_ != AllocGroupBy::Stack) {
      bo.by = by_;
      build_alloc_report(report, in, bo);
    }

    AllocWriterOptions wo;
    wo.top = config.top;
    wo.gc_all = config_.gc_cycles;
    if (config.json)
      write_alloc_json(report, out, wo);
    else
      write_alloc_text(report, out, wo);
    return std::optional<CommandProfile>{CommandProfile{std::move(profile), report.stacks, 1}};
  }

 private:
  const AllocConfig& config_;
  AllocGroupBy by_ = AllocGroupBy::Stack;
  AllocSampler sampler_ = AllocSampler::Refill;
  AllocSampler sampler_fallback_ = AllocSampler::Refill;  // the sampler without --exact
  bool map_writes_ = false;                               // --map-writes, until the governor stops it
  bool maps_ = false;                                     // --maps, until the governor stops it
  bool maps_dropped_ = false;
  int64_t rate_ = 0;
  GcStatePlan plan_;
  std::optional<RemoteMemory> mem_;
  GcSnapshot start_;
  std::optional<uint64_t> start_total_, end_total_;  // gcController.totalAlloc at the edges (at_edge)
  std::optional<GoTypes> types_;
  GoFunc mallocgc_;                         // link-time
  std::optional<SizeSpecializedRange> sc_;  // 1.27+: link-time
  SizeClasses classes_ = builtin_size_classes();
  uint64_t load_bias_ = 0;
  std::vector<RawGcEvent> events_;
};

static_assert(GT_HIST_BUCKETS == kHistBuckets, "BPF and model histograms must have the same buckets");
static_assert(GT_GC_START == static_cast<int>(GcEventKind::Start) &&
                  GT_GC_CYCLE == static_cast<int>(GcEventKind::Cycle) &&
                  GT_GC_STW_STOP == static_cast<int>(GcEventKind::StwStop) &&
                  GT_GC_STW_START == static_cast<int>(GcEventKind::StwStart) &&
                  GT_GC_PAUSE_END == static_cast<int>(GcEventKind::PauseEnd),
              "GC event kinds must agree between BPF and the model");
static_assert(GT_STW_REASON_UNKNOWN == kStwReasonUnknown, "unknown stop reasons must agree");

}  // namespace

int run_alloc(const AllocConfig& config) {
  AllocCommand cmd(config);
  return run_trace(cmd, config.trace);
}

}  // namespace gotrace
