// What every tracing command needs before and after its own BPF program:
// the target process, its analysed binary, the host check, the planned
// probe sites, the offsets handed to BPF, and reading the shared maps
// (counters, stacks) back into the model.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "gotrace/bpf/common_types.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/host/features.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/model/trace_summary.h"
#include "gotrace/probes/probe_plan.h"
#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_loop.h"
#include "gotrace/target/process.h"

namespace gotrace {

using Counters = std::array<uint64_t, GT_CNT_SLOTS>;
Counters read_counters(int percpu_array_fd);  // summed over CPUs
// Every counter that is a loss (a full table, a full ring buffer): their sum
// is the "dropped" every report shows.
bool counter_is_drop(gt_counter c);
uint64_t total_drops(const Counters& c);
std::string_view counter_name(gt_counter c);

struct TraceContext {
  Process process;
  std::unique_ptr<GoBinary> binary;
  HostFeatures host;
  std::vector<PlannedSite> sites;
  uint64_t load_bias = 0;
  std::vector<std::string> notes;

  // Opens the target and checks everything the command needs; the error is
  // one line saying why it cannot run.
  static Result<TraceContext> prepare(pid_t pid, const ProbeTable& table);

  const PlannedSite* site(ProbeRole role) const;  // nullptr if absent or unusable
  gt_offsets bpf_offsets() const;
  std::shared_ptr<StackTable> read_stacks(int stacks_fd) const;
  TraceSummary summary(const TraceLoopResult& loop, const Counters& counters, size_t probes_attached,
                       uint64_t events) const;
};

}  // namespace gotrace
