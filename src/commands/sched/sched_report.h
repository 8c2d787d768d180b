// The result of `gotrace sched`: how long goroutines waited to run once
// runnable (Go's run queue), by where they resumed and why they were
// runnable; what the kernel added (threads runnable off a CPU); the CPU
// quota and its throttling; and the world's stops. Writers (sched_writer.h)
// format it; nothing here touches BPF.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gotrace/model/histogram.h"
#include "gotrace/model/runtime_waits.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/model/stw_pauses.h"
#include "gotrace/model/trace_summary.h"

namespace gotrace {

// The runtime stamps one goroutine in gTrackingPeriod transitions out of
// running (runtime2.go, 8 in every release 1.17-1.27): counts and totals of
// the tracked transitions are scaled by it.
inline constexpr uint64_t kTrackingPeriod = 8;

// Why a goroutine was runnable, read from where it resumes.
enum class ResumeCause : uint8_t {
  Woken,      // it parked (gopark) and something made it ready
  New,        // a new goroutine's first run
  Preempted,  // the scheduler took it off its P (async preemption, stack-check preemption)
  Yielded,    // runtime.Gosched
  Syscall,    // back from a system call that lost its P
  Unknown,
};
std::string_view cause_name(ResumeCause c);  // "woken", "new", "preempted", "yielded", "syscall", "unknown"
// From the frames of the resume stack, innermost first.
ResumeCause classify_resume(const std::vector<Frame>& frames);

struct RawSchedAgg {  // sched_agg
  uint64_t stack_id = 0;
  unsigned reason = 0;  // the goroutine's last wait reason
  uint64_t count = 0, total_ns = 0, max_ns = 0, max_goid = 0;
  std::array<uint64_t, kHistBuckets> hist{};
};

struct SchedEntry {
  uint64_t stack_id = 0;
  ResumeCause cause = ResumeCause::Unknown;
  std::string reason;  // the wait it was woken from ("chan receive"), for Woken
  RuntimeWait runtime = RuntimeWait::None;
  uint64_t count = 0;     // estimated transitions (tracked × the period)
  uint64_t tracked = 0;   // transitions timed
  uint64_t total_ns = 0;  // estimated
  uint64_t max_ns = 0, max_goid = 0;
  Log2Histogram hist;  // of the tracked transitions
  uint64_t p50() const { return hist.percentile(0.5, 0, max_ns); }
  uint64_t p99() const { return hist.percentile(0.99, 0, max_ns); }
};

struct LatencyTotals {
  uint64_t tracked = 0;   // transitions timed
  uint64_t count = 0;     // estimated transitions
  uint64_t total_ns = 0;  // estimated
  uint64_t max_ns = 0;
  Log2Histogram hist;
  uint64_t percentile(double q) const { return hist.percentile(q, 0, max_ns); }
};

struct KernelShare {
  uint64_t running_ns = 0, preempted_ns = 0, wakeup_ns = 0, blocked_ns = 0;
  uint64_t preemptions = 0, sleeps = 0;
  uint64_t runnable_ns() const { return preempted_ns + wakeup_ns; }
};

struct KernelPreemptEntry {  // time waiting for a CPU after a preemption, by what ran
  uint64_t stack_id = 0;
  uint64_t count = 0, total_ns = 0, max_ns = 0;
};

struct CgroupShare {
  int version = 0;
  std::string path;        // the process's cgroup
  std::string limit_path;  // whose quota binds ("" none)
  std::optional<double> quota_cpus;
  std::optional<uint64_t> nr_periods, nr_throttled, throttled_ns;  // over the trace
};

// --exact: goroutine-time by start function, split by state.
struct RawBudget {  // budget_agg
  uint64_t startpc = 0;
  uint64_t running_ns = 0, runnable_ns = 0, parked_ns = 0, kernel_runnable_ns = 0, syscall_ns = 0;
  uint64_t goroutines = 0;
};
struct BudgetRow {
  std::string function;  // the goroutines' start function ("?" unknown)
  uint64_t goroutines = 0;
  uint64_t running_ns = 0;          // on a CPU
  uint64_t runnable_go_ns = 0;      // in Go's run queue
  uint64_t runnable_kernel_ns = 0;  // running to Go, its thread runnable off a CPU
  uint64_t syscall_ns =
      0;  // running to Go, its thread asleep in the kernel (system calls, runtime-lock sleeps)
  uint64_t parked_ns = 0;
  uint64_t total_ns() const {
    return running_ns + runnable_go_ns + runnable_kernel_ns + syscall_ns + parked_ns;
  }
};

struct StwRow {
  std::string reason;
  uint64_t count = 0, total_ns = 0, max_ns = 0;
};

struct SchedReport {
  TraceSummary summary;
  std::shared_ptr<StackTable> stacks;
  uint64_t min_ns = 0;
  double scale = kTrackingPeriod;  // estimated per tracked (the period, and the windows' share)
  LatencyTotals latency;
  std::vector<SchedEntry> entries;  // by total, descending
  KernelShare kernel;
  std::vector<KernelPreemptEntry> kernel_sites;  // by total, descending
  std::optional<CgroupShare> cgroup;
  std::string cgroup_unknown;  // why there is none
  std::optional<int64_t> gomaxprocs;
  std::string gomaxprocs_source;  // "runtime.gomaxprocs", "derived: …"
  unsigned host_cpus = 0;         // CPUs the target may run on (its affinity)
  std::vector<std::string> diagnosis;
  std::vector<StwRow> stw;  // by total, descending
  uint64_t stw_unpaired = 0;
  bool exact = false;
  std::vector<BudgetRow> budget;  // --exact: by total goroutine-time, descending
};

struct SchedBuildInput {
  std::vector<RawSchedAgg> aggs;
  std::array<uint64_t, kHistBuckets> hist{};
  uint64_t tracked = 0, total_ns = 0, max_ns = 0;
  KernelShare kernel;
  std::vector<KernelPreemptEntry> kernel_sites;
  std::vector<StwEvent> stw;  // in arrival order
  std::vector<RawBudget> budget;
};

struct SchedBuildOptions {
  bool exact = false;                                // every transition timed: no tracking period to scale by
  double attached_fraction = 1;                      // the governor's windows
  std::function<std::string(uint64_t)> function_at;  // a runtime PC's function ("" unknown)
  std::function<std::string(unsigned)> reason_name;
  std::function<std::string(uint32_t)> stw_reason_name;
};

// Fills everything but the summary, the cgroup and GOMAXPROCS (stacks must
// be set); merges entries whose stacks read the same.
void build_sched_report(SchedReport& report, const SchedBuildInput& input, const SchedBuildOptions& options);
// One line each where the quota, GOMAXPROCS and what was seen disagree.
void diagnose(SchedReport& report, int go_minor);

}  // namespace gotrace
