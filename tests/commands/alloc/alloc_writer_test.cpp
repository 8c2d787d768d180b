// The alloc report's text, JSON and pprof outputs (the profile read back by
// `go tool pprof`, as Go's heap profile would be: -sample_index=alloc_space).
#include "commands/alloc/alloc_writer.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"
#include "support/json.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

const std::string kPkg = "gotrace.test/fixtures/internal/allocwork";

struct Built {
  std::unique_ptr<GoBinary> bin;
  AllocReport r;
  Fixture f;
};

Built build(AllocGroupBy by) {
  Built b;
  b.f = fixtures_of("alloc", "amd64").back();
  auto bin = GoBinary::open(b.f.path);
  REQUIRE(bin);
  b.bin = std::move(*bin);
  const Pclntab& tab = b.bin->pclntab();
  auto pc_in = [&](const std::string& name) {
    auto fn = tab.function_by_name(name);
    REQUIRE(fn);
    return fn->entry + 1;
  };
  b.r.stacks = std::make_shared<StackTable>(tab, 0);
  b.r.stacks->add(
      1, {pc_in("runtime.profilealloc"), pc_in(kPkg + ".BigPointerful") + 1, pc_in(kPkg + ".Round") + 1});
  b.r.stacks->add(
      2, {pc_in("runtime.profilealloc"), pc_in(kPkg + ".SmallNoscan") + 1, pc_in(kPkg + ".Round") + 1});
  b.r.stacks->add(3, {pc_in("runtime.mallocgc"), pc_in(kPkg + ".GrowInt64Map") + 1});
  b.r.summary.pid = 42;
  b.r.summary.comm = "alloc";
  b.r.summary.go_version = b.f.version;
  b.r.summary.duration_s = 2;
  b.r.target_alloc_start = 1000;
  b.r.target_alloc_end = 1000 + 400000;
  AllocBuildInput in;
  in.aggs = {{1, 0x30, 896, 320, 320 * 896}, {2, 0, 64, 640, 640 * 64}};
  RawLargeAgg l;
  l.stack_id = 1;
  l.type = 0x30;
  l.count = 2;
  l.bytes = 2 * 40960;
  l.max_bytes = 40960;
  l.max_goid = 9;
  in.large.push_back(l);
  in.maps = {{3, 0x40, 0, 9, 1664}};
  in.map_writes = {{3, 0x40, 2000, 1999}, {1, 0x40, 6, 3}};
  RawGcEvent c;
  c.kind = GcEventKind::Cycle;
  c.t_ns = 10;
  in.gc_events = {
      {GcEventKind::Start, 5, 2}, c, {GcEventKind::StwStop, 20, 1}, {GcEventKind::StwStart, 70, 1}};
  in.gc_events.back().heap_live = 5 << 20;
  in.gc_events.back().heap_goal = 8 << 20;
  AllocBuildOptions o;
  o.sampler = AllocSampler::Profilealloc;
  o.rate = 1;
  o.by = by;
  o.type_name = [](uint64_t t) -> std::string {
    return t == 0x30 ? "allocwork.Big" : t == 0x40 ? "map[int64]int" : "";
  };
  o.stw_reason_name = [](uint32_t) { return std::string("GC mark termination"); };
  build_alloc_report(b.r, in, o);
  b.r.maps_traced = true;
  b.r.map_writes_traced = true;
  b.r.summary.cost.known = true;
  b.r.summary.cost.probe_hits = 4000;
  b.r.summary.cost.trap_ns_per_hit = 700;
  b.r.summary.cost.bpf_ns = 4000 * 300;
  return b;
}

}  // namespace

