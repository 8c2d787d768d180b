#include "gotrace/session/trace_context.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <set>
#include <string>
#include <vector>

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

namespace {

// "dropped" counts events lost, each once: an event whose own record could
// not be kept (a full aggregation, park or pending table). What an event
// that was counted lacks (its stack or its waker's, a ring-buffer record the
// aggregates still count, a chain link) is "lost_…", not a drop: a wait has
// two stacks, and counting each missing one as a lost event made "dropped"
// exceed the events.
constexpr CounterSpec kBase[] = {GT_BASE_COUNTERS(GT_CNT_SPEC_ENTRY)};
static_assert(GT_CNT_BASE__END <= GT_CNT_PARK_FIRST && GT_CNT_PARK__END <= GT_CNT_OWN_FIRST,
              "counter ranges overlap");
constexpr CounterSpec kPark[] = {GT_PARK_COUNTERS(GT_CNT_SPEC_ENTRY)};

// The same when park tracking only serves another command's details (lock's
// chains): a park not recorded loses a chain link, not one of its events,
// so its drops are "lost_…".
const std::vector<CounterSpec>& park_for_details() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& c : kPark)
      out.push_back(c.drop ? "lost_" + std::string(c.name.substr(c.name.find('_') + 1))
                           : std::string(c.name));
    return out;
  }();
  static const std::vector<CounterSpec> specs = [] {
    std::vector<CounterSpec> out;
    for (size_t i = 0; i < std::size(kPark); ++i) out.push_back({kPark[i].slot, names[i], false});
    return out;
  }();
  return specs;
}

}  // namespace

std::span<const CounterSpec> park_counter_specs(bool parks_are_events) {
  return parks_are_events ? std::span<const CounterSpec>(kPark)
                          : std::span<const CounterSpec>(park_for_details());
}

CounterSpecs counter_specs(std::initializer_list<std::span<const CounterSpec>> groups) {
  CounterSpecs out(std::begin(kBase), std::end(kBase));
  for (auto g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}

Result<void> check_counter_specs(const CounterSpecs& specs) {
  std::set<uint32_t> slots;
  std::set<std::string_view> names;
  for (const auto& s : specs) {
    if (s.slot >= GT_CNT_SLOTS)
      return make_error("counter {} is in slot {}, past {}", s.name, s.slot, GT_CNT_SLOTS);
    if (s.name.empty()) return make_error("counter slot {} has no name", s.slot);
    if (!slots.insert(s.slot).second) return make_error("counter slot {} is named twice", s.slot);
    if (!names.insert(s.name).second) return make_error("two counters are named {}", s.name);
    // Reports list the drops by this prefix: the two must agree.
    if (s.drop != s.name.starts_with("drop_"))
      return make_error("counter {} is {}a drop: only drops are named drop_…", s.name, s.drop ? "" : "not ");
  }
  return {};
}

uint64_t total_drops(const Counters& c, const CounterSpecs& specs) {
  uint64_t n = 0;
  for (const auto& s : specs)
    if (s.drop && s.slot < c.size()) n += c[s.slot];
  return n;
}

Result<TraceContext> TraceContext::prepare(pid_t pid, const ProbeTable& table) {
  auto target = open_target(pid);
  if (!target) return target.error();
  TraceContext tc{
      std::move(target->process), std::move(target->binary), probe_host(), {}, target->load_bias, {}};
  auto r = tc.analyse(table);
  if (!r) return Error(tc.startup_failure(r.error().message));
  // Gone while the host was checked and the binary analysed: say so now,
  // rather than when the probes fail to go in.
  if (!tc.process.alive()) return Error(tc.startup_failure("nothing was traced"));
  return tc;
}

Result<void> TraceContext::analyse(const ProbeTable& table) {
  const pid_t pid = process.pid();
  if (binary->version().major == 0) return make_error("PID {} ({}): unknown Go version", pid, process.comm());
  sites = plan_all_sites(*binary);
  Verdict v = check_command(table, *binary, host, sites);
  if (!v.can_run) {
    std::string why;
    for (const auto& r : v.reasons) why += (why.empty() ? "" : "; ") + r;
    return make_error("cannot trace PID {} ({}, {}): {}", pid, process.comm(),
                      binary->buildinfo().version_string, why);
  }
  for (const auto& w : v.warnings) notes.push_back(w);
  return {};
}

std::string TraceContext::startup_failure(std::string_view message) const {
  if (process.alive()) return std::string(message);
  return exited_while_starting(process, message);
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
  out.g_sched_sp = v(RtField::GSchedSp);
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

TraceSummary TraceContext::summary(const TraceLoopResult& loop, const Counters& c, const CounterSpecs& specs,
                                   size_t probes_attached, uint64_t events) const {
  TraceSummary s;
  s.pid = process.pid();
  s.comm = process.comm_exact();
  s.go_version = binary->buildinfo().version_string;
  s.duration_s = loop.elapsed.count();
  s.stopped_by = std::string(stop_reason_text(loop.reason));
  s.target_alive = process.alive();
  s.probes_attached = probes_attached;
  s.dropped = total_drops(c, specs);
  for (const auto& spec : specs) s.counters[std::string(spec.name)] = c[spec.slot];
  s.events = events;
  // (a runner that traced in more than one pass noted some things twice)
  for (const auto& n : notes)
    if (std::find(s.notes.begin(), s.notes.end(), n) == s.notes.end()) s.notes.push_back(n);
  if (!loop.error.empty()) s.notes.push_back(loop.error);
  if (const uint64_t other = c[GT_CNT_OTHER_PROCESS])
    s.notes.push_back(fmt::format(
        "{} probe hits came from processes other than PID {} and were not counted{}", other, process.pid(),
        events == 0 ? ": nothing of the target was seen, though the probes fired" : ""));
  if (loop.stopped.count() > 0) s.notes.push_back(target_stopped_note(loop));
  return s;
}

}  // namespace gotrace
