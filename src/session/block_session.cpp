// gotrace block: plan -> load -> attach -> poll -> read maps -> report.
#include "gotrace/cli/commands.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/host/features.h"
#include "gotrace/probes/probe_plan.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/report/block_writer.h"
#include "gotrace/session/bpf_util.h"
#include "gotrace/session/trace_context.h"
#include "gotrace/session/trace_loop.h"
#include "gotrace/session/trace_run.h"
#include "gotrace/report/profile_writers.h"

#include "block.skel.h"
#include "gotrace/bpf/block_types.h"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unistd.h>
#include <iostream>
#include <unordered_map>

namespace gotrace {

namespace {

struct BlockState {
  std::vector<LongWait> events;
  size_t event_cap = 4096;
};

int on_block_event(void* ctx, void* data, size_t size) {
  auto* state = static_cast<BlockState*>(ctx);
  if (size < sizeof(gt_block_event)) return 0;
  const auto* e = static_cast<const gt_block_event*>(data);
  LongWait w;
  w.goid = e->goid;
  w.waker_goid = e->waker_goid;
  w.duration_ns = e->duration_ns;
  w.reason = e->reason;
  w.stack_id = e->stack_id;
  w.waker_stack_id = e->waker_stack_id;
  w.waker_kind = static_cast<WakerKind>(e->waker_kind);
  // Keep the longest: when full, replace the shortest kept.
  if (state->events.size() < state->event_cap) {
    state->events.push_back(w);
  } else {
    auto shortest = std::min_element(state->events.begin(), state->events.end(),
                                     [](const LongWait& a, const LongWait& b) { return a.duration_ns < b.duration_ns; });
    if (shortest->duration_ns < w.duration_ns) *shortest = w;
  }
  return 0;
}

}  // namespace

int run_block(const BlockConfig& config) {
  auto ctx = TraceContext::prepare(config.trace.pid, Command::Block);
  if (!ctx) {
    fmt::print(stderr, "gotrace: {}\n", ctx.error().message);
    return kExitFailure;
  }
  TraceContext& tc = *ctx;
  const GoBinary& bin = *tc.binary;

  WaitReasons reasons;
  if (bin.wait_reasons()) reasons = *bin.wait_reasons();
  auto mask = reason_mask(reasons, config.reasons);
  if (!mask) {
    fmt::print(stderr, "gotrace: {}\n", mask.error().message);
    return kExitUsage;
  }

  install_libbpf_logging();
  SkeletonPtr<block_bpf> skel(block_bpf__open(), block_bpf__destroy);
  if (!skel) {
    fmt::print(stderr, "gotrace: {}\n", explain_bpf_error(errno, "opening the block BPF program"));
    return kExitFailure;
  }
  auto* ro = skel->rodata;
  configure_park_tracking(ro, tc, config.trace, reasons);
  ro->min_event_ns = std::max<uint64_t>(config.trace.min.count(), 1'000'000);
  for (size_t i = 0; i < 4; ++i) ro->reason_mask[i] = (*mask)[i];

  if (int err = block_bpf__load(skel.get())) {
    fmt::print(stderr, "gotrace: {}\n", explain_bpf_error(err, "loading the block BPF program"));
    return kExitFailure;
  }

  std::vector<ProbeWant> wants = park_tracking_wants(skel->progs, tc);
  LinkSet links;
  if (auto r = attach_wants(tc, config.trace.pid, wants, links); !r) {
    fmt::print(stderr, "gotrace: {}\n", r.error().message);
    return kExitFailure;
  }

  BlockState state;
  TraceRunSpec spec;
  spec.what = "goroutine blocking";
  spec.events_fd = bpf_map__fd(skel->maps.events);
  spec.on_event = on_block_event;
  spec.event_ctx = &state;
  spec.counters_fd = bpf_map__fd(skel->maps.counters);
  spec.stopped = &skel->bss->tracing_stopped;
  spec.rate_counter = GT_CNT_PARKS;
  spec.status = [](const Counters& c, double rate) {
    return fmt::format("{:.0f} parks/s  {} waits ended  {} dropped", rate, c[GT_CNT_WAKES], total_drops(c));
  };
  auto run = run_attached(tc, config.trace, links, spec);
  if (!run) {
    fmt::print(stderr, "gotrace: {}\n", run.error().message);
    return kExitFailure;
  }
  const TraceLoopResult& result = run->loop;

  BlockReport report;
  report.min_ns = static_cast<uint64_t>(config.trace.min.count());
  report.summary = tc.summary(result, run->counters, run->attached);
  report.stacks = tc.read_stacks(bpf_map__fd(skel->maps.stacks));

  std::unordered_map<uint64_t, std::vector<WakerShare>> wakers;  // by (stack, reason)
  auto key_of = [](uint64_t stack, uint32_t reason) { return stack * 1315423911ULL ^ reason; };
  {
    int fd = bpf_map__fd(skel->maps.waker_agg);
    gt_waker_key k{}, next{};
    gt_waker_val v{};
    void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      if (bpf_map_lookup_elem(fd, &next, &v) == 0)
        wakers[key_of(next.stack_id, next.reason)].push_back(
            {static_cast<WakerKind>(next.waker_kind), next.waker_stack_id, v.count, v.total_ns});
      k = next;
      prev = &k;
    }
  }
  {
    int fd = bpf_map__fd(skel->maps.block_agg);
    gt_block_key k{}, next{};
    gt_block_val v{};
    void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
      if (bpf_map_lookup_elem(fd, &next, &v) == 0 && v.count) {
        BlockEntry e;
        e.stack_id = next.stack_id;
        e.reason = next.reason;
        e.reason_name = reasons.name(next.reason);
        e.count = v.count;
        e.total_ns = v.total_ns;
        e.max_ns = v.max_ns;
        e.max_goid = v.max_goid;
        e.hist.add(std::span<const uint64_t>(reinterpret_cast<const uint64_t*>(v.hist), GT_HIST_BUCKETS));
        e.wakers = std::move(wakers[key_of(next.stack_id, next.reason)]);
        std::sort(e.wakers.begin(), e.wakers.end(),
                  [](const WakerShare& a, const WakerShare& b) { return a.count > b.count; });
        if (e.max_ns >= report.min_ns) report.entries.push_back(std::move(e));
      }
      k = next;
      prev = &k;
    }
  }
  std::sort(report.entries.begin(), report.entries.end(),
            [](const BlockEntry& a, const BlockEntry& b) { return a.total_ns > b.total_ns; });
  std::sort(state.events.begin(), state.events.end(),
            [](const LongWait& a, const LongWait& b) { return a.duration_ns > b.duration_ns; });
  for (auto& w : state.events) w.reason_name = reasons.name(w.reason);
  report.longest = std::move(state.events);

  BlockWriterOptions wo;
  wo.top = config.trace.top;
  if (config.trace.json) write_block_json(report, std::cout, wo);
  else write_block_text(report, std::cout, wo);
  bool wrote = write_profiles(config.trace, block_profile(report, tc.process.exe_target()), *report.stacks);
  return result.reason == StopReason::Error || !wrote ? kExitFailure : kExitOk;
}

}  // namespace gotrace
