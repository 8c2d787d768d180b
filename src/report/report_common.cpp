#include "gotrace/report/report_common.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "gotrace/model/runtime_waits.h"
#include "gotrace/util/printable_stream.h"

namespace gotrace {

std::string format_duration(uint64_t ns) {
  if (ns >= 10'000'000'000ULL) return fmt::format("{:.1f}s", ns / 1e9);
  if (ns >= 1'000'000'000ULL) return fmt::format("{:.2f}s", ns / 1e9);
  if (ns >= 1'000'000ULL) return fmt::format("{:.1f}ms", ns / 1e6);
  if (ns >= 1'000ULL) return fmt::format("{:.1f}µs", ns / 1e3);
  return fmt::format("{}ns", ns);
}

void write_summary_text(const TraceSummary& s, std::ostream& raw_out) {
  PrintableOStream out(raw_out);  // nothing from the target reaches the terminal raw
  fmt::print(out, "PID {} ({}), {}, traced {:.1f}s ({}){}\n", s.pid, s.comm, s.go_version, s.duration_s,
             s.stopped_by, s.target_alive ? "" : "; the target has exited, showing what was collected");
  fmt::print(out, "{} probes attached; {} events; {} dropped", s.probes_attached, s.events, s.dropped);
  // Drops are events lost, each once; what counted events lack (a stack, a
  // waker, a ring-buffer record) is said apart (trace_context.h).
  auto kinds_of = [&](std::string_view prefix) {
    std::string kinds;
    for (const auto& [k, v] : s.counters)
      if (k.starts_with(prefix) && v)
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", v, k.substr(prefix.size()));
    return kinds;
  };
  if (s.dropped) fmt::print(out, " ({})", kinds_of("drop_"));
  if (std::string lost = kinds_of("lost_"); !lost.empty())
    fmt::print(out, "; kept without some detail: {}", lost);
  fmt::print(out, "\n");
  write_cost_text(s.cost, out);
  for (const auto& g : s.governor.steps)
    fmt::print(out,
               "Overhead governor (budget {:g}% of the target's CPU{}): {:.1f}s in, the probes cost ~{:.1f}% "
               "({} of CPU per second): {}\n",
               100 * s.governor.max_share,
               s.governor.allowance_cpu_share > 0
                   ? fmt::format(", and always {:g}% of one CPU", 100 * s.governor.allowance_cpu_share)
                   : "",
               g.at_s, 100 * g.share, format_duration(static_cast<uint64_t>(g.cost_ns_per_s)), g.action);
  for (const auto& n : s.notes) fmt::print(out, "note: {}\n", n);
}

void write_cost_text(const TraceCost& c, std::ostream& out) {
  if (!c.known) return;
  if (c.probe_hits == 0) {
    fmt::print(out, "Cost to the target: none (no probe was hit)\n");
    return;
  }
  std::string trap = c.trap_ns_per_hit > 0
                         ? fmt::format("{} trap each (measured here)",
                                       format_duration(static_cast<uint64_t>(c.trap_ns_per_hit)))
                         : std::string("trap cost unknown");
  fmt::print(out, "Cost to the target: ~{} of CPU", format_duration(c.estimated_ns));
  if (c.target_cpu_ns)
    fmt::print(out, " ({:.1f}% of the {} it used meanwhile)", 100.0 * c.share(),
               format_duration(c.target_cpu_ns));
  fmt::print(out, ": {} probe hits, {}, + {} in BPF\n", c.probe_hits, trap, format_duration(c.bpf_ns));
}

// "main.worker (/src/demo/main.go:55)" for the first user frame, "via
// runtime.chanrecv1" for the standard-library call it was in.
StackSummary summarize(StackTable& st, uint64_t id) {
  StackSummary s;
  auto i = st.headline_index(id);
  if (!i) return s;
  const auto& fs = st.frames(id);
  s.user = &fs[*i];
  if (*i > 0 && !is_std_function(s.user->function)) s.via = &fs[*i - 1];
  return s;
}

void print_stack(StackTable& st, uint64_t id, std::ostream& out, size_t max_frames, const char* indent) {
  const auto& fs = st.frames(id);
  if (fs.empty()) {
    fmt::print(out, "{}(stack not recorded)\n", indent);
    return;
  }
  // From just above the user's frame; a stack that is all standard library in full.
  const size_t start = st.first_shown(id);
  if (start > 0) fmt::print(out, "{}… {} runtime frames\n", indent, start);
  size_t shown = 0;
  for (size_t i = start; i < fs.size() && shown < max_frames; ++i, ++shown) {
    const Frame& f = fs[i];
    fmt::print(out, "{}{}{}\n{}    {}:{}\n", indent, f.function, f.inlined ? " (inlined)" : "", indent,
               f.file, f.line);
  }
  if (start + shown < fs.size()) fmt::print(out, "{}… {} more frames\n", indent, fs.size() - start - shown);
}

// What the runtime was doing when it woke a goroutine without a user
// goroutine of its own: firing a timer, GC, the scheduler.
std::string runtime_waker(StackTable& st, uint64_t stack_id) {
  const auto& fs = st.frames(stack_id);
  for (const auto& f : fs)
    if (f.function.find("imer") != std::string::npos || f.function == "runtime.goroutineReady")
      return "a timer (time.Sleep, time.After, Ticker), fired by the scheduler";
  for (const auto& f : fs)
    if (f.function.starts_with("runtime.gc")) return fmt::format("the garbage collector ({})", f.function);
  if (RuntimeWait w = classify_runtime_wait(fs); w != RuntimeWait::None)
    return std::string(runtime_wait_label(w));
  for (const auto& f : fs)
    if (f.function != "runtime.ready" && !f.function.ends_with(".func1") &&
        !is_runtime_trampoline(f.function))
      return fmt::format("the runtime ({})", f.function);
  return "the runtime";
}

std::string stack_label(StackTable& st, uint64_t stack_id) {
  StackSummary s = summarize(st, stack_id);
  if (!s.user) return "unknown";
  std::string label = fmt::format("{} ({}:{})", s.user->function, s.user->file, s.user->line);
  if (s.via) label += fmt::format(" via {}", s.via->function);
  return label;
}

void write_stack_json(JsonWriter& j, StackTable& st, uint64_t id) {
  j.begin_array();
  for (const auto& f : st.frames(id)) {
    j.begin_object();
    j.field("func", f.function);
    j.field("file", f.file);
    j.field("line", f.line);
    if (f.inlined) j.field("inlined", true);
    j.end();
  }
  j.end();
}

// The overhead governor's budget and decisions (only for traces it watched).
static void write_governor_json(JsonWriter& j, const GovernorRecord& g) {
  j.key("governor");
  j.begin_object();
  j.field("on", g.on);
  j.field("max_overhead_pct", 100 * g.max_share);
  j.field("allowance_cpu_pct", 100 * g.allowance_cpu_share);
  j.key("steps");
  j.begin_array();
  for (const auto& step : g.steps) {
    j.begin_object();
    j.field("at_s", step.at_s);
    j.field("share", step.share);
    j.field("cost_ns_per_s", step.cost_ns_per_s);
    j.field("action", step.action);
    j.end();
  }
  j.end();
  j.end();
}

void write_summary_json_fields(JsonWriter& j, const TraceSummary& s) {
  j.field("pid", s.pid);
  j.field("comm", s.comm);
  j.field("go_version", s.go_version);
  j.field("duration_s", s.duration_s);
  j.field("stopped_by", s.stopped_by);
  j.field("target_alive", s.target_alive);
  j.field("probes_attached", static_cast<uint64_t>(s.probes_attached));
  j.field("detach_s", s.detach_s);
  j.field("attached_fraction", s.attached_fraction);
  j.field("events", s.events);
  j.field("dropped", s.dropped);
  j.key("cost");
  if (!s.cost.known) {
    j.null();
  } else {
    j.begin_object();
    j.field("probe_hits", s.cost.probe_hits);
    j.field("trap_ns_per_hit", s.cost.trap_ns_per_hit);
    j.field("bpf_ns", s.cost.bpf_ns);
    j.field("estimated_ns", s.cost.estimated_ns);
    j.field("target_cpu_ns", s.cost.target_cpu_ns);
    j.field("share", s.cost.share());
    j.end();
  }
  if (s.governor.max_share > 0) write_governor_json(j, s.governor);
  j.key("counters");
  j.begin_object();
  for (const auto& [k, v] : s.counters) j.field(k, v);
  j.end();
  j.key("notes");
  j.begin_array();
  for (const auto& n : s.notes) j.value(n);
  j.end();
}

}  // namespace gotrace
