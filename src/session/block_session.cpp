// gotrace block: the park tracking of bpf/park_tracking.bpf.h, aggregated by
// bpf/block.bpf.c per (stack, reason) and per waker; long waits through the
// ring buffer. This file configures it and turns its maps into the model.
#include <fmt/format.h>

#include "gotrace/bpf/block_types.h"
// The skeleton after the records it embeds.
#include "block.skel.h"
#include "gotrace/model/block_report.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/report/block_writer.h"
#include "gotrace/session/block_command.h"
#include "gotrace/session/park_tracking.h"
#include "gotrace/session/trace_command.h"

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
    auto* ro = skel().rodata;
    configure_park_tracking(ro, tc, reasons_);
    ro->min_event_ns = std::max<uint64_t>(config_.trace.min.count(), kMinEventNs);
    static_assert(sizeof(ro->reason_mask) == sizeof(ReasonMask));
    for (size_t i = 0; i < mask_.size(); ++i) ro->reason_mask[i] = mask_[i];
    return {};
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
    account_park_evictions(report.summary, outcome.counters, map_fd("parked"), map_fd("parked_spill"));
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
  int run_instead(const TraceConfig& rest, const TraceSummary& carried) override {
    BlockConfig sampled = config_;
    sampled.trace = rest;
    sampled.sample_hz = kGovernorSampleHz;
    return run_block_sample(sampled, &carried);
  }

 private:
  static constexpr double kGovernorSampleHz = 49;
  const BlockConfig& config_;
  WaitReasons reasons_;
  ReasonMask mask_{};
  LongestWaits longest_{kLongestKept};
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
