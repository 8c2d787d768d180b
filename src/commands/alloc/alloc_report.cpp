#include "commands/alloc/alloc_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace gotrace {

std::string_view sampler_name(AllocSampler s) {
  switch (s) {
    case AllocSampler::Profilealloc:
      return "profilealloc";
    case AllocSampler::Refill:
      return "refill";
    case AllocSampler::Exact:
      return "exact";
  }
  return "?";
}

std::string_view group_by_name(AllocGroupBy b) {
  switch (b) {
    case AllocGroupBy::Stack:
      return "stack";
    case AllocGroupBy::Function:
      return "function";
    case AllocGroupBy::Package:
      return "package";
    case AllocGroupBy::Type:
      return "type";
  }
  return "?";
}

std::optional<AllocGroupBy> parse_group_by(std::string_view name) {
  for (auto b : {AllocGroupBy::Stack, AllocGroupBy::Function, AllocGroupBy::Package, AllocGroupBy::Type})
    if (group_by_name(b) == name) return b;
  return std::nullopt;
}

std::string_view gc_trigger_name(uint32_t kind) {
  switch (kind) {
    case 0:
      return "heap";
    case 1:
      return "time";
    case 2:
      return "forced";
  }
  return "unknown";
}

std::pair<double, double> unsample_profile(uint64_t count, uint64_t bytes, int64_t rate) {
  if (count == 0 || bytes == 0) return {0, 0};
  if (rate <= 1) return {static_cast<double>(bytes), static_cast<double>(count)};
  const double avg = static_cast<double>(bytes) / static_cast<double>(count);
  const double scale = 1.0 / (1.0 - std::exp(-avg / static_cast<double>(rate)));
  return {static_cast<double>(bytes) * scale, static_cast<double>(count) * scale};
}

std::pair<double, double> unsample(const RawAllocAgg& a, const AllocBuildOptions& o) {
  switch (o.sampler) {
    case AllocSampler::Profilealloc:
      return unsample_profile(a.count, a.bytes, o.rate);
    case AllocSampler::Refill: {
      // One hit per span: the span's slots were (or will be) handed out.
      const uint32_t spc = static_cast<uint32_t>(a.size);
      const uint64_t slot = o.class_slot_size ? o.class_slot_size(spc) : 0;
      const uint64_t objs = o.class_span_objects ? o.class_span_objects(spc) : 0;
      return {static_cast<double>(a.count * objs * slot), static_cast<double>(a.count * objs)};
    }
    case AllocSampler::Exact:
      return {static_cast<double>(a.bytes), static_cast<double>(a.count)};
  }
  return {0, 0};
}

std::string function_package(std::string_view fn) {
  // The package path ends at the first '.' after the last '/' (a '.' before
  // that belongs to a domain: "gotrace.test/…", "github.com/…").
  size_t slash = fn.rfind('/', fn.find_first_of("([") == std::string_view::npos ? std::string_view::npos
                                                                                : fn.find_first_of("(["));
  size_t from = slash == std::string_view::npos ? 0 : slash + 1;
  size_t dot = fn.find('.', from);
  return std::string(dot == std::string_view::npos ? fn : fn.substr(0, dot));
}

bool makes_slice(const std::vector<Frame>& frames) {
  for (const Frame& f : frames) {
    if (!f.function.starts_with("runtime.")) return false;
    if (f.function == "runtime.makeslice" || f.function == "runtime.makeslice64" ||
        f.function == "runtime.makeslicecopy" || f.function == "runtime.growslice")
      return true;
  }
  return false;
}

