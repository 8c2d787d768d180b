// gotrace sched: sched.bpf.c times the runnable-to-running transitions the
// runtime already tracks (one goroutine in 8, stamped when it became
// runnable), at runtime.execute; follows the target's threads through the
// scheduler's tracepoints; and sees the world's stops. This file configures
// it, reads the cgroup's CPU quota and GOMAXPROCS around the trace, and turns
// the maps into the model.
#include "commands/sched/sched_command.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <sched.h>

#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "commands/sched/sched_report.h"
#include "commands/sched/sched_writer.h"
#include "gotrace/gobin/pclntab.h"
#include "gotrace/gobin/tls_g.h"
#include "gotrace/host/cpu_cgroup.h"
#include "gotrace/host/pid_namespace.h"
#include "gotrace/session/trace_command.h"
#include "gotrace/target/remote_memory.h"
#include "gotrace/util/clock.h"

// The skeleton needs the shared record types first.
#include "commands/sched/sched_types.h"
// The skeleton after the records it embeds.
#include "sched.skel.h"

namespace gotrace {

namespace {
constexpr uint32_t kExact = 1;  // ProbeSpec::needs: --exact
}  // namespace

const ProbeTable& sched_probe_table() {
  static const ProbeTable table{
      "sched",
      {
          {ProbeRole::Execute, "execute_entry", 0, true},
          // --exact: every state change of every goroutine.
          {ProbeRole::Ready, "runnable_exact", 0, true, false, kExact},
          {ProbeRole::GoschedImpl, "runnable_exact", 0, true, false, kExact},
          {ProbeRole::GoyieldM, "runnable_exact", 0, false, false, kExact},
          {ProbeRole::ExitsyscallSlow, "runnable_exact", 0, false, false, kExact},
          {ProbeRole::NewprocQueue, "newproc_exact", 0, false, false, kExact},
          {ProbeRole::InjectGlist, "inject_exact", 0, false, false, kExact},
          {ProbeRole::Gopark, "gopark_exact", 0, true, false, kExact},
          {ProbeRole::Goexit1, "goexit_exact", 0, false, false, kExact},
          {ProbeRole::StopTheWorld, "stw_entry", GT_GC_STW_STOP, false},
          {ProbeRole::StartTheWorld, "stw_entry", GT_GC_STW_START, false},
          {ProbeRole::GcPauseEnd, "stw_entry", GT_GC_PAUSE_END, false, false, 0, 19},
      },
      true};
  return table;
}

namespace {

constexpr CounterSpec kSchedCounters[] = {GT_SCHED_COUNTERS(GT_CNT_SPEC_ENTRY)};

constexpr const char* kExactNote =
    "--exact probes every goroutine state change (runtime.gopark, ready, execute and the scheduler's paths): "
    "each "
    "switch pays a few traps; use it for short traces";

// A resume stack's first PC is g.sched.pc: where mcall (a park, a yield,
// asynchronous preemption) or morestack saved the goroutine, the return
// address of that call. Symbolized as an instruction it would name the line
// after the call (or an inlined frame that follows it); its call is PC - 1.
// A new goroutine's context is its function's entry (one frame): as is.
void resumed_at_call(StackTable& st, std::vector<RawSchedAgg>& aggs) {
  std::map<uint64_t, uint64_t> moved;
  uint64_t next_id = uint64_t{1} << 62;  // above any id the programs give (a hash with bit 0 set … any)
  for (auto& a : aggs) {
    auto [it, fresh] = moved.try_emplace(a.stack_id, a.stack_id);
    if (fresh) {
      const auto* pcs = st.pcs(a.stack_id);
      if (pcs && pcs->size() >= 2 && (*pcs)[0]) {
        std::vector<uint64_t> at_call = *pcs;
        at_call[0] -= 1;
        while (st.has(next_id)) ++next_id;
        st.add(next_id, std::move(at_call));
        it->second = next_id++;
      }
    }
    a.stack_id = it->second;
  }
}

// GOMAXPROCS=N in the process's initial environment, when it is a number.
std::optional<int64_t> environment_gomaxprocs(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/environ", pid), std::ios::binary);
  std::string var;
  while (std::getline(in, var, '\0')) {
    if (!var.starts_with("GOMAXPROCS=")) continue;
    const std::string v = var.substr(11);
    if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    const int64_t n = std::stoll(v);
    return n > 0 ? std::optional<int64_t>(n) : std::nullopt;
  }
  return std::nullopt;
}

struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};

class SchedCommand final : public SkeletonCommand<sched_bpf> {
 public:
  explicit SchedCommand(const SchedConfig& config)
      : SkeletonCommand({sched_bpf__open, sched_bpf__load, sched_bpf__destroy}, "sched"), config_(config) {}

