#include "gotrace/report/block_writer.h"

#include "gotrace/report/json_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>

namespace gotrace {

std::string_view waker_kind_name(WakerKind k) {
  switch (k) {
    case WakerKind::Goroutine: return "goroutine";
    case WakerKind::Netpoll: return "netpoller";
    case WakerKind::Runtime: return "runtime";
  }
  return "?";
}

std::string format_duration(uint64_t ns) {
  if (ns >= 10'000'000'000ULL) return fmt::format("{:.1f}s", ns / 1e9);
  if (ns >= 1'000'000'000ULL) return fmt::format("{:.2f}s", ns / 1e9);
  if (ns >= 1'000'000ULL) return fmt::format("{:.1f}ms", ns / 1e6);
  if (ns >= 1'000ULL) return fmt::format("{:.1f}µs", ns / 1e3);
  return fmt::format("{}ns", ns);
}

void write_summary_text(const TraceSummary& s, std::ostream& out) {
  fmt::print(out, "PID {} ({}), {}, traced {:.1f}s ({}){}\n", s.pid, s.comm, s.go_version, s.duration_s, s.stopped_by,
             s.target_alive ? "" : "; the target has exited, showing what was collected");
  fmt::print(out, "{} probes attached; {} events; {} dropped", s.probes_attached, s.events, s.dropped);
  if (s.dropped) {
    std::string kinds;
    for (const auto& [k, v] : s.counters)
      if (k.starts_with("drop_") && v) kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", v, k.substr(5));
    fmt::print(out, " ({})", kinds);
  }
  fmt::print(out, "\n");
  for (const auto& n : s.notes) fmt::print(out, "note: {}\n", n);
}

namespace {

// "main.worker (/src/demo/main.go:55)" for the first user frame, "via
// runtime.chanrecv1" for the standard-library call it was in.
struct StackSummary {
  const Frame* user = nullptr;
  const Frame* via = nullptr;
};

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
  size_t headline = st.headline_index(id).value_or(0);
  size_t start = headline > 0 && !is_std_function(fs[headline].function) ? headline - 1 : 0;
  if (start > 0) fmt::print(out, "{}… {} runtime frames\n", indent, start);
  size_t shown = 0;
  for (size_t i = start; i < fs.size() && shown < max_frames; ++i, ++shown) {
    const Frame& f = fs[i];
    fmt::print(out, "{}{}{}\n{}    {}:{}\n", indent, f.function, f.inlined ? " (inlined)" : "", indent, f.file, f.line);
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
  for (const auto& f : fs)
    if (f.function != "runtime.ready" && !f.function.ends_with(".func1") && f.function != "runtime.systemstack")
      return fmt::format("the runtime ({})", f.function);
  return "the runtime";
}

std::string waker_label(StackTable& st, const WakerShare& w) {
  if (w.kind == WakerKind::Netpoll) return "the network poller (fd ready)";
  if (w.kind == WakerKind::Runtime) return w.stack_id ? runtime_waker(st, w.stack_id) : "the runtime";
  if (!w.stack_id) return "unknown";
  StackSummary s = summarize(st, w.stack_id);
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

}  // namespace

void write_block_text(BlockReport& r, std::ostream& out, const BlockWriterOptions& o) {
  StackTable& st = *r.stacks;
  fmt::print(out, "gotrace block: ");
  write_summary_text(r.summary, out);
  if (r.entries.empty()) {
    fmt::print(out, "\nNo goroutine blocked{} while tracing.\n",
               r.min_ns ? fmt::format(" for {} or longer", format_duration(r.min_ns)) : "");
    return;
  }
  uint64_t grand = 0;
  for (const auto& e : r.entries) grand += e.total_ns;
  size_t n = std::min(o.top, r.entries.size());
  fmt::print(out, "\nTop {} of {} blocking sites by total time blocked ({} in all)\n", n, r.entries.size(),
             format_duration(grand));
  for (size_t i = 0; i < n; ++i) {
    const BlockEntry& e = r.entries[i];
    StackSummary s = summarize(st, e.stack_id);
    fmt::print(out, "\n#{:<3}{}  {}\n", i + 1, e.reason_name, s.user ? s.user->function : std::string("?"));
    fmt::print(out, "     {} waits, total {}, mean {}, p50 {}, p99 {}, max {} (goroutine {})\n", e.count,
               format_duration(e.total_ns), format_duration(e.mean()), format_duration(e.p50()),
               format_duration(e.p99()), format_duration(e.max_ns), e.max_goid);
    print_stack(st, e.stack_id, out, o.max_frames, "       ");
    if (!e.wakers.empty()) {
      // Stacks that read the same to a person (same function and line) are one row.
      std::vector<std::pair<std::string, uint64_t>> rows;
      for (const auto& ws : e.wakers) {
        std::string label = waker_label(st, ws);
        auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.first == label; });
        if (it == rows.end()) rows.emplace_back(std::move(label), ws.count);
        else it->second += ws.count;
      }
      std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      fmt::print(out, "     woken by:\n");
      for (size_t w = 0; w < std::min(o.wakers_per_entry, rows.size()); ++w)
        fmt::print(out, "       {:>5.1f}%  {}\n", 100.0 * rows[w].second / std::max<uint64_t>(e.count, 1), rows[w].first);
      if (rows.size() > o.wakers_per_entry) fmt::print(out, "       … {} more wakers\n", rows.size() - o.wakers_per_entry);
    }
  }
  if (!r.longest.empty()) {
    fmt::print(out, "\nLongest single waits\n");
    for (size_t i = 0; i < std::min(o.longest, r.longest.size()); ++i) {
      const LongWait& w = r.longest[i];
      StackSummary s = summarize(st, w.stack_id);
      std::string waker = w.waker_kind == WakerKind::Goroutine && w.waker_goid
                              ? fmt::format("goroutine {}", w.waker_goid)
                              : std::string(waker_kind_name(w.waker_kind));
      fmt::print(out, "  {:>9}  goroutine {:<8} {:<16} {}  (woken by {})\n", format_duration(w.duration_ns), w.goid,
                 w.reason_name, s.user ? s.user->function : std::string("?"), waker);
    }
  }
}

void write_block_json(BlockReport& r, std::ostream& out, const BlockWriterOptions& o) {
  StackTable& st = *r.stacks;
  const TraceSummary& s = r.summary;
  JsonWriter j(out);
  j.begin_object();
  j.field("pid", s.pid);
  j.field("comm", s.comm);
  j.field("go_version", s.go_version);
  j.field("duration_s", s.duration_s);
  j.field("stopped_by", s.stopped_by);
  j.field("target_alive", s.target_alive);
  j.field("probes_attached", static_cast<uint64_t>(s.probes_attached));
  j.field("events", s.events);
  j.field("dropped", s.dropped);
  j.field("min_ns", r.min_ns);
  j.key("counters");
  j.begin_object();
  for (const auto& [k, v] : s.counters) j.field(k, v);
  j.end();
  j.key("entries");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.top, r.entries.size()); ++i) {
    const BlockEntry& e = r.entries[i];
    j.begin_object();
    j.field("reason", e.reason_name);
    j.field("count", e.count);
    j.field("total_ns", e.total_ns);
    j.field("mean_ns", e.mean());
    j.field("max_ns", e.max_ns);
    j.field("max_goid", e.max_goid);
    j.field("p50_ns", e.p50());
    j.field("p99_ns", e.p99());
    j.key("stack");
    write_stack_json(j, st, e.stack_id);
    j.key("wakers");
    j.begin_array();
    for (const auto& w : e.wakers) {
      j.begin_object();
      j.field("kind", waker_kind_name(w.kind));
      j.field("count", w.count);
      j.field("total_ns", w.total_ns);
      j.key("stack");
      write_stack_json(j, st, w.stack_id);
      j.end();
    }
    j.end();
    j.end();
  }
  j.end();
  j.key("longest");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.longest, r.longest.size()); ++i) {
    const LongWait& w = r.longest[i];
    j.begin_object();
    j.field("goid", w.goid);
    j.field("duration_ns", w.duration_ns);
    j.field("reason", w.reason_name);
    j.field("waker_kind", waker_kind_name(w.waker_kind));
    j.field("waker_goid", w.waker_goid);
    j.key("stack");
    write_stack_json(j, st, w.stack_id);
    j.end();
  }
  j.end();
  j.key("notes");
  j.begin_array();
  for (const auto& n : s.notes) j.value(n);
  j.end();
  j.end();
}

}  // namespace gotrace