TEST_CASE("alloc JSON carries the documented fields", "[allocreport][report]") {
  Built b = build(AllocGroupBy::Stack);
  std::ostringstream out;
  write_alloc_json(b.r, out, {});
  Json j = parse_json(out.str());
  CHECK(j["pid"].u == 42);
  CHECK(j["sampler"].str == "profilealloc");
  CHECK(j["rate"].u == 1);
  CHECK(j["total_bytes"].u == 320 * 896 + 640 * 64);
  CHECK(j["samples"].u == 960);
  CHECK(j["target_alloc_bytes"].u == 400000);
  REQUIRE(j["entries"].size() == 2);
  CHECK(j["entries"][0]["type"].str == "allocwork.Big");
  CHECK(j["entries"][0]["bytes"].u == 320 * 896);
  CHECK(j["entries"][0]["objects"].u == 320);
  CHECK(j["entries"][0]["samples"].u == 320);
  CHECK(j["entries"][0]["stack"][1]["func"].str == kPkg + ".BigPointerful");
  CHECK(j["entries"][1]["type"].str == "");
  CHECK(j["entries"][1]["slot_size"].u == 64);
  REQUIRE(j["large"].size() == 1);
  CHECK(j["large"][0]["count"].u == 2);
  CHECK(j["large"][0]["max_bytes"].u == 40960);
  CHECK(j["large"][0]["type"].str == "allocwork.Big");
  REQUIRE(j["maps"].size() == 1);
  CHECK(j["maps"][0]["map_type"].str == "map[int64]int");
  CHECK(j["maps"][0]["growths"].u == 9);
  CHECK(j["maps"][0]["max_len"].u == 1664);
  CHECK(j["map_writes_traced"].b);
  CHECK(j["total_map_writes"].u == 2006);
  REQUIRE(j["map_writes"].size() == 2);
  CHECK(j["map_writes"][0]["map_type"].str == "map[int64]int");
  CHECK(j["map_writes"][0]["writes"].u == 2000);
  CHECK(j["map_writes"][0]["max_len"].u == 1999);
  CHECK(j["map_writes"][0]["stack"][1]["func"].str == kPkg + ".GrowInt64Map");
  CHECK(j["map_writes"][1]["writes"].u == 6);
  CHECK(j["map_write_rows"].u == 2);
  std::ostringstream top1;
  AllocWriterOptions wo;
  wo.top = 1;
  write_alloc_json(b.r, top1, wo);
  Json j1 = parse_json(top1.str());
  CHECK(j1["map_writes"].size() == 1);  // cut by --top, and the cut is visible:
  CHECK(j1["map_write_rows"].u == 2);
  CHECK(j1["total_map_writes"].u == 2006);
  REQUIRE(j["gc"].size() == 1);
  CHECK(j["gc"][0]["trigger"].str == "forced");
  CHECK(j["gc"][0]["heap_live"].u == (5u << 20));
  CHECK(j["gc"][0]["heap_goal"].u == (8u << 20));
  REQUIRE(j["gc"][0]["pauses_ns"].size() == 1);
  CHECK(j["gc"][0]["pauses_ns"][0].u == 50);
  CHECK(j["gc"][0]["pause_reasons"][0].str == "GC mark termination");
}