  const ProbeTable& probes() const override { return sched_probe_table(); }
  std::string what() const override { return "scheduling latency"; }

  Result<void> prepare(TraceContext& tc) override {
    const auto& offs = *tc.binary->offsets();
    for (RtField f :
         {RtField::GTracking, RtField::GTrackingStamp, RtField::GRunnableTime, RtField::GWaitreason})
      if (!offs[f].known())
        return make_error(
            "{}: {} is unknown for this build: gotrace sched reads the runtime's own latency "
            "tracking (Go 1.17+)",
            tc.process.exe_target(), field_name(f));
    std::string why;
    if (auto t = tls_g_offset(tc.binary->elf(), &why)) {
      tls_ = *t;
    } else {
      tls_.reset();
      tc.notes.push_back("the goroutine a preempted thread ran is read from R14 (checked against its M): " +
                         why);
    }
    if (tc.binary->wait_reasons()) reasons_ = *tc.binary->wait_reasons();
    pid_ = tc.process.pid();
    // GOMAXPROCS: the runtime's variable where the symbol table names it;
    // else what the runtime sets it to by default (its CPU affinity, and
    // from 1.25 the CPU quota), said to be derived.
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(pid_, sizeof set, &set) == 0) host_cpus_ = static_cast<unsigned>(CPU_COUNT(&set));
    std::string cg_why;
    cgroup_ = find_cpu_cgroup(pid_, &cg_why);
    if (!cgroup_) cgroup_why_ = cg_why;
    gomaxprocs_.reset();
    if (const ElfSymbol* s = tc.binary->elf().symbol("runtime.gomaxprocs"); s && s->size == 4) {
      RemoteMemory mem(pid_);
      if (auto v = mem.read_value<int32_t>(s->value + tc.load_bias); v && *v > 0) {
        gomaxprocs_ = *v;
        gomaxprocs_source_ = "runtime.gomaxprocs";
      }
    }
    if (!gomaxprocs_)
      if (auto env = environment_gomaxprocs(pid_)) {
        gomaxprocs_ = *env;
        gomaxprocs_source_ =
            "GOMAXPROCS in its environment at start (a later runtime.GOMAXPROCS call is not seen)";
      }
    if (!gomaxprocs_ && host_cpus_) {
      int64_t n = host_cpus_;
      std::string how = "the CPUs it may run on";
      if (tc.binary->version().minor >= 25 && cgroup_ && cgroup_->quota_cpus) {
        n = std::min<int64_t>(n, std::max<int64_t>(2, static_cast<int64_t>(std::ceil(*cgroup_->quota_cpus))));
        how += " and its CPU quota";
      }
      gomaxprocs_ = n;
      gomaxprocs_source_ = "derived from " + how + ", the runtime's default";
    }
    minor_ = tc.binary->version().minor;
    if (!offs[RtField::GStartpc].known()) exact_ = false;
    if (exact_) tc.notes.push_back(kExactNote);
    return {};
  }

  uint32_t options(const TraceContext&) const override { return exact_ ? kExact : 0; }

