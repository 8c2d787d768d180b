// How a goroutine snapshot becomes the report: groups by (state, reason,
// stack, creation site) sorted by count, waits from the GC stamp, filters,
// labels, and the text, JSON and pprof outputs. No process is read: the
// snapshot is made up from real PCs of the goroutines fixture.
#include "commands/goroutines/goroutine_report.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands/goroutines/goroutine_writer.h"
#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"
#include "support/json.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

constexpr int64_t kMin = 60'000'000'000;

struct Sample {
  std::unique_ptr<GoBinary> bin;
  GoroutineSnapshot snap;
  unsigned chan_receive = 0, sleep = 0;
};

Sample make_sample() {
  auto fx = fixtures_of("goroutines", "amd64");
  REQUIRE(!fx.empty());
  auto bin = GoBinary::open(fx.back().path);
  REQUIRE(bin);
  Sample s;
  s.bin = std::move(*bin);
  const Pclntab& tab = s.bin->pclntab();
  auto pc_in = [&](std::string_view name, uint64_t off) {
    auto fn = tab.function_by_name(name);
    REQUIRE(fn);
    return fn->entry + off;
  };
  REQUIRE(s.bin->wait_reasons());
  s.chan_receive = *s.bin->wait_reasons()->value_of("chan receive");
  s.sleep = *s.bin->wait_reasons()->value_of("sleep");
  s.snap.monotonic_ns = 100 * kMin;
  s.snap.unix_ns = 1'700'000'000'000'000'000;
  s.snap.stats.allglen = 12;
  s.snap.stats.inconsistent = 1;

  std::vector<uint64_t> recv = {pc_in("runtime.gopark", 1), pc_in("main.chanWaiter", 5)};
  uint64_t created = pc_in("main.startPool", 9);
  for (uint64_t goid : {30, 31, 32}) {
    Goroutine g;
    g.goid = goid;
    g.status = GStatus::Waiting;
    g.wait_reason = static_cast<uint8_t>(s.chan_receive);
    // Stamps are earlier cycles' mark terminations (goroutine_report.h):
    // 30 was stamped 30m, 31 94m, 32 not at all.
    g.waitsince = goid == 30 ? 30 * kMin : goid == 31 ? 94 * kMin : 0;
    g.parent_goid = 1;
    g.gopc = created;
    g.stack_origin = StackOrigin::Sched;
    g.stack = recv;
    s.snap.goroutines.push_back(g);
  }
  Goroutine sl;
  sl.goid = 40;
  sl.status = GStatus::Waiting;
  sl.wait_reason = static_cast<uint8_t>(s.sleep);
  sl.waitsince = 20 * kMin;  // the next stamp, 30m, is 70 minutes ago
  sl.gopc = pc_in("main.main", 20);
  sl.stack_origin = StackOrigin::Sched;
  sl.stack = {pc_in("runtime.gopark", 1), pc_in("main.sleeper", 5)};
  sl.has_labels = true;
  sl.labels_decoded = true;
  sl.labels = {{"svc", "demo"}, {"req", "42"}};
  sl.locked_to_thread = true;
  s.snap.goroutines.push_back(sl);
  Goroutine run;
  run.goid = 50;
  run.status = GStatus::Running;
  run.gopc = pc_in("main.main", 20);
  s.snap.goroutines.push_back(run);
  Goroutine sys;
  sys.goid = 2;
  sys.status = GStatus::Waiting;
  sys.wait_reason = static_cast<uint8_t>(*s.bin->wait_reasons()->value_of("force gc (idle)"));
  sys.system = true;
  sys.waitsince = 95 * kMin;  // the latest stamp: no lower bound for it
  sys.stack_origin = StackOrigin::Sched;
  sys.stack = {pc_in("runtime.gopark", 1), pc_in("runtime.forcegchelper", 5)};
  s.snap.goroutines.push_back(sys);
  std::sort(s.snap.goroutines.begin(), s.snap.goroutines.end(),
            [](const Goroutine& a, const Goroutine& b) { return a.goid < b.goid; });
  return s;
}

GoroutineReport report_of(Sample& s, const GoroutineFilter& f = {}) {
  return build_goroutine_report(s.snap, *s.bin->wait_reasons(), StackTable(s.bin->pclntab(), 0), f);
}

}  // namespace

