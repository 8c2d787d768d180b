#include "commands/goroutines/goroutine_watch_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>

#include "commands/goroutines/goroutine_writer.h"
#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"
#include "gotrace/util/printable_stream.h"
#include "gotrace/util/text.h"

namespace gotrace {

namespace {

size_t shown_sites(const WatchReport& r, const WatchWriterOptions& o) {
  return o.top ? std::min(o.top, r.sites.size()) : r.sites.size();
}

// Columns of at most width values: each the max of its span of snapshots.
std::vector<uint64_t> merge_columns(const std::vector<uint64_t>& live, size_t width) {
  if (width == 0 || live.size() <= width) return live;
  std::vector<uint64_t> out(width, 0);
  for (size_t i = 0; i < live.size(); ++i) {
    size_t col = i * width / live.size();
    out[col] = std::max(out[col], live[i]);
  }
  return out;
}

uint64_t sum(const std::vector<uint64_t>& v) { return std::accumulate(v.begin(), v.end(), uint64_t{0}); }

// Text for XML: control characters and invalid UTF-8 (which XML does not
// allow, and a terminal showing the file would obey) as \xNN first.
std::string xml_escaped(std::string_view raw) {
  std::string out;
  for (char c : printable(raw)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string per_min(double v) { return fmt::format("{:+.1f}/min", v); }

// s cut to at most max_chars characters (code points, never inside one),
// the cut marked with "…".
std::string clipped(const std::string& s, size_t max_chars) {
  size_t chars = 0, cut = 0;
  for (size_t i = 0; i < s.size(); ++chars) {
    if (chars + 1 == max_chars) cut = i;  // where "…" goes if it is needed
    size_t n = utf8_sequence_at(s, i);
    i += n ? n : 1;
  }
  if (chars <= max_chars) return s;
  return s.substr(0, cut) + "…";
}

// The SVG heat map's colours. A cell is coloured by how many goroutines the
// site has above its count at the first snapshot, on one scale for every
// row: a steady pool stays grey however large, a leak darkens as it grows.
constexpr const char* kNoneFill = "rgb(255,255,255)";
constexpr const char* kSteadyFill = "rgb(225,225,225)";  // present, not above the first count
std::string growth_fill(uint64_t growth, uint64_t max_growth) {
  if (max_growth == 0) return kSteadyFill;
  const double t = std::min(1.0, static_cast<double>(growth) / static_cast<double>(max_growth));
  // light pink (252,200,200) to dark red (165,15,21)
  auto mix = [t](double a, double b) { return static_cast<int>(std::lround(a + (b - a) * t)); };
  return fmt::format("rgb({},{},{})", mix(252, 165), mix(200, 15), mix(200, 21));
}

}  // namespace

std::string heat_row(const std::vector<uint64_t>& live, size_t width) {
  std::vector<uint64_t> cols = merge_columns(live, width);
  uint64_t peak = cols.empty() ? 0 : *std::max_element(cols.begin(), cols.end());
  std::string out;
  const size_t top = kHeatChars.size() - 1;
  for (uint64_t v : cols) {
    // 0 is blank; any goroutine at all is at least the first visible mark.
    size_t level = peak == 0 || v == 0
                       ? 0
                       : std::max<size_t>(1, static_cast<size_t>(std::llround(static_cast<double>(v) * top /
                                                                              static_cast<double>(peak))));
    out += kHeatChars[std::min(level, top)];
  }
  return out;
}

void write_watch_text(const WatchReport& r, StackTable& stacks, std::ostream& raw_out,
                      const WatchWriterOptions& o) {
  PrintableOStream out(raw_out);  // nothing from the target reaches the terminal raw
  if (!o.header.empty()) fmt::print(out, "{}\n", o.header);
  const int64_t span = r.t_ns.empty() ? 0 : r.t_ns.back();
  fmt::print(out, "watched {}: {} snapshot{} every {}{}\n", format_duration(static_cast<uint64_t>(span)),
             r.snapshots, r.snapshots == 1 ? "" : "s", format_duration(static_cast<uint64_t>(o.interval_ns)),
             o.ended_by.empty() ? "" : fmt::format(", ended by {}", o.ended_by));
  if (o.left_out)
    fmt::print(out, "not counted: {} goroutine observations changed while being read or could not be read\n",
               o.left_out);
  if (r.exact)
    fmt::print(out,
               "created/exited: every goroutine, counted by probes at goroutine creation and exit (--leaks); "
               "\"kept\": created during the watch and still alive\n");
  else
    fmt::print(out,
               "note: created/exited count goroutines that appeared or disappeared between two snapshots; "
               "those born and gone in between are not seen (--leaks counts them all)\n");
  for (const auto& n : o.notes) fmt::print(out, "note: {}\n", n);
  if (r.sites.empty()) {
    fmt::print(out, "\nno goroutines seen\n");
  } else {
    const size_t n = shown_sites(r, o);
    const size_t cols = std::min(o.width, r.t_ns.size());
    fmt::print(
        out, "\nlive goroutines per creation site over time (each row scaled to its peak: \"{}\" low to high",
        kHeatChars.substr(1));
    if (r.t_ns.size() > o.width)
      fmt::print(out, "; a column is the max of ~{} snapshots", (r.t_ns.size() + o.width - 1) / o.width);
    fmt::print(out, ")\n");
    fmt::print(out, "|{:<{}}| {:>7} {:>15} {:>13} {:>8} {:>8}{}  {}\n", "", cols, "peak", "first→last",
               "trend", "created", "exited", r.exact ? fmt::format(" {:>8}", "kept") : "", "site");
    for (size_t i = 0; i < n; ++i) {
      const SiteSeries& s = r.sites[i];
      fmt::print(out, "|{}| {:>7} {:>15} {:>13} {:>8} {:>8}{}  {}\n", heat_row(s.live, o.width), s.peak,
                 fmt::format("{}→{}", s.live.front(), s.live.back()), per_min(s.growth_per_min),
                 sum(s.created), sum(s.exited), r.exact ? fmt::format(" {:>8}", s.created_live) : "", s.site);
    }
    if (n < r.sites.size()) fmt::print(out, "… {} more sites (--top 0 shows all)\n", r.sites.size() - n);
  }

  if (r.suspects.empty()) {
    fmt::print(out, "\nno leak suspects: no site grew steadily while its goroutines stayed parked\n");
    return;
  }
  fmt::print(out, "\nleak suspects (most likely first):\n");
  size_t rank = 0;
  for (const LeakSuspect& l : r.suspects) {
    fmt::print(
        out,
        "{}. {}: growing {} (R² {:.2f}), {} live, {} parked where they were since an earlier snapshot; "
        "the oldest (goroutine {}) has waited ≥{} in {}\n",
        ++rank, l.site, per_min(l.growth_per_min), l.r2, l.live, l.stuck, l.oldest_goid,
        format_duration(static_cast<uint64_t>(l.oldest_wait_ns)), l.reason.empty() ? "?" : l.reason);
    if (r.exact)
      fmt::print(out, "   created {} during the watch, {} of them exited: {:.1f} kept per minute\n",
                 l.created, l.exited, l.kept_per_min);
    if (l.stack_id) print_stack(stacks, l.stack_id, out, o.max_frames, "    ");
  }
}

void write_watch_json(const WatchReport& r, StackTable& stacks, std::ostream& out,
                      const WatchWriterOptions& o) {
  JsonWriter j(out);
  j.begin_object();
  j.field("snapshots", r.snapshots);
  j.field("interval_ns", o.interval_ns);
  j.field("duration_ns", r.t_ns.empty() ? int64_t{0} : r.t_ns.back());
  j.field("ended_by", o.ended_by);
  j.field("left_out", o.left_out);
  j.field("exact", r.exact);  // created/exited from the --leaks probes
  if (r.exact) {
    j.key("probe_counters");
    j.begin_object();
    for (const auto& [name, v] : o.probe_counters) j.field(name, v);
    j.end();
  }
  j.key("notes");
  j.begin_array();
  for (const auto& n : o.notes) j.value(n);
  j.end();
  j.key("sites");
  j.begin_array();
  for (const SiteSeries& s : r.sites) {
    j.begin_object();
    j.field("site", s.site);
    j.field("peak", s.peak);
    j.field("first", s.live.front());
    j.field("last", s.live.back());
    j.field("growth_per_min", s.growth_per_min);
    j.field("r2", s.r2);
    j.field("created", sum(s.created));
    j.field("exited", sum(s.exited));
    if (r.exact) j.field("created_live", s.created_live);
    j.key("created_by");
    if (s.creation_stack_id) {
      j.begin_object();
      j.key("stack");
      write_stack_json(j, stacks, s.creation_stack_id);
      j.end();
    } else {
      j.null();
    }
    j.end();
  }
  j.end();
  // t: seconds since the first snapshot.
  j.key("series");
  j.begin_array();
  for (const SiteSeries& s : r.sites)
    for (size_t i = 0; i < s.live.size(); ++i) {
      j.begin_object();
      j.field("site", s.site);
      j.field("t", static_cast<double>(r.t_ns[i]) / 1e9);
      j.field("live", s.live[i]);
      j.field("created", s.created[i]);
      j.field("exited", s.exited[i]);
      j.end();
    }
  j.end();
  j.key("suspects");
  j.begin_array();
  for (const LeakSuspect& l : r.suspects) {
    j.begin_object();
    j.field("site", l.site);
    j.key("stack");
    write_stack_json(j, stacks, l.stack_id);
    j.field("growth_per_min", l.growth_per_min);
    j.field("r2", l.r2);
    j.field("net_growth", l.net_growth);
    j.field("live", l.live);
    j.field("stuck", l.stuck);
    j.field("oldest_wait_ns", l.oldest_wait_ns);
    j.field("oldest_goid", l.oldest_goid);
    j.field("reason", l.reason);
    if (r.exact) {
      j.field("created", l.created);
      j.field("exited", l.exited);
      j.field("kept_per_min", l.kept_per_min);
    }
    j.end();
  }
  j.end();
  j.end();
  out << "\n";
}

Result<void> write_watch_svg(const WatchReport& r, std::ostream& out, const WatchWriterOptions& o,
                             const std::string& path) {
  const size_t rows = shown_sites(r, o);
  const size_t cols = std::max<size_t>(1, std::min<size_t>(r.t_ns.size(), 400));
  const double label_w = 420, cell_w = std::max(2.0, 720.0 / static_cast<double>(cols)), row_h = 18;
  // Right of the cells: each row's "first→last (peak)", then its suspect
  // mark; the picture is as wide as the longest of them needs.
  std::vector<std::string> counts(rows), marks(rows);
  size_t counts_chars = 0, marks_chars = 0;
  for (size_t i = 0; i < rows; ++i) {
    const SiteSeries& s = r.sites[i];
    counts[i] = fmt::format("{}→{} ({})", s.live.front(), s.live.back(), s.peak);
    counts_chars = std::max(counts_chars, counts[i].size() - 2);  // "→" is 3 bytes, 1 character
    for (const LeakSuspect& l : r.suspects)
      if (l.site == s.site) marks[i] = fmt::format("leak suspect, {}", per_min(l.growth_per_min));
    marks_chars = std::max(marks_chars, marks[i].size());
  }
  const double counts_w = 7.2 * static_cast<double>(counts_chars) + 16;
  const double top = 56, width = label_w + cell_w * static_cast<double>(cols) + 6 + counts_w +
                                 std::max(7.2 * static_cast<double>(marks_chars), 100.0) + 16;
  const double legend_h = 48;
  const double height = top + row_h * static_cast<double>(rows) + 40 + legend_h;
  // Monospace at 12px: 7.2px a character; labels end 6px left of the cells.
  const size_t label_chars = static_cast<size_t>((label_w - 6 - 8) / 7.2);

  // Each shown row's columns and its growth over its first count; one scale.
  std::vector<std::vector<uint64_t>> merged(rows);
  uint64_t max_growth = 0;
  for (size_t i = 0; i < rows; ++i) {
    const SiteSeries& s = r.sites[i];
    merged[i] = merge_columns(s.live, cols);
    for (uint64_t v : merged[i])
      max_growth = std::max(max_growth, v > s.live.front() ? v - s.live.front() : 0);
  }

  fmt::print(
      out,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} "
      "{:.0f}\" font-family=\"monospace\" font-size=\"12\">\n",
      width, height, width, height);
  fmt::print(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  fmt::print(out, "<text x=\"8\" y=\"20\" font-size=\"14\">{}</text>\n",
             xml_escaped("Live goroutines per creation site over time" +
                         (o.header.empty() ? std::string() : " — " + o.header)));
  const int64_t span = r.t_ns.empty() ? 0 : r.t_ns.back();
  fmt::print(
      out, "<text x=\"8\" y=\"38\" fill=\"#555\">{}</text>\n",
      xml_escaped(fmt::format("{} snapshots over {}; colour: goroutines above the site's count at the "
                              "first snapshot, one scale for every row; at the right: first→last (peak)",
                              r.snapshots, format_duration(static_cast<uint64_t>(span)))));
  const double right = label_w + cell_w * static_cast<double>(cols);
  for (size_t i = 0; i < rows; ++i) {
    const SiteSeries& s = r.sites[i];
    const double y = top + row_h * static_cast<double>(i);
    const std::string shown = printable(s.site);
    // The whole name as the row's tooltip; the label cut to fit.
    fmt::print(out, "<g class=\"site\" data-site=\"{}\"><title>{}</title>\n", xml_escaped(s.site),
               xml_escaped(shown));
    fmt::print(out, "<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", label_w - 6, y + 13,
               xml_escaped(clipped(shown, label_chars)));
    const std::vector<uint64_t>& c = merged[i];
    for (size_t k = 0; k < c.size(); ++k) {
      const uint64_t growth = c[k] > s.live.front() ? c[k] - s.live.front() : 0;
      const std::string fill = c[k] == 0     ? kNoneFill
                               : growth == 0 ? kSteadyFill
                                             : growth_fill(growth, max_growth);
      fmt::print(out,
                 "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.0f}\" fill=\"{}\">"
                 "<title>{} live (+{})</title></rect>\n",
                 label_w + cell_w * static_cast<double>(k), y + 1, cell_w, row_h - 2, fill, c[k], growth);
    }
    fmt::print(out, "<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", right + 6, y + 13, xml_escaped(counts[i]));
    if (!marks[i].empty())
      fmt::print(out, "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#b00\">{}</text>\n", right + 6 + counts_w,
                 y + 13, xml_escaped(marks[i]));
    fmt::print(out, "</g>\n");
  }
  const double axis_y = top + row_h * static_cast<double>(rows) + 16;
  fmt::print(out, "<text x=\"{:.0f}\" y=\"{:.1f}\">0s</text>\n", label_w, axis_y);
  fmt::print(out, "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", right, axis_y,
             xml_escaped(format_duration(static_cast<uint64_t>(span))));

  // The legend: what white, grey and the reds mean, with the counts.
  const double ly = axis_y + 18;
  fmt::print(out, "<g class=\"legend\">\n");
  double x = 8;
  auto swatch = [&](const std::string& fill, const std::string& label) {
    fmt::print(out,
               "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"14\" height=\"14\" fill=\"{}\" stroke=\"#999\"/>"
               "<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
               x, ly, fill, x + 18, ly + 11, xml_escaped(label));
    x += 18 + 7.2 * static_cast<double>(label.size()) + 16;
  };
  swatch(kNoneFill, "none");
  swatch(kSteadyFill, "not above the first count");
  if (max_growth > 0) {
    fmt::print(out, "<text x=\"{:.1f}\" y=\"{:.1f}\">above it:</text>\n", x, ly + 11);
    x += 7.2 * 10;
    const uint64_t steps[] = {1, std::max<uint64_t>(1, max_growth / 4), std::max<uint64_t>(1, max_growth / 2),
                              std::max<uint64_t>(1, max_growth * 3 / 4), max_growth};
    uint64_t last = 0;
    for (uint64_t g : steps) {
      if (g == last) continue;
      last = g;
      swatch(growth_fill(g, max_growth), fmt::format("+{}", g));
    }
  }
  fmt::print(out, "</g>\n");
  fmt::print(out, "</svg>\n");
  out.flush();
  if (!out) return make_error("writing {} failed: {}", path, std::strerror(errno ? errno : EIO));
  return {};
}

}  // namespace gotrace
