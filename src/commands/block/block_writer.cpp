#include "commands/block/block_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>

#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"
#include "gotrace/util/printable_stream.h"

namespace gotrace {

namespace {

std::string waker_label(StackTable& st, const WakerShare& w) {
  if (w.kind == WakerKind::Netpoll) return "the network poller (fd ready)";
  if (w.kind == WakerKind::Runtime) return w.stack_id ? runtime_waker(st, w.stack_id) : "the runtime";
  if (!w.stack_id) return "unknown";
  // A goroutine running only runtime code (on the system stack, in the GC):
  // named by what the runtime did, not by a frame such as a trampoline.
  StackSummary s = summarize(st, w.stack_id);
  if (!s.user || is_std_function(s.user->function)) {
    bool all_runtime = true;
    for (const Frame& f : st.frames(w.stack_id))
      if (!f.function.starts_with("runtime.")) all_runtime = false;
    if (all_runtime) return runtime_waker(st, w.stack_id);
  }
  return stack_label(st, w.stack_id);
}

std::string runtime_tag(RuntimeWait w) {
  return w == RuntimeWait::None ? std::string() : fmt::format("  [{}]", runtime_wait_label(w));
}

void write_runtime_json(JsonWriter& j, RuntimeWait w) {
  j.key("runtime");
  if (w == RuntimeWait::None)
    j.null();
  else
    j.value(runtime_wait_name(w));
}

}  // namespace

double sample_hz_reached(const BlockReport& r) {
  return r.sampled && r.summary.duration_s > 0 ? static_cast<double>(r.sampled->scans) / r.summary.duration_s
                                               : 0;
}

void write_block_text(BlockReport& r, std::ostream& raw_out, const BlockWriterOptions& o) {
  PrintableOStream out(raw_out);  // nothing from the target reaches the terminal raw
  classify_runtime_waits(r);
  StackTable& st = *r.stacks;
  fmt::print(out, "gotrace block: ");
  write_summary_text(r.summary, out);
  if (r.sampled) {
    // The rate reached, when scans could not keep the one asked for.
    const double reached = sample_hz_reached(r);
    std::string rate = fmt::format("{:g} Hz", r.sampled->hz);
    if (r.sampled->slowed_by_cap)
      rate = fmt::format(
          "{:g} Hz asked, {:.1f} Hz reached (slowed so that scanning, {:.2f} ms of CPU a scan, costs at most "
          "{:g}% of a CPU: --max-overhead)",
          r.sampled->hz, reached, r.sampled->scan_cpu_ms, 100 * r.sampled->cpu_cap_share);
    else if (reached < 0.8 * r.sampled->hz)
      rate = fmt::format("{:g} Hz asked, {:.1f} Hz reached (a scan took longer than the period)",
                         r.sampled->hz, reached);
    fmt::print(out,
               "sampled, no probes: {}, {} scans of every goroutine, {:.2f} ms per scan (max {:.2f} ms); "
               "times are estimated goroutine-time blocked, wait counts are lower bounds, per-wait durations "
               "and wakers are not known\n",
               rate, r.sampled->scans, r.sampled->scan_mean_ms, r.sampled->scan_max_ms);
  }
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
    fmt::print(out, "\n#{:<3}{}  {}{}\n", i + 1, e.reason_name, s.user ? s.user->function : std::string("?"),
               runtime_tag(e.runtime));
    if (r.sampled)
      fmt::print(out, "     {}+ waits seen, total {} (sampled: no per-wait p50, p99, max)\n", e.count,
                 format_duration(e.total_ns));
    else
      fmt::print(out, "     {} waits{}, total {}, mean {}, p50 {}, p99 {}, max {} (goroutine {})\n", e.count,
                 e.open ? fmt::format(" ({} not over inside the trace)", e.open) : std::string(),
                 format_duration(e.total_ns), format_duration(e.mean()), format_duration(e.p50()),
                 format_duration(e.p99()), format_duration(e.max_ns), e.max_goid);
    print_stack(st, e.stack_id, out, o.max_frames, "       ");
    if (!e.wakers.empty()) {
      // Stacks that read the same to a person (same function and line) are one row.
      std::vector<std::pair<std::string, uint64_t>> rows;
      for (const auto& ws : e.wakers) {
        std::string label = waker_label(st, ws);
        auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.first == label; });
        if (it == rows.end())
          rows.emplace_back(std::move(label), ws.count);
        else
          it->second += ws.count;
      }
      std::stable_sort(rows.begin(), rows.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      fmt::print(out, "     woken by:\n");
      for (size_t w = 0; w < std::min(o.wakers_per_entry, rows.size()); ++w)
        fmt::print(out, "       {:>5.1f}%  {}\n", 100.0 * rows[w].second / std::max<uint64_t>(e.count, 1),
                   rows[w].first);
      if (rows.size() > o.wakers_per_entry)
        fmt::print(out, "       … {} more wakers\n", rows.size() - o.wakers_per_entry);
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
      fmt::print(out, "  {:>9}  goroutine {:<8} {:<16} {}  (woken by {}){}\n", format_duration(w.duration_ns),
                 w.goid, w.reason_name, s.user ? s.user->function : std::string("?"), waker,
                 runtime_tag(w.runtime));
    }
  }
}