TEST_CASE("goroutines are grouped by state, reason, stack and creation site", "[goroutines]") {
  Sample s = make_sample();
  GoroutineReport r = report_of(s);
  CHECK(r.total == 6);
  CHECK(r.shown == 6);
  CHECK(r.system == 1);
  CHECK(r.running_without_stack == 1);
  REQUIRE(r.groups.size() == 4);
  const GoroutineGroup& g = r.groups[0];
  CHECK(g.count == 3);
  CHECK(g.status == GStatus::Waiting);
  CHECK(g.reason == "chan receive");
  CHECK(g.goids == std::vector<uint64_t>{30, 31, 32});
  CHECK(g.parents == std::set<uint64_t>{1});
  REQUIRE(g.min_wait_ns);
  // Lower bounds: 31 (stamp 94m) waited since at least the 95m stamp, 30
  // (stamp 30m) since the 94m one. Go's own figure, now - stamp, says 70m
  // for 30, which may be a whole GC interval too long.
  CHECK(*g.min_wait_ns == 5 * kMin);
  CHECK(*g.max_wait_ns == 6 * kMin);
  CHECK(g.wait_known == 2);
  CHECK(g.wait_buckets[0] == 1);  // not stamped
  CHECK(g.wait_buckets[2] == 2);  // 1m-10m
  // The user's frame names the stack; the creation site is the go statement.
  const Frame* at = r.stacks.user_frame(g.stack_id);
  REQUIRE(at);
  CHECK(at->function == "main.chanWaiter");
  CHECK(r.stacks.frames(g.created_by_id).back().function == "main.startPool");
  std::string headline = group_headline(r, g);
  CHECK(headline.starts_with("3 goroutines in chan receive (2 for ≥5m) at main.chanWaiter (main.go:"));
  CHECK(headline.find(", created by main.startPool (main.go:") != std::string::npos);
  // Single groups follow in goid order (equal counts).
  CHECK(r.groups[1].goids == std::vector<uint64_t>{2});
  CHECK(r.groups[1].system);
  CHECK_FALSE(r.groups[1].min_wait_ns);  // the latest stamp bounds nothing
  CHECK(r.groups[1].wait_buckets[0] == 1);
  CHECK(r.groups[2].reason == "sleep");
  CHECK(r.groups[2].locked == 1);
  CHECK(r.groups[2].label_sets == std::map<std::string, uint64_t>{{"req=42,svc=demo", 1}});
  CHECK(r.groups[2].wait_buckets[4] == 1);
  CHECK(group_headline(r, r.groups[2]).find("for ≥1h10m") != std::string::npos);
  CHECK(r.groups[3].status == GStatus::Running);
  CHECK(r.groups[3].stack_id == 0);
  CHECK(r.groups[3].reason.empty());
}

TEST_CASE("goroutine 1 has no creation site", "[goroutines]") {
  Sample s = make_sample();
  for (auto& g : s.snap.goroutines)
    if (g.goid == 30) g.goid = 1;  // runtime.main's goroutine: started by the bootstrap code
  GoroutineReport r = report_of(s);
  for (const auto& e : r.goroutines) CHECK((e.created_by_id == 0) == (e.goid == 1 || e.goid == 2));
}

TEST_CASE("goroutine filters: state, reason, minimum wait, system", "[goroutines]") {
  Sample s = make_sample();
  {
    GoroutineFilter f;
    f.reasons = {"chan receive"};
    auto r = report_of(s, f);
    CHECK(r.shown == 3);
    CHECK(r.filtered_out == 3);
  }
  {
    GoroutineFilter f;
    f.min_wait_ns = 7 * kMin;
    auto r = report_of(s, f);
    CHECK(r.shown == 1);  // only the sleeper's wait is known to be that long (30's stamp says 70m)
    CHECK(r.groups.at(0).reason == "sleep");
  }
  {
    GoroutineFilter f;
    f.states = {"running"};
    auto r = report_of(s, f);
    CHECK(r.shown == 1);
  }
  {
    GoroutineFilter f;
    f.include_system = false;
    auto r = report_of(s, f);
    CHECK(r.shown == 5);
    for (const auto& g : r.groups) CHECK_FALSE(g.system);
  }
}