namespace {

std::string type_of(const AllocBuildOptions& o, uint64_t t) { return t && o.type_name ? o.type_name(t) : ""; }

// An allocation's type: the element type named as a slice where the stack
// made a slice (a 96 KiB []byte is not a uint8).
std::string type_of(const AllocBuildOptions& o, uint64_t t, uint64_t stack_id) {
  std::string name = type_of(o, t);
  if (!name.empty() && o.slice_alloc && o.slice_alloc(stack_id)) name = "[]" + name;
  return name;
}

uint64_t slot_of(const RawAllocAgg& a, const AllocBuildOptions& o) {
  switch (o.sampler) {
    case AllocSampler::Profilealloc:
      return a.size;
    case AllocSampler::Refill:
      return o.class_slot_size ? o.class_slot_size(static_cast<uint32_t>(a.size)) : 0;
    case AllocSampler::Exact:
      return 0;
  }
  return 0;
}

std::string group_key(const AllocEntry& e, AllocGroupBy by, StackTable& stacks) {
  if (by == AllocGroupBy::Type) return e.type.empty() ? "(no type)" : e.type;
  const Frame* f = stacks.user_frame(e.stack_id);
  std::string fn = f ? f->function : "?";
  return by == AllocGroupBy::Function ? fn : function_package(fn);
}

std::vector<AllocEntry> entries_of(const std::vector<RawAllocAgg>& aggs, const AllocBuildOptions& o) {
  std::vector<AllocEntry> out;
  out.reserve(aggs.size());
  for (const auto& a : aggs) {
    if (!a.count) continue;
    auto [bytes, objects] = unsample(a, o);
    AllocEntry e;
    e.stack_id = a.stack_id;
    e.type = type_of(o, a.type, a.stack_id);
    e.slot_size = slot_of(a, o);
    e.bytes = bytes;
    e.objects = objects;
    e.samples = a.count;
    out.push_back(std::move(e));
  }
  return out;
}

bool by_bytes(const AllocEntry& a, const AllocEntry& b) {
  return std::tie(b.bytes, b.samples, a.stack_id, a.type) < std::tie(a.bytes, a.samples, b.stack_id, b.type);
}

}  // namespace

