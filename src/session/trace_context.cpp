#include "gotrace/session/trace_context.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <unistd.h>

#include "gotrace/session/bpf_util.h"

namespace gotrace {

Counters read_counters(int fd) {
  Counters out{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  for (uint32_t k = 0; k < GT_CNT_SLOTS; ++k) {
    if (bpf_map_lookup_elem(fd, &k, per_cpu.data()) != 0) continue;
    for (auto v : per_cpu) out[k] += v;
  }
  return out;
}

bool counter_is_drop(gt_counter c) {
  switch (c) {
    case GT_CNT_DROP_STACKS_FULL:
    case GT_CNT_DROP_PARKED_FULL:
    case GT_CNT_DROP_AGG_FULL:
    case GT_CNT_DROP_RINGBUF:
    case GT_CNT_DROP_PENDING_FULL:
      return true;
    default:
      return false;
  }
}

uint64_t total_drops(const Counters& c) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < GT_CNT__COUNT; ++i)
    if (counter_is_drop(static_cast<gt_counter>(i))) n += c[i];
  return n;
}

std::string_view counter_name(gt_counter c) {
  switch (c) {
    case GT_CNT_PARKS:
      return "parks";
    case GT_CNT_PARK_RETRY:
      return "park_morestack_retries";
    case GT_CNT_WAKES:
      return "waits_ended";
    case GT_CNT_WAKES_UNMATCHED:
      return "wakes_unmatched";
    case GT_CNT_FILTERED:
      return "parks_filtered";
    case GT_CNT_DROP_STACKS_FULL:
      return "drop_stack_table_full";
    case GT_CNT_DROP_PARKED_FULL:
      return "drop_parked_table_full";
    case GT_CNT_DROP_AGG_FULL:
      return "drop_aggregation_full";
    case GT_CNT_DROP_RINGBUF:
      return "drop_ringbuf_full";
    case GT_CNT_EVENTS:
      return "events_sent";
    case GT_CNT_STACK_TRUNCATED:
      return "stacks_truncated";
    case GT_CNT_INJECT_TRUNCATED:
      return "injectglist_truncated";
    case GT_CNT_LOCK_WAITS:
      return "lock_waits";
    case GT_CNT_HANDOFFS:
      return "handoffs";
    case GT_CNT_HANDOFF_UNMATCHED:
      return "handoffs_unmatched";
    case GT_CNT_DROP_PENDING_FULL:
      return "drop_pending_table_full";
    case GT_CNT_CHAIN_TRUNCATED:
      return "chains_truncated";
    case GT_CNT_UNDER_MIN:
      return "waits_under_min";
    case GT_CNT_PARK_REPLACED:
      return "parks_replaced";
    case GT_CNT_PENDING_REPLACED:
      return "acquires_replaced";
    case GT_CNT_PENDING_REMOVED:
      return "acquires_ended";
    case GT_CNT_PENDING_ADDED:
      return "acquires_entered";
    case GT_CNT_ALLOC_SAMPLES:
      return "alloc_samples";
    case GT_CNT_ALLOC_RETRY:
      return "alloc_morestack_retries";
    case GT_CNT_ALLOC_NO_FRAME:
      return "alloc_type_frame_missing";
    case GT_CNT_ALLOC_LARGE:
      return "alloc_large_objects";
    case GT_CNT_ALLOC_MAP_GROWTHS:
      return "alloc_map_growths";
    case GT_CNT_ALLOC_GC_EVENTS:
      return "alloc_gc_events";
    case GT_CNT__COUNT:
      break;
  }
  return "?";
}

Result<TraceContext> TraceContext::prepare(pid_t pid, const ProbeTable& table) {
  auto proc = Process::open(pid);
  if (!proc) return proc.error();
  TraceContext tc{std::move(*proc), nullptr, probe_host(), {}, 0, {}};
  auto bin = GoBinary::open(tc.process.exe_link());
  if (!bin) return make_error("PID {} ({}): {}", pid, tc.process.comm(), bin.error().message);
  tc.binary = std::move(*bin);
  if (tc.binary->version().major == 0)
    return make_error("PID {} ({}): unknown Go version", pid, tc.process.comm());
  if (auto bias = tc.process.load_bias(tc.binary->elf()))
    tc.load_bias = *bias;
  else
    return make_error("PID {}: {}", pid, bias.error().message);

  tc.sites = plan_all_sites(*tc.binary);
  Verdict v = check_command(table, *tc.binary, tc.host, tc.sites);
  if (!v.can_run) {
    std::string why;
    for (const auto& r : v.reasons) why += (why.empty() ? "" : "; ") + r;
    return make_error("cannot trace PID {} ({}, {}): {}", pid, tc.process.comm(),
                      tc.binary->buildinfo().version_string, why);
  }
  for (const auto& w : v.warnings) tc.notes.push_back(w);
  return tc;
}

const PlannedSite* TraceContext::site(ProbeRole role) const {
  for (const auto& s : sites)
    if (s.role == role && s.usable()) return &s;
  return nullptr;
}

gt_offsets TraceContext::bpf_offsets() const {
  const RuntimeOffsets& o = *binary->offsets();
  auto v = [&](RtField f) { return static_cast<__u32>(o[f].known() ? o[f].value : 0); };
  gt_offsets out{};
  out.g_goid = v(RtField::GGoid);
  out.g_m = v(RtField::GM);
  out.g_stack_lo = v(RtField::GStackLo);
  out.g_stack_hi = v(RtField::GStackHi);
  out.g_stackguard0 = v(RtField::GStackguard0);
  out.g_schedlink = v(RtField::GSchedlink);
  out.g_sched_pc = v(RtField::GSchedPc);
  out.g_sched_bp = v(RtField::GSchedBp);
  out.m_g0 = v(RtField::MG0);
  out.m_curg = v(RtField::MCurg);
  return out;
}

std::shared_ptr<StackTable> TraceContext::read_stacks(int fd) const {
  auto table = std::make_shared<StackTable>(binary->pclntab(), load_bias);
  for_each_map_entry<uint64_t, gt_stack>(fd, [&](const uint64_t& id, const gt_stack& st) {
    uint32_t n = std::min<uint32_t>(st.len, GT_MAX_STACK_DEPTH);
    table->add(id, std::vector<uint64_t>(st.pcs, st.pcs + n));
  });
  return table;
}

TraceSummary TraceContext::summary(const TraceLoopResult& loop, const Counters& c, size_t probes_attached,
                                   uint64_t events) const {
  TraceSummary s;
  s.pid = process.pid();
  s.comm = process.comm();
  s.go_version = binary->buildinfo().version_string;
  s.duration_s = loop.elapsed.count();
  s.stopped_by = std::string(stop_reason_text(loop.reason));
  s.target_alive = process.alive();
  s.probes_attached = probes_attached;
  s.dropped = total_drops(c);
  for (uint32_t i = 0; i < GT_CNT__COUNT; ++i)
    s.counters[std::string(counter_name(static_cast<gt_counter>(i)))] = c[i];
  s.events = events;
  s.notes = notes;
  if (!loop.error.empty()) s.notes.push_back(loop.error);
  return s;
}

}  // namespace gotrace
