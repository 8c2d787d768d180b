#include "commands/goroutines/goroutine_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "goroutines.skel.h"
#include "gotrace/host/pid_namespace.h"
#include "gotrace/session/attach.h"
#include "gotrace/session/bpf_util.h"
#include "gotrace/session/park_tracking.h"
#include "gotrace/util/signals.h"
#include "gotrace/util/slow_notice.h"

namespace gotrace {

namespace {

constexpr CounterSpec kGoroutineCounters[] = {GT_GOROUTINES_COUNTERS(GT_CNT_SPEC_ENTRY)};

}  // namespace

const ProbeTable& goroutines_probe_table() {
  // Both sites run on g0. The exit is gdestroy from 1.22 (goexit0 became a
  // call to it and schedule; coroutine exits reach it too), goexit0 before.
  static const ProbeTable table{"goroutines --leaks",
                                {
                                    {ProbeRole::NewprocQueue, "create_site", 0, true},
                                    {ProbeRole::Goexit0, "exit_entry", 0, true, false, 0, 0, 21},
                                    {ProbeRole::Gdestroy, "exit_entry", 0, true, false, 0, 22},
                                },
                                false};
  return table;
}

CounterSpecs goroutines_counters() { return counter_specs({kGoroutineCounters}); }

struct GoroutineProbes::Impl {
  SkeletonPtr<goroutines_bpf> skel{nullptr, goroutines_bpf__destroy};
  LinkSet links;
};

GoroutineProbes::GoroutineProbes(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GoroutineProbes::~GoroutineProbes() = default;

Result<std::unique_ptr<GoroutineProbes>> GoroutineProbes::start(TraceContext& tc) {
  install_libbpf_logging();
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(goroutines_bpf__open());
  if (!impl->skel) return Error{explain_bpf_error(errno, "opening the goroutines BPF program")};
  goroutines_bpf& s = *impl->skel;
  const RuntimeOffsets& o = *tc.binary->offsets();
  if (!o[RtField::GGopc].known() || !o[RtField::GStartpc].known())
    return make_error("the offsets of g.gopc and g.startpc are unknown for this build");
  s.rodata->off = tc.bpf_offsets();
  s.rodata->target_tgid = static_cast<uint32_t>(tc.process.pid());
  if (const PidNamespace ns = own_pid_namespace(); !ns.initial) {  // the PID is one of that namespace
    s.rodata->pidns_dev = ns.dev;
    s.rodata->pidns_ino = ns.ino;
  }
  s.rodata->g_gopc = static_cast<uint32_t>(o[RtField::GGopc].value);
  s.rodata->g_startpc = static_cast<uint32_t>(o[RtField::GStartpc].value);
  const bool multi = use_uprobe_multi(tc.host.uprobe_multi.value_or(false));  // fast detach
  if (multi) prepare_uprobe_multi(s.obj);
  const int loaded = goroutines_bpf__load(&s);
  // Next the probes go in: from now on a stop signal only sets the flag
  // (they must come off in order), and the watch looks at it.
  defer_stop_signals();
  if (loaded) return Error{explain_bpf_error(loaded, "loading the goroutines BPF program")};

  SlowStepNotice notice(fmt::format("attaching the creation and exit probes to PID {} ({})", tc.process.pid(),
                                    tc.process.comm()));
  if (auto r = attach_probe_table(goroutines_probe_table(), s.obj, tc, 0, multi, impl->links); !r)
    return r.error();
  // Exec'd (or gone) while the probes went on: they sit on the file the
  // target ran before, harmless to the new program, and would count nothing.
  if (const Identity identity = tc.process.identity(); identity != Identity::Same) {
    impl->links.clear();
    return Error{tc.process.identity_text(identity)};
  }
  return std::unique_ptr<GoroutineProbes>(new GoroutineProbes(std::move(impl)));
}

size_t GoroutineProbes::attached() const { return impl_->links.size(); }

std::vector<ProbedSite> GoroutineProbes::sites() const {
  std::vector<ProbedSite> out;
  for_each_map_entry<gt_gsite_key, gt_gsite_val>(bpf_map__fd(impl_->skel->maps.sites),
                                                 [&](const gt_gsite_key& k, const gt_gsite_val& v) {
                                                   out.push_back({k, v});
                                                 });
  return out;
}

Counters GoroutineProbes::counters() const { return read_counters(bpf_map__fd(impl_->skel->maps.counters)); }

void GoroutineProbes::stop() {
  impl_->skel->bss->tracing_stopped = 1;
  impl_->links.clear();
}

uint64_t GoroutineProbes::evicted() const {
  Counters c = counters();
  uint64_t remaining = 0;
  for_each_map_entry<uint64_t, gt_gborn>(bpf_map__fd(impl_->skel->maps.born),
                                         [&](const uint64_t&, const gt_gborn&) { ++remaining; });
  uint64_t accounted = c[GT_CNT_G_EXIT_MATCHED] + c[GT_CNT_G_BORN_FAILED] + remaining;
  return c[GT_CNT_G_CREATED] > accounted ? c[GT_CNT_G_CREATED] - accounted : 0;
}

}  // namespace gotrace