void build_alloc_report(AllocReport& report, const AllocBuildInput& input, const AllocBuildOptions& o) {
  StackTable& stacks = *report.stacks;
  report.sampler = o.sampler;
  report.rate = o.rate;
  report.by = o.by;

  // Hotspots. The refill sampler never sees large objects (they get their
  // own span, not an mcache's): they join the hotspots exactly, as counted.
  std::vector<AllocEntry> rows = entries_of(input.aggs, o);
  if (o.sampler == AllocSampler::Refill)
    for (const auto& l : input.large) {
      if (!l.count) continue;
      AllocEntry e;
      e.stack_id = l.stack_id;
      e.type = type_of(o, l.type, l.stack_id);
      e.bytes = static_cast<double>(l.bytes);
      e.objects = static_cast<double>(l.count);
      e.samples = l.count;
      rows.push_back(std::move(e));
    }
  report.total_bytes = report.total_objects = 0;
  report.total_samples = 0;
  for (const auto& e : rows) {
    report.total_bytes += e.bytes;
    report.total_objects += e.objects;
    report.total_samples += e.samples;
  }
  if (o.by == AllocGroupBy::Stack) {
    // Merge rows that differ only in what no output shows: a field the key
    // leaves out, or the runtime frames under the shown part of the stack
    // (the sampler's probe reached through different paths of mallocgc);
    // the row keeps the stack with the most bytes.
    std::map<std::tuple<std::string, std::string, uint64_t>, AllocEntry> merged;
    std::map<std::tuple<std::string, std::string, uint64_t>, double> best;
    for (auto& e : rows) {
      std::tuple<std::string, std::string, uint64_t> key{stacks.shown_key(e.stack_id), e.type, e.slot_size};
      auto [it, fresh] = merged.try_emplace(key, e);
      if (fresh) {
        best[key] = e.bytes;
      } else {
        it->second.bytes += e.bytes;
        it->second.objects += e.objects;
        it->second.samples += e.samples;
        if (e.bytes > best[key]) {
          best[key] = e.bytes;
          it->second.stack_id = e.stack_id;
        }
      }
    }
    report.entries.clear();
    for (auto& [k, e] : merged) report.entries.push_back(std::move(e));
  } else {
    std::map<std::string, AllocEntry> groups;
    std::map<std::string, double> best;  // bytes of the example stack
    for (auto& e : rows) {
      std::string key = group_key(e, o.by, stacks);
      auto [it, fresh] = groups.try_emplace(key, e);
      AllocEntry& g = it->second;
      if (fresh) {
        g.key = key;
        best[key] = e.bytes;
        continue;
      }
      if (g.type != e.type) g.mixed_types = true;
      if (g.slot_size != e.slot_size) g.slot_size = 0;
      g.bytes += e.bytes;
      g.objects += e.objects;
      g.samples += e.samples;
      if (e.bytes > best[key]) {
        best[key] = e.bytes;
        g.stack_id = e.stack_id;
      }
    }
    report.entries.clear();
    for (auto& [k, e] : groups) {
      if (e.mixed_types && o.by != AllocGroupBy::Type) e.type.clear();
      report.entries.push_back(std::move(e));
    }
  }
  std::sort(report.entries.begin(), report.entries.end(), by_bytes);

  // Large objects: exact.
  report.large.clear();
  report.large_count = report.large_bytes = 0;
  for (const auto& l : input.large) {
    if (!l.count) continue;
    LargeEntry e;
    e.stack_id = l.stack_id;
    e.type = type_of(o, l.type, l.stack_id);
    e.noscan = l.noscan;
    e.count = l.count;
    e.bytes = l.bytes;
    e.max_bytes = l.max_bytes;
    e.max_goid = l.max_goid;
    e.hist.add(l.hist);
    report.large_count += l.count;
    report.large_bytes += l.bytes;
    report.large.push_back(std::move(e));
  }
  std::sort(report.large.begin(), report.large.end(), [](const LargeEntry& a, const LargeEntry& b) {
    return std::tie(b.bytes, a.stack_id, a.type) < std::tie(a.bytes, b.stack_id, b.type);
  });

  // Maps: by (stack, map type), the kinds of growth together.
  std::map<std::pair<uint64_t, std::string>, MapGrowthEntry> maps;
  for (const auto& m : input.maps) {
    std::string name = type_of(o, m.map_type);
    MapGrowthEntry& e = maps[{m.stack_id, name}];
    e.stack_id = m.stack_id;
    e.map_type = name;
    e.growths += m.count;
    e.max_len = std::max(e.max_len, m.max_len);
  }
  report.maps.clear();
  for (auto& [k, e] : maps) report.maps.push_back(std::move(e));
  std::sort(report.maps.begin(), report.maps.end(), [](const MapGrowthEntry& a, const MapGrowthEntry& b) {
    return std::tie(b.growths, b.max_len, a.stack_id, a.map_type) <
           std::tie(a.growths, a.max_len, b.stack_id, b.map_type);
  });

  // Map writes: exact counts, grouped as asked, the map type always part of
  // the key (a row is about one kind of map).
  using WriteKey = std::tuple<std::string, uint64_t, std::string>;  // group, stack (by stack), map type
  std::map<WriteKey, MapWriteEntry> writes;
  std::map<WriteKey, std::map<uint64_t, uint64_t>> by_stack;  // writes per stack, for the example
  report.total_map_writes = 0;
  for (const auto& w : input.map_writes) {
    if (!w.count) continue;
    report.total_map_writes += w.count;
    std::string key;
    if (o.by == AllocGroupBy::Function || o.by == AllocGroupBy::Package) {
      const Frame* f = stacks.user_frame(w.stack_id);
      std::string fn = f ? f->function : "?";
      key = o.by == AllocGroupBy::Function ? fn : function_package(fn);
    }
    const WriteKey k{key, o.by == AllocGroupBy::Stack ? w.stack_id : 0, type_of(o, w.map_type)};
    MapWriteEntry& e = writes[k];
    e.key = key;
    e.map_type = std::get<2>(k);
    e.writes += w.count;
    e.max_len = std::max(e.max_len, w.max_len);
    by_stack[k][w.stack_id] += w.count;
  }
  for (auto& [k, e] : writes) {
    uint64_t most = 0;
    for (const auto& [sid, n] : by_stack[k])
      if (n > most) most = n, e.stack_id = sid;
  }
  report.map_writes.clear();
  for (auto& [k, e] : writes) report.map_writes.push_back(std::move(e));
  std::sort(report.map_writes.begin(), report.map_writes.end(),
            [](const MapWriteEntry& a, const MapWriteEntry& b) {
              return std::tie(b.writes, a.key, a.map_type, a.stack_id) <
                     std::tie(a.writes, b.key, b.map_type, b.stack_id);
            });

  // GC cycles: a cycle starts at startCycle; its trigger is the last gcStart
  // before it; a stop/start-the-world pair belongs to the cycle current when
  // the world restarted (the sweep-termination pause contains startCycle).
  report.gc.clear();
  report.unpaired_pauses = 0;
  std::vector<std::vector<const StwEvent*>> stw_of;  // per cycle
  std::vector<const StwEvent*> before_first;
  std::optional<uint32_t> trigger;
  const RawGcEvent* open_stop = nullptr;
  std::vector<const std::vector<RawAllocAgg>*> snapshots;
  for (const auto& ev : input.gc_events) {
    switch (ev.kind) {
      case GcEventKind::Start:
        trigger = ev.arg;
        break;
      case GcEventKind::Cycle: {
        GcCycle c;
        c.number = ev.arg2;
        c.t_ns = ev.t_ns;
        c.trigger = trigger ? std::string(gc_trigger_name(*trigger)) : "unknown";
        trigger.reset();
        report.gc.push_back(std::move(c));
        stw_of.emplace_back();
        snapshots.push_back(ev.aggs_at.empty() ? nullptr : &ev.aggs_at);
        // The stop that opened this cycle's first pause came before it.
        if (open_stop) {
          if (stw_of.size() >= 2) {
            auto& prev = stw_of[stw_of.size() - 2];
            if (!prev.empty() && prev.back() == open_stop) prev.pop_back();
          } else if (!before_first.empty() && before_first.back() == open_stop) {
            before_first.pop_back();
          }
          stw_of.back().push_back(open_stop);
        }
        break;
      }
      case GcEventKind::PauseEnd:
        (stw_of.empty() ? before_first : stw_of.back()).push_back(&ev);
        break;
      case GcEventKind::StwStop:
      case GcEventKind::StwStart:
        (stw_of.empty() ? before_first : stw_of.back()).push_back(&ev);
        open_stop = ev.kind == GcEventKind::StwStop ? &ev : nullptr;
        if (ev.kind == GcEventKind::StwStart && !report.gc.empty() && ev.heap_live) {
          report.gc.back().heap_live = ev.heap_live;
          report.gc.back().heap_marked = ev.heap_marked;
          report.gc.back().heap_goal = ev.heap_goal;
        }
        break;
    }
  }
  pair_stw_pauses(before_first, o.stw_reason_name,
                  report.unpaired_pauses);  // pauses before the first cycle: not a cycle's
  for (size_t i = 0; i < report.gc.size(); ++i)
    report.gc[i].pauses = pair_stw_pauses(stw_of[i], o.stw_reason_name, report.unpaired_pauses);

  // What drove each cycle: the sites that allocated most since the previous
  // cycle (cumulative snapshots, differenced).
  const std::vector<RawAllocAgg> empty;
  for (size_t i = 0; i < report.gc.size(); ++i) {
    if (!snapshots[i]) continue;
    const std::vector<RawAllocAgg>* prev = &empty;
    for (size_t j = i; j-- > 0;)
      if (snapshots[j]) {
        prev = snapshots[j];
        break;
      }
    std::map<std::tuple<uint64_t, uint64_t, uint64_t>, std::pair<uint64_t, uint64_t>> before;
    for (const auto& a : *prev) before[{a.stack_id, a.type, a.size}] = {a.count, a.bytes};
    std::map<std::pair<uint64_t, std::string>, double> sites;
    for (const auto& a : *snapshots[i]) {
      auto [c0, b0] = before.count({a.stack_id, a.type, a.size}) ? before[{a.stack_id, a.type, a.size}]
                                                                 : std::pair<uint64_t, uint64_t>{0, 0};
      if (a.count <= c0) continue;
      RawAllocAgg d = a;
      d.count = a.count - c0;
      d.bytes = a.bytes >= b0 ? a.bytes - b0 : 0;
      sites[{a.stack_id, type_of(o, a.type, a.stack_id)}] += unsample(d, o).first;
    }
    std::vector<GcDriver> drivers;
    for (auto& [k, b] : sites) drivers.push_back({k.first, k.second, b});
    std::sort(drivers.begin(), drivers.end(), [](const GcDriver& a, const GcDriver& b) {
      return std::tie(b.bytes, a.stack_id) < std::tie(a.bytes, b.stack_id);
    });
    if (drivers.size() > o.drivers) drivers.resize(o.drivers);
    report.gc[i].drivers = std::move(drivers);
  }
}

}  // namespace gotrace
