#include "commands/alloc/alloc_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"
#include "gotrace/util/printable_stream.h"

namespace gotrace {

std::string format_bytes(double b) {
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{:.0f} B", b);
}

namespace {

double per_second(double v, double s) { return s > 0 ? v / s : 0; }

std::string type_label(const std::string& type, bool mixed, uint64_t slot) {
  if (mixed) return "several types";
  if (!type.empty()) return type;
  return slot ? fmt::format("no type recorded ({}-byte slots)", slot) : std::string("no type recorded");
}

std::string header_detail(const AllocReport& r) {
  switch (r.sampler) {
    case AllocSampler::Profilealloc:
      return fmt::format(
          "the runtime's own sampled allocations (runtime.profilealloc, MemProfileRate={}), "
          "unsampled like pprof{}",
          r.rate, r.rate == 1 ? " (every allocation sampled: exact)" : "");
    case AllocSampler::Refill:
      return "span refills ((*mcache).refill): one sample per span of a size class handed out, weighted by "
             "the "
             "span's bytes (granularity: one span, 8 KiB and up; the stack and type are the allocation's "
             "that "
             "needed the span), because the target runs with MemProfileRate=0";
    case AllocSampler::Exact:
      return "every allocation (runtime.mallocgc, --exact): exact but costly, one probe hit per allocation";
  }
  return "";
}

}  // namespace

std::string map_write_cost(const TraceCost& c) {
  std::string what = "every map write pays a probe trap";
  if (!c.known || !c.probe_hits || c.trap_ns_per_hit <= 0) return what + " (its cost was not measured here)";
  const double per_hit =
      c.trap_ns_per_hit + static_cast<double>(c.bpf_ns) / static_cast<double>(c.probe_hits);
  // bpf_ns is the sum over all programs: the BPF share is their average per
  // hit (with --map-writes on a busy map writer, nearly all hits are writes).
  return fmt::format(
      "{}: ~{} per write here ({} trap, measured at start, + BPF, averaged over all probe hits)", what,
      format_duration(static_cast<uint64_t>(per_hit)),
      format_duration(static_cast<uint64_t>(c.trap_ns_per_hit)));
}

void write_alloc_text(AllocReport& r, std::ostream& raw_out, const AllocWriterOptions& o) {
  PrintableOStream out(raw_out);  // nothing from the target reaches the terminal raw
  StackTable& st = *r.stacks;
  write_summary_text(r.summary, out);
  const double s = r.summary.duration_s;
  fmt::print(out, "Sampler: {}\n", r.sampler_detail.empty() ? header_detail(r) : r.sampler_detail);
  fmt::print(out, "Allocated: {}/s, {:.0f} objects/s (estimated from {} samples; {} in {:.1f}s)\n",
             format_bytes(per_second(r.total_bytes, s)), per_second(r.total_objects, s), r.total_samples,
             format_bytes(r.total_bytes), s);
  if (r.target_alloc_start && r.target_alloc_end && *r.target_alloc_end >= *r.target_alloc_start)
    fmt::print(out,
               "The target's own counter (gcController.totalAlloc, whole size-class slots) says {} in the "
               "same time{}\n",
               format_bytes(static_cast<double>(*r.target_alloc_end - *r.target_alloc_start)),
               r.sampler == AllocSampler::Exact ? "; --exact counts the sizes asked for" : "");

  const size_t n = std::min(o.top, r.entries.size());
  fmt::print(out, "\nTop {} of {} allocation {} by bytes\n", n, r.entries.size(),
             r.by == AllocGroupBy::Stack ? "sites" : std::string(group_by_name(r.by)) + "s");
  for (size_t i = 0; i < n; ++i) {
    const AllocEntry& e = r.entries[i];
    const double share = r.total_bytes > 0 ? 100.0 * e.bytes / r.total_bytes : 0;
    std::string what = e.key.empty() ? stack_label(st, e.stack_id) : e.key;
    fmt::print(out, "{:>3}. {:>5.1f}%  {}/s  {:.0f} objects/s  {}  ({} samples)\n", i + 1, share,
               format_bytes(per_second(e.bytes, s)), per_second(e.objects, s),
               r.by == AllocGroupBy::Type ? std::string() : type_label(e.type, e.mixed_types, e.slot_size),
               e.samples);
    fmt::print(out, "     {}\n", what);
    if (r.by == AllocGroupBy::Stack) print_stack(st, e.stack_id, out, o.max_frames, "       ");
  }

  fmt::print(out, "\nLarge objects (own spans), every one: {} objects, {}\n", r.large_count,
             format_bytes(static_cast<double>(r.large_bytes)));
  for (size_t i = 0; i < std::min(o.large_top, r.large.size()); ++i) {
    const LargeEntry& e = r.large[i];
    // "N objects, B in all": not "N × B", which reads as a product.
    fmt::print(out, "  {:>6} object{}, {:>10} in all  {:<28} largest {} (goroutine {})  {}\n", e.count,
               e.count == 1 ? "" : "s", format_bytes(static_cast<double>(e.bytes)),
               e.type.empty() ? "(no type)" : e.type, format_bytes(static_cast<double>(e.max_bytes)),
               e.max_goid, stack_label(st, e.stack_id));
  }
  if (r.large.size() > o.large_top) fmt::print(out, "  … {} more sites\n", r.large.size() - o.large_top);

  if (r.maps_traced) {
    fmt::print(out, "\nMap growth\n");
    if (r.maps.empty()) fmt::print(out, "  none\n");
    for (size_t i = 0; i < std::min(o.maps_top, r.maps.size()); ++i) {
      const MapGrowthEntry& m = r.maps[i];
      fmt::print(out, "  {:>6} growths  up to {} entries  {}  {}\n", m.growths, m.max_len,
                 m.map_type.empty() ? "(map type unknown)" : m.map_type, stack_label(st, m.stack_id));
    }
  }

  if (r.map_writes_traced) {
    const size_t n = std::min(o.top, r.map_writes.size());
    fmt::print(out, "\nMap writes (--map-writes, every one): {} in {:.1f}s, {:.0f}/s; top {} of {} {}\n",
               r.total_map_writes, s, per_second(static_cast<double>(r.total_map_writes), s), n,
               r.map_writes.size(),
               r.by == AllocGroupBy::Stack || r.by == AllocGroupBy::Type
                   ? std::string(r.by == AllocGroupBy::Stack ? "sites" : "map types")
                   : std::string(group_by_name(r.by)) + "s");
    fmt::print(out, "  {}\n", map_write_cost(r.summary.cost));
    for (size_t i = 0; i < n; ++i) {
      const MapWriteEntry& m = r.map_writes[i];
      const double share =
          r.total_map_writes ? 100.0 * static_cast<double>(m.writes) / static_cast<double>(r.total_map_writes)
                             : 0;
      fmt::print(out, "{:>3}. {:>5.1f}%  {} writes  {:.0f}/s  {}  (up to {} entries)\n", i + 1, share,
                 m.writes, per_second(static_cast<double>(m.writes), s),
                 m.map_type.empty() ? "(map type unknown)" : m.map_type, m.max_len);
      fmt::print(out, "     {}\n", m.key.empty() ? stack_label(st, m.stack_id) : m.key);
      if (r.by == AllocGroupBy::Stack) print_stack(st, m.stack_id, out, o.max_frames, "       ");
    }
  }

  // A summary, then the cycles that paused longest (in cycle order): a
  // busy server runs hundreds of cycles in a trace.
  auto paused = [](const GcCycle& c) {
    uint64_t t = 0;
    for (const auto& p : c.pauses) t += p.ns;
    return t;
  };
  fmt::print(out, "\nGC cycles during the trace: {}", r.gc.size());
  if (!r.gc.empty()) {
    uint64_t all = 0;
    size_t longest = 0;
    std::map<std::string, size_t> triggers;
    for (size_t i = 0; i < r.gc.size(); ++i) {
      all += paused(r.gc[i]);
      if (paused(r.gc[i]) > paused(r.gc[longest])) longest = i;
      ++triggers[r.gc[i].trigger];
    }
    if (r.gc.front().number && r.gc.back().number)
      fmt::print(out, " (gc {} to {})", r.gc.front().number, r.gc.back().number);
    std::string by;
    for (const auto& [t, n] : triggers) by += fmt::format("{}{} {}", by.empty() ? "" : ", ", t, n);
    fmt::print(out, "; triggers: {}; stopped the world {} in all, longest {}{}", by, format_duration(all),
               format_duration(paused(r.gc[longest])),
               r.gc[longest].number ? fmt::format(" (gc {})", r.gc[longest].number) : "");
  }
  fmt::print(out, "\n");
  std::vector<size_t> listed(r.gc.size());
  for (size_t i = 0; i < listed.size(); ++i) listed[i] = i;
  if (!o.gc_all && listed.size() > o.gc_top) {
    std::stable_sort(listed.begin(), listed.end(),
                     [&](size_t a, size_t b) { return paused(r.gc[a]) > paused(r.gc[b]); });
    listed.resize(o.gc_top);
    std::sort(listed.begin(), listed.end());
  }
  for (size_t i : listed) {
    const GcCycle& c = r.gc[i];
    const uint64_t total = paused(c);
    fmt::print(out, "  {}trigger {:<7} pauses {}", c.number ? fmt::format("gc {:<5} ", c.number) : "",
               c.trigger, format_duration(total));
    for (const auto& p : c.pauses) fmt::print(out, " [{} {}]", p.reason, format_duration(p.ns));
    if (c.heap_live)
      fmt::print(out, "  heap live {} marked {} goal {}", format_bytes(static_cast<double>(*c.heap_live)),
                 format_bytes(static_cast<double>(c.heap_marked.value_or(0))),
                 format_bytes(static_cast<double>(c.heap_goal.value_or(0))));
    fmt::print(out, "\n");
    for (const auto& d : c.drivers)
      fmt::print(out, "      drove it: {} {} {}\n", format_bytes(d.bytes),
                 d.type.empty() ? "(no type)" : d.type, stack_label(st, d.stack_id));
  }
  if (listed.size() < r.gc.size())
    fmt::print(out, "  … {} more cycles, with shorter pauses (--gc-cycles shows all)\n",
               r.gc.size() - listed.size());
  if (r.unpaired_pauses)
    fmt::print(out, "  ({} stop/start-the-world halves without their partner, at the trace's edges)\n",
               r.unpaired_pauses);
}

void write_alloc_json(AllocReport& r, std::ostream& out, const AllocWriterOptions& o) {
  StackTable& st = *r.stacks;
  JsonWriter j(out);
  j.begin_object();
  write_summary_json_fields(j, r.summary);
  j.field("sampler", sampler_name(r.sampler));
  j.field("rate", r.rate);
  j.field("sampler_detail", r.sampler_detail.empty() ? header_detail(r) : r.sampler_detail);
  j.field("by", group_by_name(r.by));
  j.field("total_bytes", r.total_bytes);
  j.field("total_objects", r.total_objects);
  j.field("samples", r.total_samples);
  j.key("target_alloc_bytes");
  if (r.target_alloc_start && r.target_alloc_end && *r.target_alloc_end >= *r.target_alloc_start)
    j.value(*r.target_alloc_end - *r.target_alloc_start);
  else
    j.null();
  j.key("entries");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.top, r.entries.size()); ++i) {
    const AllocEntry& e = r.entries[i];
    j.begin_object();
    if (!e.key.empty()) j.field("key", e.key);
    j.field("type", e.type);
    j.field("mixed_types", e.mixed_types);
    j.field("slot_size", e.slot_size);
    j.field("bytes", e.bytes);
    j.field("objects", e.objects);
    j.field("samples", e.samples);
    j.key("stack");
    write_stack_json(j, st, e.stack_id);
    j.end();
  }
  j.end();
  j.field("large_count", r.large_count);
  j.field("large_bytes", r.large_bytes);
  j.key("large");
  j.begin_array();
  for (const LargeEntry& e : r.large) {
    j.begin_object();
    j.field("type", e.type);
    j.field("noscan", e.noscan);
    j.field("count", e.count);
    j.field("bytes", e.bytes);
    j.field("max_bytes", e.max_bytes);
    j.field("max_goid", e.max_goid);
    j.key("stack");
    write_stack_json(j, st, e.stack_id);
    j.end();
  }
  j.end();
  j.field("maps_traced", r.maps_traced);
  j.key("maps");
  j.begin_array();
  for (const MapGrowthEntry& m : r.maps) {
    j.begin_object();
    j.field("map_type", m.map_type);
    j.field("growths", m.growths);
    j.field("max_len", m.max_len);
    j.key("stack");
    write_stack_json(j, st, m.stack_id);
    j.end();
  }
  j.end();
  j.field("map_writes_traced", r.map_writes_traced);
  j.field("total_map_writes", r.total_map_writes);
  j.field("map_write_rows", static_cast<uint64_t>(r.map_writes.size()));  // before --top
  j.key("map_writes");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.top, r.map_writes.size()); ++i) {
    const MapWriteEntry& m = r.map_writes[i];
    j.begin_object();
    if (!m.key.empty()) j.field("key", m.key);
    j.field("map_type", m.map_type);
    j.field("writes", m.writes);
    j.field("max_len", m.max_len);
    j.key("stack");
    write_stack_json(j, st, m.stack_id);
    j.end();
  }
  j.end();
  j.key("gc");
  j.begin_array();
  for (const GcCycle& c : r.gc) {
    j.begin_object();
    j.key("cycle");  // the runtime's number, as gctrace's "gc N"
    if (c.number)
      j.value(c.number);
    else
      j.null();
    j.field("trigger", c.trigger);
    auto opt = [&](const char* k, const std::optional<uint64_t>& v) {
      j.key(k);
      if (v)
        j.value(*v);
      else
        j.null();
    };
    opt("heap_live", c.heap_live);
    opt("heap_marked", c.heap_marked);
    opt("heap_goal", c.heap_goal);
    j.key("pauses_ns");
    j.begin_array();
    for (const auto& p : c.pauses) j.value(p.ns);
    j.end();
    j.key("pause_reasons");
    j.begin_array();
    for (const auto& p : c.pauses) j.value(p.reason);
    j.end();
    j.key("drivers");
    j.begin_array();
    for (const auto& d : c.drivers) {
      j.begin_object();
      j.field("type", d.type);
      j.field("bytes", d.bytes);
      j.key("stack");
      write_stack_json(j, st, d.stack_id);
      j.end();
    }
    j.end();
    j.end();
  }
  j.end();
  j.field("unpaired_pauses", r.unpaired_pauses);
  j.end();
}

ProfileData alloc_profile(AllocReport& r, const std::string& binary) {
  ProfileData p =
      new_profile(r.summary, binary, {{"alloc_objects", "count"}, {"alloc_space", "bytes"}},
                  fmt::format("gotrace alloc, PID {} ({}), {}; sampler {} (rate {})", r.summary.pid,
                              r.summary.comm, r.summary.go_version, sampler_name(r.sampler), r.rate));
  for (const auto& e : r.entries) {
    ProfileSample s;
    s.stack_id = e.stack_id;
    s.values = {std::llround(e.objects), std::llround(e.bytes)};
    std::string type = e.mixed_types ? "several types" : e.type.empty() ? "no type" : e.type;
    s.labels = {{"type", type}};
    s.leaf_note = "[" + type + "]";
    s.hide_runtime_leaf = true;  // as Go's heap profile: the allocating code is the leaf
    p.samples.push_back(std::move(s));
  }
  return p;
}

}  // namespace gotrace