TEST_CASE("alloc text report names sampler, sites, types, large objects, maps and GC",
          "[allocreport][report]") {
  Built b = build(AllocGroupBy::Stack);
  std::ostringstream out;
  write_alloc_text(b.r, out, {});
  std::string t = out.str();
  INFO(t);
  CHECK(t.find("MemProfileRate=1") != std::string::npos);
  CHECK(t.find("every allocation sampled") != std::string::npos);
  CHECK(t.find("Top 2 of 2 allocation sites") != std::string::npos);
  CHECK(t.find("allocwork.BigPointerful") != std::string::npos);
  CHECK(t.find("no type recorded (64-byte slots)") != std::string::npos);
  CHECK(t.find("2 objects, 80.0 KiB") != std::string::npos);
  // The site's line: count and total, not a product (2 × 80 KiB read as 160).
  CHECK(t.find("     2 objects,   80.0 KiB in all  allocwork.Big") != std::string::npos);
  CHECK(t.find(" × ") == std::string::npos);
  CHECK(t.find("map[int64]int") != std::string::npos);
  CHECK(t.find("trigger forced") != std::string::npos);
  CHECK(t.find("390.6 KiB in the same time") != std::string::npos);
  CHECK(t.find("goroutine 9") != std::string::npos);
  // Map writes: 2006 in 2 s, the top site's share, and the cost per write
  // from the trace's own measurement (700 ns trap + 300 ns BPF).
  CHECK(t.find("Map writes (--map-writes, every one): 2006 in 2.0s, 1003/s") != std::string::npos);
  CHECK(t.find("every map write pays a probe trap: ~1.0µs per write here") != std::string::npos);
  CHECK(t.find(" 99.7%  2000 writes  1000/s  map[int64]int  (up to 1999 entries)") != std::string::npos);

  Built g = build(AllocGroupBy::Type);
  std::ostringstream out2;
  write_alloc_text(g.r, out2, {});
  CHECK(out2.str().find("allocation types by bytes") != std::string::npos);
  CHECK(out2.str().find("(no type)") != std::string::npos);
  CHECK(out2.str().find("top 1 of 1 map types") != std::string::npos);  // both rows are map[int64]int
  CHECK(out2.str().find("100.0%  2006 writes") != std::string::npos);

  Built u = build(AllocGroupBy::Stack);
  u.r.summary.cost.trap_ns_per_hit = 0;  // not measured: said so, no number made up
  std::ostringstream out3;
  write_alloc_text(u.r, out3, {});
  CHECK(out3.str().find("every map write pays a probe trap (its cost was not measured here)") !=
        std::string::npos);
}

TEST_CASE("alloc pprof reads back like Go's heap profile", "[allocreport][pprof]") {
  Built b = build(AllocGroupBy::Stack);
  auto dir = std::filesystem::temp_directory_path() / fmt::format("gotrace-allocpprof-{}", getpid());
  std::filesystem::create_directories(dir);
  std::string pprof = (dir / "alloc.pb.gz").string();
  ProfileData data = alloc_profile(b.r, b.f.path);
  REQUIRE(write_pprof(data, *b.r.stacks, pprof));
  auto raw = run_command(fmt::format("{} tool pprof -raw {} 2>&1", go_command(), shell_quote(pprof)));
  INFO(raw.out);
  REQUIRE(raw.status == 0);
  CHECK(raw.out.find("alloc_objects/count alloc_space/bytes") != std::string::npos);
  CHECK(raw.out.find(fmt::format(" 320     {}: ", 320 * 896)) != std::string::npos);
  CHECK(raw.out.find("type:[allocwork.Big]") != std::string::npos);
  auto top = run_command(
      fmt::format("{} tool pprof -top -sample_index=alloc_space {} 2>&1", go_command(), shell_quote(pprof)));
  INFO(top.out);
  CHECK(top.status == 0);
  // As in Go's own heap profile, the allocating code is the leaf: the
  // runtime's allocation frames are not shown (they would take all the flat
  // time), and a stack of runtime frames only would be kept whole.
  CHECK(top.out.find("runtime.profilealloc") == std::string::npos);
  CHECK(top.out.find("runtime.mallocgc") == std::string::npos);
  std::istringstream lines(top.out);
  std::string line, first;
  bool table = false;
  while (std::getline(lines, line)) {
    if (table && first.empty()) first = line;
    if (line.find("flat%") != std::string::npos) table = true;
  }
  CHECK(first.ends_with(kPkg + ".BigPointerful"));  // the most bytes, flat
  ProfileSample runtime_only;
  runtime_only.hide_runtime_leaf = true;
  std::vector<Frame> fr(2);
  fr[0].function = "runtime.malg";
  fr[0].pc = 1;
  fr[1].function = "runtime.newproc1";
  fr[1].pc = 2;
  CHECK(first_shown_frame(runtime_only, fr) == 0);
  fr[1].function = "main.f";
  CHECK(first_shown_frame(runtime_only, fr) == 1);
  fr[1].pc = 1;  // inlined into the same PC: the location stays whole
  CHECK(first_shown_frame(runtime_only, fr) == 0);
  std::filesystem::remove_all(dir);
}
