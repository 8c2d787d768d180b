#include "commands/sched/sched_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>

#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"
#include "gotrace/util/printable_stream.h"

namespace gotrace {

namespace {

std::string cause_label(const SchedEntry& e) {
  if (e.cause == ResumeCause::Woken && !e.reason.empty()) return fmt::format("woken ({})", e.reason);
  if (e.cause == ResumeCause::Syscall) return "back from a syscall";
  if (e.cause == ResumeCause::New) return "new goroutine";
  return std::string(cause_name(e.cause));
}

double pct(uint64_t part, uint64_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0;
}

std::string quota_label(const CgroupShare& c) {
  return c.quota_cpus ? fmt::format("{:.2f} CPUs", *c.quota_cpus) : std::string("no CPU quota");
}

void write_histogram_text(const Log2Histogram& h, std::ostream& out) {
  uint64_t most = 0;
  size_t lo = kHistBuckets, hi = 0;
  for (size_t b = 0; b < kHistBuckets; ++b) {
    if (!h.buckets[b]) continue;
    most = std::max(most, h.buckets[b]);
    lo = std::min(lo, b);
    hi = b;
  }
  if (!most) return;
  for (size_t b = lo; b <= hi; ++b) {
    const uint64_t from = b == 0 ? 0 : uint64_t{1} << b;
    const auto bar =
        static_cast<size_t>(40.0 * static_cast<double>(h.buckets[b]) / static_cast<double>(most));
    fmt::print(out, "  {:>9} .. {:<9} {:>8}  {}\n", format_duration(from), format_duration(uint64_t{2} << b),
               h.buckets[b], std::string(bar, '#'));
  }
}

}  // namespace

void write_sched_text(SchedReport& r, std::ostream& raw_out, const SchedWriterOptions& o) {
  PrintableOStream out(raw_out);
  StackTable& st = *r.stacks;
  fmt::print(out, "gotrace sched: ");
  write_summary_text(r.summary, out);
  const LatencyTotals& l = r.latency;
  if (r.exact)
    fmt::print(
        out,
        "\nRun-queue latency (runnable -> running): {} transitions timed, every one whose runnable moment "
        "was seen (--exact){}\n",
        l.tracked,
        r.scale != 1 ? fmt::format("; counts and totals scaled by {:g} for the probes' windows", r.scale)
                     : std::string());
  else
    fmt::print(out,
               "\nRun-queue latency (runnable -> running): {} transitions timed, the runtime's own 1 in {} "
               "(counts and totals below are scaled by {:g}: ~{} transitions)\n",
               l.tracked, kTrackingPeriod, r.scale, l.count);
  if (l.tracked) {
    fmt::print(out, "  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n", format_duration(l.percentile(0.5)),
               format_duration(l.percentile(0.9)), format_duration(l.percentile(0.99)),
               format_duration(l.percentile(0.999)), format_duration(l.max_ns));
    write_histogram_text(l.hist, out);
  }
  if (!r.entries.empty()) {
    const size_t n = std::min(o.top, r.entries.size());
    fmt::print(out, "\nTop {} of {} sites by time waiting to run{}\n", n, r.entries.size(),
               r.min_ns ? fmt::format(" (waits of {} or more)", format_duration(r.min_ns)) : std::string());
    for (size_t i = 0; i < n; ++i) {
      const SchedEntry& e = r.entries[i];
      StackSummary s = summarize(st, e.stack_id);
      fmt::print(out, "\n#{:<3}{}  {}{}\n", i + 1, cause_label(e),
                 s.user ? s.user->function : std::string("?"),
                 e.runtime == RuntimeWait::None ? std::string()
                                                : fmt::format("  [{}]", runtime_wait_label(e.runtime)));
      fmt::print(out, "     ~{} runs ({} timed), total ~{}, p50 {}, p99 {}, max {} (goroutine {})\n", e.count,
                 e.tracked, format_duration(e.total_ns), format_duration(e.p50()), format_duration(e.p99()),
                 format_duration(e.max_ns), e.max_goid);
      print_stack(st, e.stack_id, out, o.max_frames, "       ");
    }
  }
  const KernelShare& k = r.kernel;
  const uint64_t wanted = k.running_ns + k.runnable_ns();
  fmt::print(
      out,
      "\nThe kernel: the target's threads ran {}, and waited for a CPU {} ({:.1f}% of the time they wanted "
      "one): {} after {} preemptions, {} from wakeup to running; they slept {}\n",
      format_duration(k.running_ns), format_duration(k.runnable_ns()), pct(k.runnable_ns(), wanted),
      format_duration(k.preempted_ns), k.preemptions, format_duration(k.wakeup_ns),
      format_duration(k.blocked_ns));
  if (!r.kernel_sites.empty()) {
    fmt::print(out, "  what ran when the kernel took the CPU (time until it ran again):\n");
    for (size_t i = 0; i < std::min<size_t>(5, r.kernel_sites.size()); ++i) {
      const auto& ks = r.kernel_sites[i];
      fmt::print(out, "    {:>9}  {:>6}x  {}\n", format_duration(ks.total_ns), ks.count,
                 stack_label(st, ks.stack_id));
    }
  }
  if (r.cgroup) {
    const CgroupShare& c = *r.cgroup;
    fmt::print(out, "CPU quota: cgroup v{} {}: {}", c.version, c.path, quota_label(c));
    if (!c.limit_path.empty() && c.limit_path != c.path) fmt::print(out, " (set at {})", c.limit_path);
    if (c.nr_throttled && (c.quota_cpus || *c.nr_throttled))
      fmt::print(out, "; throttled in {} of {} periods, {}", *c.nr_throttled, c.nr_periods.value_or(0),
                 format_duration(c.throttled_ns.value_or(0)));
    fmt::print(out, "\n");
  } else if (!r.cgroup_unknown.empty()) {
    fmt::print(out, "CPU quota: unknown ({})\n", r.cgroup_unknown);
  }
  if (r.gomaxprocs)
    fmt::print(out, "GOMAXPROCS {} ({}); the target may run on {} CPUs\n", *r.gomaxprocs, r.gomaxprocs_source,
               r.host_cpus);
  for (const auto& d : r.diagnosis) fmt::print(out, "=> {}\n", d);
  if (r.exact && !r.budget.empty()) {
    const size_t n = std::min(o.top, r.budget.size());
    fmt::print(
        out,
        "\nWhere goroutine-time went, by start function (top {} of {}): running on a CPU | runnable in Go's "
        "queue | runnable, its thread off a CPU | asleep in the kernel (system calls) | parked\n",
        n, r.budget.size());
    for (size_t i = 0; i < n; ++i) {
      const BudgetRow& b = r.budget[i];
      const uint64_t t = b.total_ns();
      fmt::print(out,
                 "  {:>9} in {:>5} goroutines  {:5.1f}% | {:5.1f}% | {:5.1f}% | {:5.1f}% | {:5.1f}%  {}\n",
                 format_duration(t), b.goroutines, pct(b.running_ns, t), pct(b.runnable_go_ns, t),
                 pct(b.runnable_kernel_ns, t), pct(b.syscall_ns, t), pct(b.parked_ns, t), b.function);
    }
  }
  if (!r.stw.empty()) {
    fmt::print(out, "\nStop-the-world pauses (every goroutine waits through them)\n");
    for (const auto& s : r.stw)
      fmt::print(out, "  {:<28} {:>5}x  total {:>9}  max {:>9}\n", s.reason, s.count,
                 format_duration(s.total_ns), format_duration(s.max_ns));
  }
}

void write_sched_json(SchedReport& r, std::ostream& out, const SchedWriterOptions& o) {
  StackTable& st = *r.stacks;
  JsonWriter j(out);
  j.begin_object();
  write_summary_json_fields(j, r.summary);
  j.field("sampler", r.exact ? "exact" : "runtime-tracking");
  j.field("tracking_period", r.exact ? uint64_t{1} : kTrackingPeriod);
  j.field("scale", r.scale);
  j.field("min_ns", r.min_ns);
  const LatencyTotals& l = r.latency;
  j.key("latency");
  j.begin_object();
  j.field("tracked", l.tracked);
  j.field("count", l.count);
  j.field("total_ns", l.total_ns);
  j.field("p50_ns", l.percentile(0.5));
  j.field("p90_ns", l.percentile(0.9));
  j.field("p99_ns", l.percentile(0.99));
  j.field("p999_ns", l.percentile(0.999));
  j.field("max_ns", l.max_ns);
  j.key("buckets");
  j.begin_array();
  for (size_t b = 0; b < kHistBuckets; ++b) {
    if (!l.hist.buckets[b]) continue;
    j.begin_object();
    j.field("le_ns", uint64_t{2} << b);
    j.field("count", l.hist.buckets[b]);
    j.end();
  }
  j.end();
  j.end();
  j.key("entries");
  j.begin_array();
  for (const SchedEntry& e : r.entries) {  // all of them (the text shows --top)
    j.begin_object();
    j.field("cause", cause_name(e.cause));
    j.key("reason");
    if (e.reason.empty())
      j.null();
    else
      j.value(e.reason);
    j.key("runtime");
    if (e.runtime == RuntimeWait::None)
      j.null();
    else
      j.value(runtime_wait_name(e.runtime));
    j.field("count", e.count);
    j.field("tracked", e.tracked);
    j.field("total_ns", e.total_ns);
    j.field("p50_ns", e.p50());
    j.field("p99_ns", e.p99());
    j.field("max_ns", e.max_ns);
    j.field("max_goid", e.max_goid);
    j.key("stack");
    write_stack_json(j, st, e.stack_id);
    j.end();
  }
  j.end();
  const KernelShare& k = r.kernel;
  j.key("kernel");
  j.begin_object();
  j.field("running_ns", k.running_ns);
  j.field("runnable_ns", k.runnable_ns());
  j.field("runnable_after_preemption_ns", k.preempted_ns);
  j.field("runnable_after_wakeup_ns", k.wakeup_ns);
  j.field("blocked_ns", k.blocked_ns);
  j.field("preemptions", k.preemptions);
  j.field("sleeps", k.sleeps);
  j.key("preempted_sites");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.top, r.kernel_sites.size()); ++i) {
    const auto& ks = r.kernel_sites[i];
    j.begin_object();
    j.field("count", ks.count);
    j.field("total_ns", ks.total_ns);
    j.field("max_ns", ks.max_ns);
    j.key("stack");
    write_stack_json(j, st, ks.stack_id);
    j.end();
  }
  j.end();
  j.end();
  j.key("cgroup");
  if (!r.cgroup) {
    j.null();
  } else {
    const CgroupShare& c = *r.cgroup;
    j.begin_object();
    j.field("version", c.version);
    j.field("path", c.path);
    j.key("limit_path");
    if (c.limit_path.empty())
      j.null();
    else
      j.value(c.limit_path);
    j.key("quota_cpus");
    if (c.quota_cpus)
      j.value(*c.quota_cpus);
    else
      j.null();
    auto opt = [&](const char* key, const std::optional<uint64_t>& v) {
      j.key(key);
      if (v)
        j.value(*v);
      else
        j.null();
    };
    opt("nr_periods", c.nr_periods);
    opt("nr_throttled", c.nr_throttled);
    opt("throttled_ns", c.throttled_ns);
    j.end();
  }
  j.key("gomaxprocs");
  if (r.gomaxprocs)
    j.value(*r.gomaxprocs);
  else
    j.null();
  j.field("gomaxprocs_source", r.gomaxprocs_source);
  j.field("cpus", r.host_cpus);
  j.key("diagnosis");
  j.begin_array();
  for (const auto& d : r.diagnosis) j.value(d);
  j.end();
  j.key("stw");
  j.begin_array();
  for (const auto& s : r.stw) {
    j.begin_object();
    j.field("reason", s.reason);
    j.field("count", s.count);
    j.field("total_ns", s.total_ns);
    j.field("max_ns", s.max_ns);
    j.end();
  }
  j.end();
  j.field("stw_unpaired", r.stw_unpaired);
  j.key("budget");  // --exact only
  j.begin_array();
  for (const auto& b : r.budget) {
    j.begin_object();
    j.field("function", b.function);
    j.field("goroutines", b.goroutines);
    j.field("total_ns", b.total_ns());
    j.field("running_ns", b.running_ns);
    j.field("runnable_go_ns", b.runnable_go_ns);
    j.field("runnable_kernel_ns", b.runnable_kernel_ns);
    j.field("syscall_ns", b.syscall_ns);
    j.field("parked_ns", b.parked_ns);
    j.end();
  }
  j.end();
  j.end();
  out << "\n";
}

ProfileData sched_profile(SchedReport& r, const std::string& binary) {
  ProfileData p = new_profile(
      r.summary, binary, {{"delays", "count"}, {"delay", "nanoseconds"}},
      fmt::format("gotrace sched, PID {} ({}), {}: time runnable before running, by "
                  "where goroutines resumed ({})",
                  r.summary.pid, r.summary.comm, r.summary.go_version,
                  r.exact ? std::string("every transition seen, --exact")
                          : fmt::format("estimated from the runtime's 1-in-{} tracking", kTrackingPeriod)));
  for (const auto& e : r.entries) {
    ProfileSample s;
    s.stack_id = e.stack_id;
    s.values = {static_cast<int64_t>(e.count), static_cast<int64_t>(e.total_ns)};
    s.labels = {{"cause", std::string(cause_name(e.cause))}};
    s.leaf_note = "[" + cause_label(e) + "]";
    p.samples.push_back(std::move(s));
  }
  return p;
}

}  // namespace gotrace
