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

// Writes --pprof / --folded if asked (delay in nanoseconds); false, with a
// line on stderr, if a file could not be written.
bool write_profiles(const TraceConfig& config, const struct ProfileData& data, StackTable& stacks);

// Runs the trace; links are detached when it returns.
Result<TraceRunResult> run_attached(const TraceContext& tc, const TraceConfig& config, LinkSet& links,
                                    const TraceRunSpec& spec);

}  // namespace gotrace
