// The --watch model without a process: the least-squares fit, per-site
// series with created/exited counts, and the leak-suspect rule against the
// three shapes it must tell apart (a steady leak of goroutines that stay
// parked, churn of short-lived goroutines, a large stable pool), plus the
// heat-map writers.
#include "commands/goroutines/goroutine_watch.h"

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "commands/goroutines/goroutine_watch_writer.h"
#include "gotrace/util/text.h"

using namespace gotrace;

namespace {

constexpr int64_t kStep = 250'000'000;  // 250ms between snapshots
constexpr uint64_t kLeakPc = 0x1000, kSleepPc = 0x2000, kPoolPc = 0x3000, kOtherPc = 0x4000;

WatchObservation parked(uint64_t goid, const std::string& site, uint64_t pc, const std::string& reason) {
  WatchObservation o;
  o.goid = goid;
  o.site = site;
  o.parked = true;
  o.park_pc = pc;
  o.reason = reason;
  o.stack_id = pc;  // any nonzero id
  return o;
}

// 17 snapshots over 4s: a leak of 10/s, churn of 200/s living 3ms (a
// snapshot catches 0-2 of them, never the same twice), a pool of 300 that
// stays; every other snapshot 5 pool workers were woken and parked again.
GoroutineWatch three_sites() {
  GoroutineWatch w;
  uint64_t next_goid = 1000;
  uint64_t leaked = 0;
  for (int i = 0; i <= 16; ++i) {
    std::vector<WatchObservation> obs;
    for (uint64_t p = 0; p < 300; ++p)
      obs.push_back(parked(10 + p, "main.pool (main.go:1)", kPoolPc, "chan receive"));
    leaked = static_cast<uint64_t>(i) * 25 / 10;  // 2.5 per snapshot
    for (uint64_t l = 0; l < leaked; ++l)
      obs.push_back(parked(100'000 + l, "main.leak (main.go:2)", kLeakPc, "chan receive"));
    for (int k = 0; k < i % 3; ++k)
      obs.push_back(parked(next_goid++, "main.churn (main.go:3)", kSleepPc, "sleep"));
    w.add(1'000'000'000 + i * kStep, obs);
  }
  return w;
}

const SiteSeries* find_site(const WatchReport& r, const std::string& name) {
  for (const auto& s : r.sites)
    if (s.site == name) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("least-squares fit: slope and R²", "[goroutines][watch]") {
  LinearFit f = fit_line({0, 1, 2, 3}, {1, 3, 5, 7});
  CHECK(f.slope == Approx(2));
  CHECK(f.r2 == Approx(1));
  LinearFit flat = fit_line({0, 1, 2, 3}, {300, 300, 300, 300});
  CHECK(flat.slope == 0);
  CHECK(flat.r2 == 0);  // no variance: nothing explained
  LinearFit noisy = fit_line({0, 1, 2, 3, 4, 5}, {0, 2, 0, 2, 0, 2});
  CHECK(noisy.r2 < 0.3);
  CHECK(fit_line({1}, {5}).slope == 0);
  CHECK(fit_line({2, 2}, {1, 5}).slope == 0);  // x constant
}

TEST_CASE("watch: only the leaking site is a suspect, with its growth and evidence", "[goroutines][watch]") {
  WatchReport r = three_sites().report();
  REQUIRE(r.snapshots == 17);
  CHECK(r.t_ns.back() == 16 * kStep);
  REQUIRE(r.suspects.size() == 1);
  const LeakSuspect& l = r.suspects[0];
  CHECK(l.site == "main.leak (main.go:2)");
  CHECK(l.growth_per_min == Approx(600).epsilon(0.02));
  CHECK(l.r2 > 0.99);
  CHECK(l.live == 40);
  CHECK(l.stuck == 37);  // seen parked in at least two snapshots (the last 3 are new)
  CHECK(l.reason == "chan receive");
  // Goroutine 100000 was first seen at snapshot 1 (t = 250ms), the last at 4s.
  CHECK(l.oldest_goid == 100'000);
  CHECK(l.oldest_wait_ns == 15 * kStep);

  const SiteSeries* pool = find_site(r, "main.pool (main.go:1)");
  REQUIRE(pool);
  CHECK(pool->peak == 300);
  CHECK(pool->growth_per_min == 0);
  CHECK(r.sites.front().site == "main.pool (main.go:1)");  // by peak
  const SiteSeries* churn = find_site(r, "main.churn (main.go:3)");
  REQUIRE(churn);
  CHECK(churn->r2 < 0.8);
}

TEST_CASE("watch: created and exited counts per site between snapshots", "[goroutines][watch]") {
  GoroutineWatch w;
  w.add(0, {parked(1, "a", kLeakPc, "select"), parked(2, "a", kLeakPc, "select")});
  w.add(kStep, {parked(2, "a", kLeakPc, "select"), parked(3, "a", kLeakPc, "select"),
                parked(4, "b", kSleepPc, "sleep")});
  w.add(2 * kStep, {parked(3, "a", kLeakPc, "select")});
  WatchReport r = w.report();
  const SiteSeries* a = find_site(r, "a");
  const SiteSeries* b = find_site(r, "b");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->live == std::vector<uint64_t>{2, 2, 1});
  CHECK(a->created == std::vector<uint64_t>{0, 1, 0});  // the first snapshot creates nothing
  CHECK(a->exited == std::vector<uint64_t>{0, 1, 1});
  CHECK(b->live == std::vector<uint64_t>{0, 1, 0});  // a site seen late has zeros before
  CHECK(b->created == std::vector<uint64_t>{0, 1, 0});
  CHECK(b->exited == std::vector<uint64_t>{0, 0, 1});
}

TEST_CASE("watch: growth without goroutines that stay parked is not a leak", "[goroutines][watch]") {
  SECTION("growing churn: more goroutines each time, never the same ones") {
    GoroutineWatch w;
    uint64_t goid = 1;
    for (int i = 0; i < 17; ++i) {
      std::vector<WatchObservation> obs;
      for (int k = 0; k < 3 * i; ++k) obs.push_back(parked(goid++, "churn", kSleepPc, "sleep"));
      w.add(i * kStep, obs);
    }
    WatchReport r = w.report();
    CHECK(find_site(r, "churn")->growth_per_min > 600);
    CHECK(r.suspects.empty());
  }
  SECTION("the same goroutines, but woken: parked somewhere else each time") {
    GoroutineWatch w;
    for (int i = 0; i < 17; ++i) {
      std::vector<WatchObservation> obs;
      for (int k = 0; k < 3 * i; ++k)
        obs.push_back(parked(static_cast<uint64_t>(k + 1), "busy", (i % 2) ? kLeakPc : kOtherPc, "select"));
      w.add(i * kStep, obs);
    }
    CHECK(w.report().suspects.empty());
  }
  SECTION("running goroutines are not parked") {
    GoroutineWatch w;
    for (int i = 0; i < 17; ++i) {
      std::vector<WatchObservation> obs;
      for (int k = 0; k < 3 * i; ++k) {
        WatchObservation o;
        o.goid = static_cast<uint64_t>(k + 1);
        o.site = "runners";
        obs.push_back(o);
      }
      w.add(i * kStep, obs);
    }
    CHECK(w.report().suspects.empty());
  }
  SECTION("too little growth: two goroutines in four seconds") {
    GoroutineWatch w;
    for (int i = 0; i < 17; ++i) {
      std::vector<WatchObservation> obs;
      for (int k = 0; k < i / 8; ++k)
        obs.push_back(parked(static_cast<uint64_t>(k + 1), "slow", kLeakPc, "select"));
      w.add(i * kStep, obs);
    }
    CHECK(w.report().suspects.empty());
  }
  SECTION("too few snapshots") {
    GoroutineWatch w;
    w.add(0, {});
    w.add(kStep, {parked(1, "x", kLeakPc, "select"), parked(2, "x", kLeakPc, "select"),
                  parked(3, "x", kLeakPc, "select"), parked(4, "x", kLeakPc, "select")});
    CHECK(w.report().suspects.empty());
  }
}

TEST_CASE("watch: suspects are ranked by growth", "[goroutines][watch]") {
  GoroutineWatch w;
  for (int i = 0; i < 17; ++i) {
    std::vector<WatchObservation> obs;
    for (int k = 0; k < i; ++k)
      obs.push_back(parked(static_cast<uint64_t>(1000 + k), "slow", kLeakPc, "select"));
    for (int k = 0; k < 4 * i; ++k)
      obs.push_back(parked(static_cast<uint64_t>(5000 + k), "fast", kOtherPc, "chan send"));
    w.add(i * kStep, obs);
  }
  WatchReport r = w.report();
  REQUIRE(r.suspects.size() == 2);
  CHECK(r.suspects[0].site == "fast");
  CHECK(r.suspects[0].reason == "chan send");
  CHECK(r.suspects[1].site == "slow");
  CHECK(r.suspects[0].growth_per_min == Approx(4 * 240));
}

// The three sites again, with the probes' cumulative counts after each
// snapshot: the leak creates 2.5 per snapshot and none exits, the churn 50
// per snapshot that all exit (a few of them created before the watch), the
// pool creates nothing. A fourth site is seen only by the probes.
GoroutineWatch three_sites_probed(bool leak_exits) {
  GoroutineWatch w;
  uint64_t next_goid = 1000;
  for (int i = 0; i <= 16; ++i) {
    std::vector<WatchObservation> obs;
    for (uint64_t p = 0; p < 300; ++p)
      obs.push_back(parked(10 + p, "main.pool (main.go:1)", kPoolPc, "chan receive"));
    uint64_t leaked = static_cast<uint64_t>(i) * 25 / 10;
    for (uint64_t l = 0; l < leaked; ++l)
      obs.push_back(parked(100'000 + l, "main.leak (main.go:2)", kLeakPc, "chan receive"));
    for (int k = 0; k < i % 3; ++k)
      obs.push_back(parked(next_goid++, "main.churn (main.go:3)", kSleepPc, "sleep"));
    w.add(1'000'000'000 + i * kStep, obs);
    std::map<std::string, SiteProbeCounts> cum;
    const uint64_t n = static_cast<uint64_t>(i) + 1;
    cum["main.leak (main.go:2)"] = {leaked, leak_exits ? leaked : 0, 0};
    cum["main.churn (main.go:3)"] = {50 * n, 50 * n - 2, 2};
    if (i >= 8) cum["main.brief (main.go:4)"] = {7, 7, 0};
    w.add_probe_counts(cum);
  }
  return w;
}

TEST_CASE("watch with probes: exact created/exited per site, ranked by goroutines kept",
          "[goroutines][watch]") {
  WatchReport r = three_sites_probed(false).report();
  CHECK(r.exact);
  const SiteSeries* leak = find_site(r, "main.leak (main.go:2)");
  const SiteSeries* churn = find_site(r, "main.churn (main.go:3)");
  const SiteSeries* pool = find_site(r, "main.pool (main.go:1)");
  const SiteSeries* brief = find_site(r, "main.brief (main.go:4)");
  REQUIRE(leak);
  REQUIRE(churn);
  REQUIRE(pool);
  REQUIRE(brief);
  auto total = [](const std::vector<uint64_t>& v) {
    uint64_t n = 0;
    for (auto x : v) n += x;
    return n;
  };
  CHECK(total(leak->created) == 40);
  CHECK(total(leak->exited) == 0);
  CHECK(leak->created_live == 40);
  CHECK(total(churn->created) == 850);
  CHECK(total(churn->exited) == 850);  // 848 of its own plus 2 from before the watch
  CHECK(churn->created[0] == 50);      // [0]: from the probes' start to the first snapshot
  CHECK(churn->created[5] == 50);
  CHECK(churn->created_live == 2);
  CHECK(total(pool->created) == 0);
  CHECK(total(pool->exited) == 0);
  // Seen only by the probes: no live goroutine in any snapshot.
  CHECK(brief->peak == 0);
  CHECK(brief->live.size() == 17);
  CHECK(brief->created[8] == 7);
  CHECK(total(brief->created) == 7);
  CHECK(total(brief->exited) == 7);

  REQUIRE(r.suspects.size() == 1);
  CHECK(r.suspects[0].site == "main.leak (main.go:2)");
  CHECK(r.suspects[0].created == 40);
  CHECK(r.suspects[0].exited == 0);
  CHECK(r.suspects[0].kept_per_min == Approx(600).epsilon(0.01));  // 40 kept over 4s

  // The same snapshots, but the probes saw every goroutine the site created
  // exit: the exact counts overrule the snapshots' growth, not a leak.
  WatchReport r2 = three_sites_probed(true).report();
  CHECK(r2.suspects.empty());
}

TEST_CASE("watch writers: heat rows, text, JSON and SVG", "[goroutines][watch]") {
  CHECK(heat_row({0, 1, 2, 4, 8}, 60) == " .:+@");  // v * 9 / peak, rounded
  CHECK(heat_row({0, 5, 10}, 60) == " +@");
  CHECK(heat_row({1, 1000}, 60) == ".@");  // any goroutine at all shows
  CHECK(heat_row({3, 3, 3}, 60) == "@@@");
  CHECK(heat_row({0, 0}, 60) == "  ");
  // Merging keeps each span's max: 8 values into 4 columns.
  CHECK(heat_row({0, 10, 0, 0, 0, 0, 5, 0}, 4) == "@  +");

  WatchReport r = three_sites().report();
  WatchWriterOptions o;
  o.top = 2;
  o.interval_ns = kStep;
  std::ostringstream svg;
  REQUIRE(write_watch_svg(r, svg, o, "test.svg"));
  std::string s = svg.str();
  size_t rows = 0;
  for (size_t p = 0; (p = s.find("<g class=\"site\"", p)) != std::string::npos; ++p) ++rows;
  CHECK(rows == 2);
  // The pool and the leak are the two biggest; the leak's row is marked.
  CHECK(s.find("leak suspect, +600.0/min") != std::string::npos);
  CHECK(s.find("</svg>") != std::string::npos);

  WatchReport esc;
  GoroutineWatch w;
  w.add(0, {parked(1, "a<b>&\"c\"", kLeakPc, "select")});
  esc = w.report();
  std::ostringstream e;
  REQUIRE(write_watch_svg(esc, e, o, "test.svg"));
  CHECK(e.str().find("a<b>") == std::string::npos);
  CHECK(e.str().find("a&lt;b&gt;&amp;&quot;c&quot;") != std::string::npos);

  std::ostringstream bad;
  bad.setstate(std::ios::badbit);
  CHECK_FALSE(write_watch_svg(r, bad, o, "test.svg"));
}

namespace {

// The fill colours of a row's cells, as (r, g, b), in the SVG's order.
std::vector<std::array<int, 3>> row_fills(const std::string& svg, const std::string& site) {
  std::vector<std::array<int, 3>> out;
  size_t g = svg.find("data-site=\"" + site + "\"");
  REQUIRE(g != std::string::npos);
  size_t end = svg.find("</g>", g);
  for (size_t p = svg.find("fill=\"rgb(", g); p < end; p = svg.find("fill=\"rgb(", p + 1)) {
    std::array<int, 3> c{};
    REQUIRE(std::sscanf(svg.c_str() + p, "fill=\"rgb(%d,%d,%d)", &c[0], &c[1], &c[2]) == 3);
    out.push_back(c);
  }
  return out;
}

// Darkness of a colour: 0 white, 765 black.
int darkness(const std::array<int, 3>& c) { return 765 - c[0] - c[1] - c[2]; }

int darkest(const std::vector<std::array<int, 3>>& fills) {
  int d = 0;
  for (const auto& c : fills) d = std::max(d, darkness(c));
  return d;
}

}  // namespace

TEST_CASE("SVG heat map: a constant count is not drawn like a leak, a legend says what colour means",
          "[goroutines][watch]") {
  // 17 snapshots: a pool of 300 that never changes, a leak growing to 40.
  WatchReport r = three_sites().report();
  WatchWriterOptions o;
  o.top = 0;
  std::ostringstream out;
  REQUIRE(write_watch_svg(r, out, o, "test.svg"));
  const std::string s = out.str();
  auto pool = row_fills(s, "main.pool (main.go:1)");
  auto leak = row_fills(s, "main.leak (main.go:2)");
  REQUIRE(!pool.empty());
  REQUIRE(!leak.empty());
  INFO("pool darkest " << darkest(pool) << ", leak darkest " << darkest(leak));
  // Before: each row was scaled to its own peak, so both reached the same
  // dark red.
  CHECK(darkest(pool) * 3 < darkest(leak));
  // The leak's last cell is its darkest; its first is light.
  CHECK(darkness(leak.back()) == darkest(leak));
  CHECK(darkness(leak.front()) < darkest(leak) / 3);
  CHECK(s.find("class=\"legend\"") != std::string::npos);
}

TEST_CASE("SVG heat map: long names are cut on a character boundary and fit left of the cells",
          "[goroutines][watch]") {
  GoroutineWatch w;
  std::string longname;
  for (int i = 0; i < 45; ++i) longname += "\xc3\xa9";  // é: 90 bytes, 45 characters
  longname += " (main.go:7)";
  const std::string ctl = "main.\x1b[31mred\x07 (main.go:8)";
  for (int i = 0; i < 3; ++i)
    w.add(i * kStep, {parked(1, longname, kLeakPc, "select"), parked(2, ctl, kSleepPc, "sleep"),
                      parked(3, std::string(80, 'a'), kPoolPc, "sleep")});
  WatchReport r = w.report();
  WatchWriterOptions o;
  std::ostringstream out;
  REQUIRE(write_watch_svg(r, out, o, "test.svg"));
  const std::string s = out.str();
  INFO(s);
  // Valid UTF-8 throughout (before: cut at byte 57, inside a character).
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_at(s, i);
    REQUIRE(n > 0);
    i += n;
  }
  // No control characters: XML 1.0 does not allow them.
  for (unsigned char c : s) CHECK((c >= 0x20 || c == '\n'));
  // Each row's label: right-aligned at x, at most x / 7.2 characters
  // (monospace 12px is 7.2px a character), so it does not run off the left
  // edge (before: 60 characters, 432px, left of x = 414).
  size_t labels = 0;
  for (size_t g = s.find("<g class=\"site\""); g != std::string::npos;
       g = s.find("<g class=\"site\"", g + 1)) {
    size_t t = s.find("<text ", g);
    size_t x_at = s.find("x=\"", t);
    double x = std::atof(s.c_str() + x_at + 3);
    CHECK(s.substr(t, s.find('>', t) - t).find("text-anchor=\"end\"") != std::string::npos);
    size_t open = s.find('>', t) + 1, close = s.find("</text>", open);
    std::string label = s.substr(open, close - open);
    size_t chars = 0;
    for (size_t i = 0; i < label.size(); i += std::max<size_t>(1, utf8_sequence_at(label, i))) ++chars;
    INFO(label);
    CHECK(static_cast<double>(chars) * 7.2 <= x);
    ++labels;
  }
  CHECK(labels == 3);
}
