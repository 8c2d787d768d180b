#include "commands/goroutines/goroutine_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>

#include "gotrace/util/printable_stream.h"

namespace gotrace {

namespace {

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "worker.run (worker.go:88)" for the frame that names a stack.
std::string frame_label(StackTable& st, uint64_t id) {
  if (id == 0) return "";
  const Frame* f = st.user_frame(id);
  if (!f) return "";
  return fmt::format("{} ({}:{})", f->function, base_name(f->file), f->line);
}

std::string state_text(const GoroutineGroup& g) {
  if (!g.reason.empty()) return g.status == GStatus::Leaked ? "leaked in " + g.reason : g.reason;
  return std::string(gstatus_name(g.status));
}

}  // namespace

std::string format_wait(int64_t ns) {
  const int64_t minute = 60'000'000'000;
  if (ns >= 60 * minute) return fmt::format("{}h{}m", ns / (60 * minute), (ns % (60 * minute)) / minute);
  if (ns >= minute) return fmt::format("{}m", ns / minute);
  return format_duration(static_cast<uint64_t>(ns));
}

std::string format_count(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string group_headline(GoroutineReport& report, const GoroutineGroup& g) {
  std::string s = fmt::format("{} goroutine{} {} {}", format_count(g.count), g.count == 1 ? "" : "s",
                              g.reason.empty() ? "" : "in", state_text(g));
  if (g.reason.empty())
    s = fmt::format("{} goroutine{} {}", format_count(g.count), g.count == 1 ? "" : "s", state_text(g));
  // Lower bounds only (goroutine_report.h): "for ≥X" when every
  // member's is known, else how many are known to have waited that long.
  if (g.min_wait_ns && g.wait_known == g.count)
    s += fmt::format(" for ≥{}", format_wait(*g.min_wait_ns));
  else if (g.min_wait_ns)
    s += fmt::format(" ({} for ≥{})", format_count(g.wait_known), format_wait(*g.min_wait_ns));
  if (std::string at = frame_label(report.stacks, g.stack_id); !at.empty()) s += " at " + at;
  if (std::string by = frame_label(report.stacks, g.created_by_id); !by.empty()) s += ", created by " + by;
  if (g.system) s += " [runtime]";
  return s;
}

void write_goroutine_text(GoroutineReport& r, std::ostream& raw_out, const GoroutineWriterOptions& o) {
  PrintableOStream out(raw_out);  // nothing from the target reaches the terminal raw
  if (!o.header.empty()) fmt::print(out, "{}\n", o.header);
  const SnapshotStats& s = r.stats;
  fmt::print(out, "{} goroutines ({} started by the runtime), read in {} without stopping the process",
             format_count(r.total), format_count(r.system),
             format_duration(static_cast<uint64_t>(s.wall_seconds * 1e9)));
  if (r.filtered_out) fmt::print(out, "; {} left out by the filters", format_count(r.filtered_out));
  fmt::print(out, "\n");
  if (s.inconsistent || s.unreadable)
    fmt::print(out, "not shown: {} goroutines changed while being read, {} could not be read\n",
               s.inconsistent, s.unreadable);
  if (s.stacks_truncated || s.stacks_broken)
    fmt::print(out, "stacks: {} cut at {} frames, {} ended at a frame that could not be followed\n",
               s.stacks_truncated, GoroutineReader::kMaxDepth, s.stacks_broken);
  if (s.labels_undecoded)
    fmt::print(out, "labels: {} goroutines have labels that could not be decoded\n", s.labels_undecoded);
  if (r.running_without_stack)
    fmt::print(
        out, "note: {} running goroutines have no stack (it cannot be read without stopping their thread)\n",
        r.running_without_stack);
  fmt::print(out,
             "note: waits are lower bounds from the runtime's GC stamps (unknown until a later GC cycle "
             "is seen; --watch measures them)\n");

  if (o.all) {
    for (const auto& e : r.goroutines) {
      fmt::print(
          out, "\ngoroutine {} [{}{}{}{}]{}{}:\n", e.goid,
          e.reason.empty() ? gstatus_name(e.status) : e.reason, e.status == GStatus::Leaked ? ", leaked" : "",
          e.wait_ns && *e.wait_ns >= 60'000'000'000 ? fmt::format(", ≥{}", format_wait(*e.wait_ns)) : "",
          e.locked_to_thread ? ", locked to thread" : "", e.system ? " (runtime)" : "",
          e.has_labels ? fmt::format(" labels{{{}}}", label_set_text(e)) : "");
      if (e.stack_id) {
        print_stack(r.stacks, e.stack_id, out, o.max_frames, "  ");
      } else {
        fmt::print(out, "  ({})\n",
                   e.status == GStatus::Running ? "running: no stack without stopping its thread"
                                                : "no saved stack");
      }
      if (e.created_by_id) {
        const auto& fs = r.stacks.frames(e.created_by_id);
        if (!fs.empty())
          fmt::print(out, "  created by {}{}\n      {}:{}\n", fs.back().function,
                     e.parent_goid ? fmt::format(" in goroutine {}", e.parent_goid) : "", fs.front().file,
                     fs.front().line);
      }
    }
    return;
  }

  size_t shown = 0;
  for (const auto& g : r.groups) {
    if (o.top && shown == o.top) {
      fmt::print(out, "\n… {} more groups (--top 0 shows all)\n", r.groups.size() - shown);
      break;
    }
    ++shown;
    fmt::print(out, "\n{}\n", group_headline(r, g));
    std::string extra;
    if (g.locked) extra += fmt::format("  {} locked to their thread\n", g.locked);
    for (const auto& [set, n] : g.label_sets) extra += fmt::format("  labels {{{}}}: {}\n", set, n);
    if (!g.parents.empty())
      extra +=
          fmt::format("  parent goroutine{} {}{}\n", g.parents.size() == 1 ? "" : "s", *g.parents.begin(),
                      g.parents.size() > 1 ? fmt::format(" and {} more", g.parents.size() - 1) : "");
    if (g.max_wait_ns && g.count > 1) {
      std::string buckets;
      for (size_t i = 0; i < kWaitBuckets; ++i)
        if (g.wait_buckets[i])
          buckets +=
              fmt::format("{}{} {}", buckets.empty() ? "" : ", ", wait_bucket_name(i), g.wait_buckets[i]);
      extra += fmt::format("  waited at least: {}\n", buckets);
    }
    if (g.count <= 5) {
      std::string ids;
      for (uint64_t id : g.goids) ids += fmt::format("{}{}", ids.empty() ? "" : " ", id);
      extra += fmt::format("  goroutine{} {}\n", g.count == 1 ? "" : "s", ids);
    }
    fmt::print(out, "{}", extra);
    if (g.stack_id) {
      print_stack(r.stacks, g.stack_id, out, o.max_frames, "    ");
    } else if (g.status == GStatus::Running) {
      fmt::print(out, "    (running: no stack without stopping its thread)\n");
    }
  }
}

namespace {

void write_labels_json(JsonWriter& j, const GoroutineEntry& e) {
  j.key("labels");
  if (!e.has_labels) {
    j.null();
    return;
  }
  j.begin_object();
  for (const auto& [k, v] : e.labels) j.field(k, v);
  j.end();
}

}  // namespace

void write_goroutine_json(GoroutineReport& r, std::ostream& out, const GoroutineWriterOptions& o) {
  JsonWriter j(out);
  j.begin_object();
  j.field("total", r.total);
  j.field("shown", r.shown);
  j.field("system", r.system);
  j.field("filtered_out", r.filtered_out);
  j.key("snapshot");
  j.begin_object();
  const SnapshotStats& s = r.stats;
  j.field("wall_seconds", s.wall_seconds);
  j.field("allglen", s.allglen);
  j.field("dead", s.dead);
  j.field("inconsistent", s.inconsistent);
  j.field("unreadable", s.unreadable);
  j.field("allgs_retries", s.allgs_retries);
  j.field("stacks_walked", s.stacks_walked);
  j.field("stacks_cached", s.stacks_cached);
  j.field("stacks_truncated", s.stacks_truncated);
  j.field("stacks_broken", s.stacks_broken);
  j.field("labels_undecoded", s.labels_undecoded);
  j.field("syscalls", s.syscalls);
  j.field("bytes", s.bytes);
  j.field("wait_source", "gc-stamp-lower-bound");
  j.end();
  j.key("groups");
  j.begin_array();
  for (const auto& g : r.groups) {
    j.begin_object();
    j.field("count", g.count);
    j.field("state", gstatus_name(g.status));
    j.key("reason");
    if (g.reason.empty())
      j.null();
    else
      j.value(g.reason);
    j.key("wait_ns");
    if (g.min_wait_ns)
      j.value(*g.min_wait_ns);
    else
      j.null();
    j.key("max_wait_ns");
    if (g.max_wait_ns)
      j.value(*g.max_wait_ns);
    else
      j.null();
    j.field("wait_known", g.wait_known);
    j.key("wait_buckets");
    j.begin_object();
    for (size_t i = 0; i < kWaitBuckets; ++i) j.field(wait_bucket_name(i), g.wait_buckets[i]);
    j.end();
    j.key("stack");
    write_stack_json(j, r.stacks, g.stack_id);
    j.key("created_by");
    if (g.created_by_id) {
      j.begin_object();
      j.key("stack");
      write_stack_json(j, r.stacks, g.created_by_id);
      j.end();
    } else {
      j.null();
    }
    j.key("labels");
    j.begin_object();
    for (const auto& [set, n] : g.label_sets) j.field(set, n);
    j.end();
    j.field("locked_to_thread", g.locked);
    j.field("system", g.system);
    j.field("stack_truncated", g.stack_truncated);
    j.field("stack_broken", g.stack_broken);
    j.key("parents");
    j.begin_array();
    for (uint64_t p : g.parents) j.value(p);
    j.end();
    j.key("goids");
    j.begin_array();
    for (uint64_t id : g.goids) j.value(id);
    j.end();
    j.end();
  }
  j.end();
  if (o.all) {
    j.key("goroutines");
    j.begin_array();
    for (const auto& e : r.goroutines) {
      j.begin_object();
      j.field("goid", e.goid);
      j.field("state", gstatus_name(e.status));
      j.key("reason");
      if (e.reason.empty())
        j.null();
      else
        j.value(e.reason);
      j.key("wait_ns");
      if (e.wait_ns)
        j.value(*e.wait_ns);
      else
        j.null();
      j.key("stamp_age_ns");
      if (e.stamp_age_ns)
        j.value(*e.stamp_age_ns);
      else
        j.null();
      j.key("stack");
      write_stack_json(j, r.stacks, e.stack_id);
      j.key("created_by");
      if (e.created_by_id) {
        j.begin_object();
        j.key("stack");
        write_stack_json(j, r.stacks, e.created_by_id);
        j.end();
      } else {
        j.null();
      }
      j.key("parent_goid");
      if (e.parent_goid)
        j.value(e.parent_goid);
      else
        j.null();
      j.field("locked_to_thread", e.locked_to_thread);
      j.field("system", e.system);
      write_labels_json(j, e);
      j.end();
    }
    j.end();
  }
  j.end();
  out << "\n";
}

ProfileData goroutine_profile(const GoroutineReport& r, const std::string& binary,
                              const std::string& comment) {
  ProfileData p;
  p.sample_types = {{"goroutine", "count"}};
  p.time_ns = r.unix_ns;
  p.binary = binary;
  if (!comment.empty()) p.comments.push_back(comment);
  uint64_t without_stack = 0;
  for (const auto& g : r.groups) {
    if (!g.stack_id) {  // running: no stack to put them on
      without_stack += g.count;
      continue;
    }
    ProfileSample s;
    s.stack_id = g.stack_id;
    s.values = {static_cast<int64_t>(g.count)};
    std::string state = g.reason.empty() ? std::string(gstatus_name(g.status)) : g.reason;
    s.labels = {{"state", std::string(gstatus_name(g.status))}};
    if (!g.reason.empty()) s.labels.emplace_back("reason", g.reason);
    s.leaf_note = "[" + state + "]";
    p.samples.push_back(std::move(s));
  }
  if (without_stack)
    p.comments.push_back(
        fmt::format("{} goroutines without a stack (running) are not in this profile", without_stack));
  return p;
}

}  // namespace gotrace