  Result<void> configure(TraceContext& tc) override {
    auto* ro = skel().rodata;
    const auto& offs = *tc.binary->offsets();
    ro->tracking_off = static_cast<uint32_t>(offs[RtField::GTracking].value);
    ro->stamp_off = static_cast<uint32_t>(offs[RtField::GTrackingStamp].value);
    ro->runnable_time_off = static_cast<uint32_t>(offs[RtField::GRunnableTime].value);
    ro->waitreason_off = static_cast<uint32_t>(offs[RtField::GWaitreason].value);
    ro->tls_known = tls_ ? 1 : 0;
    ro->tls_g_off = tls_ ? tls_->offset : -8;
    ro->exact = exact_ ? 1 : 0;
    ro->startpc_off = static_cast<uint32_t>(offs[RtField::GStartpc].value);
    ro->stw_stop_has_reason = minor_ >= 21;
    ro->stw_start_has_reason = minor_ >= 22;
    return {};
  }

  // The scheduler's tracepoints: attached once the programs are loaded
  // (they never touch the target); they count from the trace's start only.
  Result<void> loaded(TraceContext&) override {
    links_.clear();
    if (own_pid_namespace().initial) skel().bss->host_tgid = static_cast<uint32_t>(pid_);
    for (bpf_program* p : {skel().progs.sched_switch_tp, skel().progs.sched_wakeup_tp}) {
      bpf_link* l = bpf_program__attach(p);
      if (!l)
        return Error{explain_bpf_error(
            errno, fmt::format("attaching {} (the kernel's scheduler tracepoint)", bpf_program__name(p)))};
      links_.emplace_back(l);
    }
    return {};
  }

  void at_edge(TraceContext&, Edge edge) override {
    const uint64_t now = monotonic_now_ns();
    if (edge == Edge::Began) {
      skel().bss->t_begin_ns = now;
      if (cgroup_) stat_begin_ = read_cpu_stat(*cgroup_);
    } else {
      end_ns_ = now;
      if (cgroup_) stat_end_ = read_cpu_stat(*cgroup_);
    }
  }

  void on_event(const void* data, size_t size) override {
    if (size < sizeof(gt_gc_event)) return;
    const auto* e = static_cast<const gt_gc_event*>(data);
    StwEvent ev;
    ev.kind = static_cast<GcEventKind>(e->kind);
    ev.t_ns = e->t_ns;
    ev.arg = e->arg;
    ev.arg2 = e->arg2;
    stw_.push_back(ev);
  }

  CounterSpecs counters() const override { return counter_specs({kSchedCounters}); }
  uint32_t rate_counter() const override { return GT_CNT_SCHED_TRACKED; }
  std::string status(const Counters& c, double rate) const override {
    return fmt::format("{:.0f} timed/s  {} runs  {} thread switches  {} dropped", rate,
                       c[GT_CNT_SCHED_EXECUTES], c[GT_CNT_SCHED_SWITCHES], drops(c));
  }

  // Over budget, --exact falls back to the runtime's own 1-in-8 tracking
  // (starting again); then the execute probe (every goroutine switch pays
  // its trap) is attached in time windows; the tracepoints stay.
  std::optional<CheaperWay> cheaper() const override {
    if (exact_)
      return CheaperWay{"fell back from --exact to the runtime's 1-in-8 tracking and started again", false};
    if (windowed_) return std::nullopt;
    return CheaperWay{"attaching the execute probe in time windows from now on (counts and times scaled)",
                      false, true};
  }
  void take_cheaper(TraceContext& tc) override {
    if (exact_) {
      exact_ = false;
      std::erase(tc.notes, std::string(kExactNote));
      stw_.clear();
      return;
    }
    windowed_ = true;
  }
  bool windowed() const override { return windowed_; }

