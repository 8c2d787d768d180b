// The part of a tracing command between loading its BPF program and reading
// its maps, the same for every command: attach the planned sites, read the
// ring buffer while the trace loop runs with its status line, then stop
// counting, detach and drain.
#pragma once

#include "gotrace/cli/config.h"
#include "gotrace/session/bpf_util.h"
#include "gotrace/session/trace_context.h"

#include <bpf/libbpf.h>

#include <functional>
#include <string>
#include <vector>

namespace gotrace {

struct ProbeWant {
  bpf_program* prog;
  ProbeRole role;
  uint64_t cookie_kind = 0;  // low bits of the attach cookie; the site's stack check goes above bit 16
  bool required = false;     // the command cannot run without it
  // With no emulated site, probe the function's first instruction instead
  // (single-stepped: ~8x the cost per hit). Only for opt-in, rare probes.
  bool entry_fallback = false;
};

// Attaches each wanted site the plan has, in order. A required one that
// fails is an error (one line); an optional one becomes a note.
Result<void> attach_wants(TraceContext& tc, pid_t pid, const std::vector<ProbeWant>& wants, LinkSet& links);

// The stack-check adjustment handed to BPF for a site (gt_site_check).
uint64_t site_check(const PlannedSite& s);

struct TraceRunSpec {
  std::string what;   // "goroutine blocking" -> "Tracing goroutine blocking in PID …"
  std::string extra;  // appended to the probe count (", wait chains on")
  int events_fd = -1;
  ring_buffer_sample_fn on_event = nullptr;
  void* event_ctx = nullptr;
  int counters_fd = -1;
  volatile uint32_t* stopped = nullptr;  // the programs' tracing_stopped flag
  gt_counter rate_counter = GT_CNT_PARKS;
  // The status line from the counters and the rate of rate_counter per second.
  std::function<std::string(const Counters&, double rate)> status;
};

struct TraceRunResult {
  TraceLoopResult loop;
  Counters counters{};
  size_t attached = 0;
};

// What every program with park tracking (bpf/park_tracking.bpf.h) and the
// common header needs before load: offsets, target, --min, the pollDesc
// layout, the IO-wait reason and the stack-check of each park-tracking site.
template <typename Rodata>
void configure_park_tracking(Rodata* ro, const TraceContext& tc, const TraceConfig& config,
                             const WaitReasons& reasons) {
  const RuntimeOffsets& offs = *tc.binary->offsets();
  ro->off = tc.bpf_offsets();
  ro->target_tgid = static_cast<__u32>(config.pid);
  ro->min_wait_ns = static_cast<uint64_t>(config.min.count());
  if (auto io = reasons.value_of("IO wait")) ro->io_wait_reason = *io;
  ro->polldesc_rg = static_cast<__u32>(offs[RtField::PollDescRg].value);
  ro->polldesc_wg = static_cast<__u32>(offs[RtField::PollDescWg].value);
  for (auto [role, check] : {std::pair{ProbeRole::Gopark, &ro->gopark_check}, std::pair{ProbeRole::Ready, &ro->ready_check},
                              std::pair{ProbeRole::Netpollready, &ro->netpollready_check},
                              std::pair{ProbeRole::InjectGlist, &ro->injectglist_check}})
    if (const PlannedSite* s = tc.site(role)) *check = site_check(*s);
}

// The park-tracking probes, in attach order (netpollready only when the
// pollDesc layout is known; a note says so otherwise).
template <typename Progs>
std::vector<ProbeWant> park_tracking_wants(const Progs& progs, TraceContext& tc) {
  const RuntimeOffsets& offs = *tc.binary->offsets();
  std::vector<ProbeWant> wants = {{progs.gopark_entry, ProbeRole::Gopark, 0, true},
                                  {progs.ready_entry, ProbeRole::Ready, 0, true}};
  if (offs[RtField::PollDescRg].known() && offs[RtField::PollDescWg].known())
    wants.push_back({progs.netpollready_entry, ProbeRole::Netpollready, 0, false});
  else
    tc.notes.push_back("pollDesc layout unknown: IO waits are seen ending only through injectglist");
  wants.push_back({progs.injectglist_entry, ProbeRole::InjectGlist, 0, false});
  return wants;
}

// Writes --pprof / --folded if asked (delay in nanoseconds); false, with a
// line on stderr, if a file could not be written.
bool write_profiles(const TraceConfig& config, const struct ProfileData& data, StackTable& stacks);

// Runs the trace; links are detached when it returns.
Result<TraceRunResult> run_attached(const TraceContext& tc, const TraceConfig& config, LinkSet& links,
                                    const TraceRunSpec& spec);

}  // namespace gotrace
