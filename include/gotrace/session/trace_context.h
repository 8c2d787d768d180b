// What every tracing command needs before and after its own BPF program:
// the target process, its analysed binary, the host check, the planned
// probe sites, the offsets handed to BPF, and reading the shared maps
// (counters, stacks) back into the model.
#pragma once

#include <array>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gotrace/bpf/common_types.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/host/features.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/model/trace_summary.h"
#include "gotrace/probes/probe_plan.h"
#include "gotrace/probes/probe_table.h"
#include "gotrace/session/open_target.h"
#include "gotrace/session/trace_loop.h"
#include "gotrace/target/process.h"

namespace gotrace {

using Counters = std::array<uint64_t, GT_CNT_SLOTS>;
Counters read_counters(int percpu_array_fd);  // summed over CPUs

// The name of a counter slot in reports, and whether it is a drop: an event
// lost, its own record not kept (a full aggregation, park or pending table).
// The drops, named "drop_…", sum to the "dropped" every report shows, each
// lost event once. What a counted event lacks (a stack, a ring-buffer record
// the aggregates still count, a waker or chain link) is named "lost_…" and
// is not a drop. A command lists the slots its programs use: the base ones,
// park tracking's if it uses that, and its own (common_types.h).
struct CounterSpec {
  uint32_t slot;
  std::string_view name;
  bool drop = false;
};
using CounterSpecs = std::vector<CounterSpec>;
// One entry of a counter list (common_types.h): constexpr CounterSpec
// kMine[] = {GT_MINE_COUNTERS(GT_CNT_SPEC_ENTRY)};
#define GT_CNT_SPEC_ENTRY(slot, name, drop, what) CounterSpec{slot, name, (drop) != 0},
// Base counters followed by the given groups.
CounterSpecs counter_specs(std::initializer_list<std::span<const CounterSpec>> groups = {});
// parks_are_events: the command's events are the parks (block); false when
// park tracking only adds details to other events (lock's chains).
std::span<const CounterSpec> park_counter_specs(bool parks_are_events = true);
// Each slot inside its range and named once, each name once; drops and
// only drops named "drop_…".
Result<void> check_counter_specs(const CounterSpecs& specs);
uint64_t total_drops(const Counters& c, const CounterSpecs& specs);

struct TraceContext {
  Process process;
  std::unique_ptr<GoBinary> binary;
  HostFeatures host;
  std::vector<PlannedSite> sites;
  uint64_t load_bias = 0;
  std::vector<std::string> notes;

  // Opens the target and checks everything the command needs; the error is
  // one line saying why it cannot run (that the target exited meanwhile, if
  // it did).
  static Result<TraceContext> prepare(pid_t pid, const ProbeTable& table);
  // A startup step's failure as the one line to print: as it is, or, when
  // the target has exited meanwhile, "PID N (comm) exited while gotrace was
  // starting (message)".
  std::string startup_failure(std::string_view message) const;

  const PlannedSite* site(ProbeRole role) const;  // nullptr if absent or unusable
  gt_offsets bpf_offsets() const;
  std::shared_ptr<StackTable> read_stacks(int stacks_fd) const;
  // (prepare: the version, the sites and the command's verdict)
  Result<void> analyse(const ProbeTable& table);

  TraceSummary summary(const TraceLoopResult& loop, const Counters& counters, const CounterSpecs& specs,
                       size_t probes_attached, uint64_t events) const;
};

}  // namespace gotrace