  Result<std::optional<CommandProfile>> report(TraceContext& tc, TraceOutcome& outcome,
                                               const TraceConfig& config, std::ostream& out) override {
    SchedReport report;
    report.summary = outcome.summary;
    report.min_ns = static_cast<uint64_t>(config.min.count());
    report.stacks = tc.read_stacks(map_fd("stacks"));

    SchedBuildInput in;
    const int ncpu = libbpf_num_possible_cpus();
    {
      std::vector<gt_sched_total> per(static_cast<size_t>(std::max(ncpu, 1)));
      uint32_t key = 0;
      if (bpf_map_lookup_elem(map_fd("total"), &key, per.data()) == 0)
        for (const auto& t : per) {
          in.tracked += t.count;
          in.total_ns += t.total_ns;
          in.max_ns = std::max<uint64_t>(in.max_ns, t.max_ns);
          for (size_t b = 0; b < kHistBuckets; ++b) in.hist[b] += t.hist[b];
        }
      std::vector<gt_sched_kernel> kper(static_cast<size_t>(std::max(ncpu, 1)));
      if (bpf_map_lookup_elem(map_fd("kernel"), &key, kper.data()) == 0)
        for (const auto& k : kper) {
          in.kernel.running_ns += k.running_ns;
          in.kernel.preempted_ns += k.preempted_ns;
          in.kernel.wakeup_ns += k.wakeup_ns;
          in.kernel.blocked_ns += k.blocked_ns;
          in.kernel.preemptions += k.preemptions;
          in.kernel.sleeps += k.sleeps;
        }
    }
    // Threads in the middle of an interval when the trace ended: timed to its end.
    if (end_ns_)
      for_each_map_entry<uint32_t, gt_thread_state>(map_fd("threads"), [&](const auto&, const auto& s) {
        if (s.t_on && s.t_on < end_ns_)
          in.kernel.running_ns += end_ns_ - s.t_on;
        else if (s.t_off && s.t_off < end_ns_) {
          if (s.preempted)
            in.kernel.preempted_ns += end_ns_ - s.t_off;
          else if (s.t_wake >= s.t_off && s.t_wake < end_ns_) {
            in.kernel.blocked_ns += s.t_wake - s.t_off;
            in.kernel.wakeup_ns += end_ns_ - s.t_wake;
          } else
            in.kernel.blocked_ns += end_ns_ - s.t_off;
        }
      });
    for_each_map_entry<gt_sched_key, gt_sched_val>(map_fd("sched_agg"), [&](const auto& k, const auto& v) {
      RawSchedAgg a;
      a.stack_id = k.stack_id;
      a.reason = k.reason;
      a.count = v.count;
      a.total_ns = v.total_ns;
      a.max_ns = v.max_ns;
      a.max_goid = v.max_goid;
      std::copy(std::begin(v.hist), std::end(v.hist), a.hist.begin());
      in.aggs.push_back(a);
    });
    for_each_map_entry<uint64_t, gt_kpreempt_val>(map_fd("kpreempt_agg"), [&](const auto& k, const auto& v) {
      in.kernel_sites.push_back({k, v.count, v.total_ns, v.max_ns});
    });
    in.stw = std::move(stw_);
    if (exact_) {
      for_each_map_entry<uint64_t, gt_budget>(map_fd("budget_agg"), [&](const auto& startpc, const auto& b) {
        RawBudget r{startpc,      b.running_ns, b.runnable_ns, b.parked_ns, b.kernel_runnable_ns,
                    b.syscall_ns, b.goroutines};
        in.budget.push_back(r);
      });
      // Each goroutine's interval under way at the end, to the end.
      if (end_ns_) {
        std::map<uint64_t, size_t> at;
        for (size_t i = 0; i < in.budget.size(); ++i) at[in.budget[i].startpc] = i;
        for_each_map_entry<uint64_t, gt_gstate>(map_fd("gstates"), [&](const auto&, const auto& g) {
          if (!g.since || g.since >= end_ns_) return;
          auto [it, fresh] = at.try_emplace(g.startpc, in.budget.size());
          if (fresh) in.budget.push_back(RawBudget{g.startpc});
          RawBudget& r = in.budget[it->second];
          const uint64_t d = end_ns_ - g.since;
          if (g.state == GT_G_RUNNING) r.running_ns += d;
          if (g.state == GT_G_RUNNABLE) r.runnable_ns += d;
          if (g.state == GT_G_PARKED) r.parked_ns += d;
        });
      }
    }
    resumed_at_call(*report.stacks, in.aggs);

    SchedBuildOptions bo;
    bo.exact = exact_;
    bo.attached_fraction = outcome.summary.attached_fraction;
    const uint64_t bias = tc.load_bias;
    const Pclntab& pcln = tc.binary->pclntab();
    bo.function_at = [&pcln, bias](uint64_t pc) -> std::string {
      if (pc < bias) return "";
      auto fn = pcln.function_at(pc - bias);
      return fn ? std::string(fn->name) : std::string();
    };
    bo.reason_name = [&](unsigned r) { return reasons_.name(r); };
    bo.stw_reason_name = stw_reason_name;
    build_sched_report(report, in, bo);

    if (cgroup_) {
      CgroupShare c;
      c.version = cgroup_->version;
      c.path = cgroup_->path;
      c.limit_path = cgroup_->limit_path;
      c.quota_cpus = cgroup_->quota_cpus;
      if (stat_begin_ && stat_end_) {
        c.nr_periods = stat_end_->nr_periods - std::min(stat_end_->nr_periods, stat_begin_->nr_periods);
        c.nr_throttled =
            stat_end_->nr_throttled - std::min(stat_end_->nr_throttled, stat_begin_->nr_throttled);
        c.throttled_ns =
            stat_end_->throttled_ns - std::min(stat_end_->throttled_ns, stat_begin_->throttled_ns);
      }
      report.cgroup = c;
    } else {
      report.cgroup_unknown = cgroup_why_;
    }
    report.gomaxprocs = gomaxprocs_;
    report.gomaxprocs_source = gomaxprocs_source_;
    report.host_cpus = host_cpus_;
    diagnose(report, minor_);
    if (uint64_t n = outcome.counters[GT_CNT_SCHED_NO_G])
      report.summary.notes.push_back(
          fmt::format("{} kernel preemptions left no goroutine stack (C code, a signal stack, or a thread "
                      "between goroutines)",
                      n));

    SchedWriterOptions wo;
    wo.top = config.top;
    if (config.json)
      write_sched_json(report, out, wo);
    else
      write_sched_text(report, out, wo);
    return std::optional<CommandProfile>{
        CommandProfile{sched_profile(report, tc.process.exe_target()), report.stacks, 1}};
  }

 private:
  const SchedConfig& config_;
  bool exact_ = config_.exact;  // until the governor falls back
  std::optional<TlsGOffset> tls_;
  WaitReasons reasons_;
  pid_t pid_ = 0;
  int minor_ = 0;
  unsigned host_cpus_ = 0;
  std::optional<CpuCgroup> cgroup_;
  std::string cgroup_why_;
  std::optional<CpuStat> stat_begin_, stat_end_;
  std::optional<int64_t> gomaxprocs_;
  std::string gomaxprocs_source_;
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links_;
  std::vector<StwEvent> stw_;
  uint64_t end_ns_ = 0;  // when the trace ended (its open intervals are timed to it)
  bool windowed_ = false;
};

static_assert(GT_HIST_BUCKETS == kHistBuckets, "BPF and model histograms must have the same buckets");
static_assert(GT_STW_REASON_UNKNOWN == kStwReasonUnknown, "unknown stop reasons must agree");

}  // namespace

int run_sched(const SchedConfig& config) {
  SchedCommand cmd(config);
  return run_trace(cmd, config.trace);
}

}  // namespace gotrace