TEST_CASE("goroutine text, JSON and profile outputs", "[goroutines]") {
  Sample s = make_sample();
  GoroutineReport r = report_of(s);
  std::ostringstream text;
  GoroutineWriterOptions o;
  o.header = "PID 1 (x), go1.26";
  write_goroutine_text(r, text, o);
  INFO(text.str());
  CHECK(text.str().find("6 goroutines (1 started by the runtime)") != std::string::npos);
  CHECK(text.str().find("not shown: 1 goroutines changed while being read") != std::string::npos);
  CHECK(text.str().find("1 running goroutines have no stack") != std::string::npos);
  CHECK(text.str().find("labels {req=42,svc=demo}: 1") != std::string::npos);

  std::ostringstream all;
  o.all = true;
  write_goroutine_text(r, all, o);
  INFO(all.str());
  CHECK(all.str().find("goroutine 40 [sleep, ≥1h10m, locked to thread] labels{req=42,svc=demo}:") !=
        std::string::npos);
  CHECK(all.str().find("created by main.startPool in goroutine 1") != std::string::npos);
  CHECK(all.str().find("goroutine 50 [running]:\n  (running: no stack") != std::string::npos);

  std::ostringstream js;
  write_goroutine_json(r, js, o);
  Json j = parse_json(js.str());
  REQUIRE(j["groups"].size() == 4);
  CHECK(j["groups"][0]["count"].u == 3);
  CHECK(j["groups"][0]["state"].str == "waiting");
  CHECK(j["groups"][0]["reason"].str == "chan receive");
  CHECK(j["groups"][0]["wait_ns"].u == static_cast<uint64_t>(5 * kMin));
  CHECK(j["groups"][0]["wait_known"].u == 2);
  CHECK(j["groups"][0]["created_by"]["stack"].size() >= 1);
  CHECK(j["groups"][0]["stack"][1]["func"].str == "main.chanWaiter");
  CHECK(j["groups"][3]["reason"].type == Json::Type::Null);
  CHECK(j["snapshot"]["inconsistent"].u == 1);
  REQUIRE(j["goroutines"].size() == 6);
  CHECK(j["goroutines"][4]["labels"]["svc"].str == "demo");
  CHECK(j["goroutines"][4]["locked_to_thread"].b);

  ProfileData p = goroutine_profile(r, s.bin->elf().path(), "test");
  REQUIRE(p.sample_types.size() == 1);
  CHECK(p.sample_types[0] == std::make_pair(std::string("goroutine"), std::string("count")));
  int64_t sum = 0;
  for (const auto& x : p.samples) sum += x.values.at(0);
  CHECK(sum == 5);  // the running goroutine has no stack, and the profile says so
  CHECK(p.comments.back() == "1 goroutines without a stack (running) are not in this profile");

  auto dir = std::filesystem::temp_directory_path() / fmt::format("gotrace-gr-{}", getpid());
  std::filesystem::create_directories(dir);
  std::string pprof = (dir / "g.pb.gz").string(), folded = (dir / "g.folded").string();
  REQUIRE(write_pprof(p, r.stacks, pprof));
  REQUIRE(write_folded(p, r.stacks, folded, 0));
  auto raw = run_command(fmt::format("{} tool pprof -raw {} 2>&1", go_command(), shell_quote(pprof)));
  INFO(raw.out);
  REQUIRE(raw.status == 0);
  CHECK(raw.out.find("goroutine/count") != std::string::npos);
  CHECK(raw.out.find("main.chanWaiter") != std::string::npos);
  std::ifstream in(folded);
  std::string line, all_folded;
  while (std::getline(in, line)) all_folded += line + "\n";
  CHECK(all_folded.find("main.chanWaiter;runtime.gopark;[chan receive] 3\n") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("goroutine text escapes pprof label values from the target, JSON keeps them exact",
          "[goroutines][escape]") {
  Sample s = make_sample();
  for (auto& g : s.snap.goroutines)
    if (g.has_labels)
      g.labels = {{"svc", "\x1b]0;owned\x07"},
                  {"k\x1b[2J",
                   "\xc2\x9b"
                   "1m"}};
  GoroutineReport r = report_of(s);
  GoroutineWriterOptions o;
  for (bool all : {false, true}) {
    o.all = all;
    std::ostringstream text;
    write_goroutine_text(r, text, o);
    INFO(text.str());
    CHECK(text.str().find('\x1b') == std::string::npos);
    CHECK(text.str().find('\x07') == std::string::npos);
    CHECK(text.str().find("\xc2\x9b") == std::string::npos);
    CHECK(text.str().find("svc=\\x1b]0;owned\\x07") != std::string::npos);
  }
  std::ostringstream json;
  write_goroutine_json(r, json, o);
  auto j = parse_json(json.str());
  bool found = false;
  for (const auto& g : j["goroutines"].arr)
    if (g.has("labels") && g["labels"].has("svc")) {
      CHECK(g["labels"]["svc"].str == "\x1b]0;owned\x07");
      found = true;
    }
  CHECK(found);
}
