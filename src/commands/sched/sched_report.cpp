#include "commands/sched/sched_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "gotrace/report/report_common.h"

namespace gotrace {

std::string_view cause_name(ResumeCause c) {
  switch (c) {
    case ResumeCause::Woken:
      return "woken";
    case ResumeCause::New:
      return "new";
    case ResumeCause::Preempted:
      return "preempted";
    case ResumeCause::Yielded:
      return "yielded";
    case ResumeCause::Syscall:
      return "syscall";
    case ResumeCause::Unknown:
      break;
  }
  return "unknown";
}

// The resume stack is the goroutine's saved context (g.sched): where mcall
// or morestack left it. A park saves it in gopark; asynchronous preemption
// in asyncPreempt2 (below the interrupted code's asyncPreempt frame);
// Gosched in goschedImpl's mcall; the slow exit from a syscall in
// exitsyscall. A new goroutine's context is its function's entry with no
// frame pointer (one frame). Preemption at a stack check (morestack, then
// newstack's gopreempt_m on g0) leaves the context in the user's function.
ResumeCause classify_resume(const std::vector<Frame>& frames) {
  if (frames.empty()) return ResumeCause::Unknown;
  const size_t n = std::min<size_t>(frames.size(), 4);
  for (size_t i = 0; i < n; ++i) {
    const std::string& f = frames[i].function;
    if (f == "runtime.gopark" || f == "runtime.goparkunlock") return ResumeCause::Woken;
    if (f == "runtime.asyncPreempt2" || f == "runtime.asyncPreempt" || f == "runtime.gopreempt_m" ||
        f == "runtime.preemptPark" || f == "runtime.newstack")
      return ResumeCause::Preempted;
    if (f == "runtime.Gosched" || f == "runtime.goschedImpl" || f == "runtime.gosched_m" ||
        f == "runtime.goschedIfBusy" || f == "runtime.goyield" || f == "runtime.goschedguarded")
      return ResumeCause::Yielded;
    if (f.starts_with("runtime.exitsyscall") || f == "runtime.reentersyscall" ||
        f == "runtime.entersyscallblock")
      return ResumeCause::Syscall;
  }
  if (frames.size() == 1) return ResumeCause::New;
  if (!frames[0].function.starts_with("runtime.")) return ResumeCause::Preempted;  // at a stack check
  return ResumeCause::Unknown;
}

void build_sched_report(SchedReport& r, const SchedBuildInput& in, const SchedBuildOptions& o) {
  StackTable& st = *r.stacks;
  r.exact = o.exact;
  r.scale = static_cast<double>(o.exact ? 1 : kTrackingPeriod) /
            (o.attached_fraction > 0 ? o.attached_fraction : 1);
  auto scaled = [&](uint64_t v) {
    return static_cast<uint64_t>(std::llround(static_cast<double>(v) * r.scale));
  };

  r.latency = {};
  r.latency.tracked = in.tracked;
  r.latency.count = scaled(in.tracked);
  r.latency.total_ns = scaled(in.total_ns);
  r.latency.max_ns = in.max_ns;
  r.latency.hist.add(in.hist);

  // Entries: one per stack as a person reads it, cause and reason. Where
  // preemption stopped a goroutine inside its own code, the line does not
  // matter (it is wherever the loop was): one entry per function there.
  auto key_of = [&](uint64_t id, ResumeCause cause) {
    if (!id) return std::string("#0");
    if (cause != ResumeCause::Preempted) return st.shown_key(id);
    std::string k;
    bool user_seen = false;
    for (const Frame& f : st.frames(id)) {
      k += f.function;
      if (user_seen || f.function.starts_with("runtime.")) k += fmt::format(":{}", f.line);
      if (!f.function.starts_with("runtime.")) user_seen = true;
      k += ';';
    }
    return k;
  };
  std::map<std::tuple<std::string, ResumeCause, std::string>, size_t> index;
  r.entries.clear();
  for (const RawSchedAgg& a : in.aggs) {
    if (!a.count) continue;
    const auto& frames = st.frames(a.stack_id);
    ResumeCause cause = a.stack_id ? classify_resume(frames) : ResumeCause::Unknown;
    std::string reason =
        cause == ResumeCause::Woken && o.reason_name ? o.reason_name(a.reason) : std::string();
    auto [it, fresh] = index.emplace(std::tuple{key_of(a.stack_id, cause), cause, reason}, r.entries.size());
    if (fresh) {
      SchedEntry e;
      e.stack_id = a.stack_id;
      e.cause = cause;
      e.reason = reason;
      e.runtime = classify_runtime_wait(frames);
      r.entries.push_back(std::move(e));
    }
    SchedEntry& e = r.entries[it->second];
    e.tracked += a.count;
    e.count += scaled(a.count);
    e.total_ns += scaled(a.total_ns);
    if (a.max_ns > e.max_ns) {
      e.max_ns = a.max_ns;
      e.max_goid = a.max_goid;
    }
    e.hist.add(a.hist);
  }
  std::stable_sort(r.entries.begin(), r.entries.end(), [](const SchedEntry& a, const SchedEntry& b) {
    return std::tie(b.total_ns, b.count, a.stack_id) < std::tie(a.total_ns, a.count, b.stack_id);
  });

  r.kernel = in.kernel;
  r.kernel_sites = in.kernel_sites;
  std::stable_sort(r.kernel_sites.begin(), r.kernel_sites.end(),
                   [](const auto& a, const auto& b) { return a.total_ns > b.total_ns; });

  // --exact: the budget by start function; the kernel's parts are carved
  // out of the time Go saw the goroutine running.
  std::map<std::string, BudgetRow> budget;
  for (const RawBudget& b : in.budget) {
    std::string fn = o.function_at ? o.function_at(b.startpc) : std::string();
    if (fn.empty()) fn = "?";
    BudgetRow& row = budget[fn];
    row.function = fn;
    row.goroutines += b.goroutines;
    const uint64_t kernel = std::min(b.running_ns, b.kernel_runnable_ns + b.syscall_ns);
    row.running_ns += b.running_ns - kernel;
    const uint64_t k_runnable = std::min(kernel, b.kernel_runnable_ns);
    row.runnable_kernel_ns += k_runnable;
    row.syscall_ns += kernel - k_runnable;
    row.runnable_go_ns += b.runnable_ns;
    row.parked_ns += b.parked_ns;
  }
  r.budget.clear();
  for (auto& [_, row] : budget) r.budget.push_back(row);
  std::stable_sort(r.budget.begin(), r.budget.end(),
                   [](const BudgetRow& a, const BudgetRow& b) { return a.total_ns() > b.total_ns(); });

  std::vector<const StwEvent*> stw;
  for (const auto& e : in.stw) stw.push_back(&e);
  r.stw_unpaired = 0;
  std::map<std::string, StwRow> rows;
  for (const StwPause& p : pair_stw_pauses(stw, o.stw_reason_name, r.stw_unpaired)) {
    StwRow& row = rows[p.reason];
    row.reason = p.reason;
    ++row.count;
    row.total_ns += p.ns;
    row.max_ns = std::max(row.max_ns, p.ns);
  }
  r.stw.clear();
  for (auto& [_, row] : rows) r.stw.push_back(row);
  std::stable_sort(r.stw.begin(), r.stw.end(),
                   [](const auto& a, const auto& b) { return a.total_ns > b.total_ns; });
}

void diagnose(SchedReport& r, int go_minor) {
  r.diagnosis.clear();
  const double secs = r.summary.duration_s;
  if (r.cgroup && r.cgroup->quota_cpus) {
    const double q = *r.cgroup->quota_cpus;
    const auto quota_procs = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q - 1e-9)));
    if (r.gomaxprocs && *r.gomaxprocs > quota_procs) {
      // Go 1.25+ follows the quota itself (and its changes), but never
      // below 2 Ps.
      std::string why;
      if (go_minor < 25)
        why = fmt::format(
            " (go1.{} does not read the quota: set GOMAXPROCS={}, use go.uber.org/automaxprocs, or "
            "build with Go 1.25+)",
            go_minor, quota_procs);
      else if (*r.gomaxprocs == 2)
        why =
            " (Go 1.25+ follows the quota but never sets fewer than 2 Ps: below 2 CPUs, GOMAXPROCS=1 in the "
            "environment, or a larger quota)";
      else
        why =
            " (Go 1.25+ follows the quota unless GOMAXPROCS is set in the environment or by "
            "runtime.GOMAXPROCS)";
      r.diagnosis.push_back(fmt::format(
          "GOMAXPROCS {} is above the CPU quota of {:.2g} CPUs: up to {} goroutines run at once and use the "
          "quota up early in each period, then every thread waits for the next one (throttling){}",
          *r.gomaxprocs, q, *r.gomaxprocs, why));
    }
    if (r.cgroup->nr_throttled && *r.cgroup->nr_throttled > 0 && r.cgroup->throttled_ns)
      r.diagnosis.push_back(fmt::format(
          "the cgroup was throttled in {} of {} periods, {} in all{}: its threads could not run although "
          "runnable",
          *r.cgroup->nr_throttled, r.cgroup->nr_periods.value_or(0), format_duration(*r.cgroup->throttled_ns),
          secs > 0 ? fmt::format(" ({:.0f}% of the trace)",
                                 100.0 * static_cast<double>(*r.cgroup->throttled_ns) / (secs * 1e9))
                   : std::string()));
  }
  if (r.gomaxprocs && r.host_cpus && *r.gomaxprocs < static_cast<int64_t>(r.host_cpus) && r.latency.tracked &&
      r.latency.percentile(0.99) > 1'000'000 && r.kernel.runnable_ns() < r.kernel.running_ns / 10)
    r.diagnosis.push_back(
        fmt::format("goroutines waited for a P (p99 {}) while the kernel rarely kept threads off a CPU: "
                    "GOMAXPROCS {} of {} "
                    "CPUs limits how many run at once",
                    format_duration(r.latency.percentile(0.99)), *r.gomaxprocs, r.host_cpus));
  // Preempted by the kernel for more than a fifth of the time they ran
  // (waking up takes tens of µs on any host: not a sign by itself).
  const uint64_t on_cpu_and_waiting = r.kernel.running_ns + r.kernel.preempted_ns;
  if (on_cpu_and_waiting && r.kernel.preempted_ns * 5 > on_cpu_and_waiting &&
      r.kernel.preempted_ns > 10'000'000)
    r.diagnosis.push_back(fmt::format(
        "the kernel kept the target's running threads off a CPU for {:.0f}% of the time they wanted one: the "
        "host's CPUs (or the quota) are oversubscribed",
        100.0 * static_cast<double>(r.kernel.preempted_ns) / static_cast<double>(on_cpu_and_waiting)));
}

}  // namespace gotrace