void write_block_json(BlockReport& r, std::ostream& out, const BlockWriterOptions& o) {
  classify_runtime_waits(r);
  StackTable& st = *r.stacks;
  const TraceSummary& s = r.summary;
  JsonWriter j(out);
  j.begin_object();
  write_summary_json_fields(j, s);
  j.field("min_ns", r.min_ns);
  // What the text's "Top N of M sites (T in all)" says: over every site,
  // not only the --top entries listed.
  uint64_t grand = 0;
  for (const auto& e : r.entries) grand += e.total_ns;
  j.field("total_ns", grand);
  j.field("sites", r.entries.size());
  j.field("sampled", r.sampled.has_value());
  if (r.sampled) {
    j.field("sample_hz", r.sampled->hz);
    j.field("sample_hz_reached", sample_hz_reached(r));
    j.field("scans", r.sampled->scans);
    j.field("scan_mean_ms", r.sampled->scan_mean_ms);
    j.field("scan_max_ms", r.sampled->scan_max_ms);
    j.field("scan_cpu_ms", r.sampled->scan_cpu_ms);
    j.key("scan_cpu_cap_pct");
    if (r.sampled->cpu_cap_share > 0)
      j.value(100 * r.sampled->cpu_cap_share);
    else
      j.null();
    j.field("slowed_by_cap", r.sampled->slowed_by_cap);
  }
  j.key("entries");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.top, r.entries.size()); ++i) {
    const BlockEntry& e = r.entries[i];
    j.begin_object();
    j.field("reason", e.reason_name);
    j.field("count", e.count);
    j.field("total_ns", e.total_ns);
    if (r.sampled) {  // not measured: null, never a made-up number
      for (const char* k : {"mean_ns", "max_ns", "max_goid", "p50_ns", "p99_ns"}) {
        j.key(k);
        j.null();
      }
    } else {
      j.field("mean_ns", e.mean());
      j.field("max_ns", e.max_ns);
      j.field("max_goid", e.max_goid);
      j.field("open", e.open);
      j.field("p50_ns", e.p50());
      j.field("p99_ns", e.p99());
    }
    write_runtime_json(j, e.runtime);
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
    write_runtime_json(j, w.runtime);
    j.key("stack");
    write_stack_json(j, st, w.stack_id);
    j.end();
  }
  j.end();
  j.end();
}

ProfileData block_profile(BlockReport& r, const std::string& binary) {
  classify_runtime_waits(r);  // the same entries as the text and JSON
  ProfileData p =
      new_profile(r.summary, binary, {{"contentions", "count"}, {"delay", "nanoseconds"}},
                  fmt::format("gotrace block{}, PID {} ({}), {}",
                              r.sampled ? fmt::format(" (sampled at {:g} Hz: delay is estimated "
                                                      "goroutine-time, contentions a lower bound)",
                                                      r.sampled->hz)
                                        : std::string(),
                              r.summary.pid, r.summary.comm, r.summary.go_version));
  for (const auto& e : r.entries) {
    ProfileSample s;
    s.stack_id = e.stack_id;
    s.values = {static_cast<int64_t>(e.count), static_cast<int64_t>(e.total_ns)};
    s.labels = {{"reason", e.reason_name}};
    s.leaf_note = "[" + e.reason_name + "]";
    p.samples.push_back(std::move(s));
  }
  return p;
}

}  // namespace gotrace
