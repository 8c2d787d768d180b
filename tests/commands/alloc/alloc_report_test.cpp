// How `gotrace alloc` turns what the kernel collected into its report:
// pprof's unsampling, the refill sampler's span weighting, grouping by
// stack / function / package / type, large objects, map growth, and GC
// cycles with their triggers, pauses and drivers. No BPF involved.
#include "commands/alloc/alloc_report.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>

#include "commands/alloc/alloc_writer.h"
#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"
#include "support/json.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

const std::string kPkg = "gotrace.test/fixtures/internal/allocwork";

struct World {
  std::unique_ptr<GoBinary> bin;
  AllocReport report;
  // Stack ids of the fixture's sites: the sampler's frame, then the site.
  uint64_t stack_of(const std::string& fn) {
    auto f = bin->pclntab().function_by_name(fn);
    REQUIRE(f);
    auto pa = bin->pclntab().function_by_name("runtime.profilealloc");
    REQUIRE(pa);
    uint64_t id = f->entry;  // any unique id
    report.stacks->add(id, {pa->entry + 4, f->entry + 1});
    return id;
  }
};

World world() {
  World w;
  auto bin = GoBinary::open(fixtures_of("alloc", "amd64").front().path);
  REQUIRE(bin);
  w.bin = std::move(*bin);
  w.report.stacks = std::make_shared<StackTable>(w.bin->pclntab(), 0);
  return w;
}

// One GC event as the BPF program sends it.
RawGcEvent ev(GcEventKind k, uint64_t t, uint32_t arg = 0, uint64_t arg2 = 0) {
  RawGcEvent e;
  e.kind = k;
  e.t_ns = t;
  e.arg = arg;
  e.arg2 = arg2;
  return e;
}

AllocBuildOptions options(AllocSampler s, int64_t rate) {
  AllocBuildOptions o;
  o.sampler = s;
  o.rate = rate;
  o.type_name = [](uint64_t t) -> std::string {
    switch (t) {
      case 0x10:
        return "[64]uint8";
      case 0x20:
        return "allocwork.Small";
      case 0x30:
        return "allocwork.Big";
      case 0x40:
        return "map[int64]int";
    }
    return "";
  };
  o.stw_reason_name = [](uint32_t r) -> std::string {
    return r == 1 ? "GC mark termination" : r == 2 ? "GC sweep termination" : "other";
  };
  return o;
}

}  // namespace

TEST_CASE("unsampling follows pprof: size/(1-exp(-size/rate)) per sample", "[allocreport]") {
  // Rate 1: every allocation was sampled, nothing to scale.
  auto [b1, o1] = unsample_profile(10, 640, 1);
  CHECK(b1 == 640);
  CHECK(o1 == 10);
  const double rate = 512 * 1024;
  auto [b, o] = unsample_profile(4, 4 * 64, 512 * 1024);
  const double scale = 1 / (1 - std::exp(-64 / rate));
  CHECK(b == Approx(4 * 64 * scale));
  CHECK(o == Approx(4 * scale));
  CHECK(b / o == Approx(64));  // the estimate keeps the object size
  // A sample as large as the rate stands for less than rate/size objects.
  auto [bl, ol] = unsample_profile(1, 1 << 20, 512 * 1024);
  CHECK(ol == Approx(1 / (1 - std::exp(-2.0))));
  CHECK(bl < 2.0 * (1 << 20));
  CHECK(unsample_profile(0, 0, 1).first == 0);
  CHECK(function_package(kPkg + ".SmallNoscan") == kPkg);
  CHECK(function_package(kPkg + ".(*Options).Register") == kPkg);
  CHECK(function_package("main.main.func1") == "main");
  CHECK(function_package("net/http.(*conn).serve") == "net/http");
  CHECK(function_package("main.F[go.shape.struct { a/b.T }]") == "main");
  CHECK(parse_group_by("type") == AllocGroupBy::Type);
  CHECK(!parse_group_by("thread"));
}

TEST_CASE("build_alloc_report: hotspots by stack, function, package and type", "[allocreport]") {
  World w = world();
  const uint64_t s_noscan = w.stack_of(kPkg + ".SmallNoscan");
  const uint64_t s_small = w.stack_of(kPkg + ".SmallPointerful");
  const uint64_t s_big = w.stack_of(kPkg + ".BigPointerful");
  const uint64_t s_map = w.stack_of(kPkg + ".GrowStringMap");
  AllocBuildInput in;
  in.aggs = {{s_noscan, 0x10, 64, 640, 640 * 64},
             {s_small, 0x20, 32, 2560, 2560 * 32},
             {s_big, 0x30, 896, 320, 320 * 896},
             {s_map, 0x20, 32, 100, 3200},
             {s_map, 0, 16, 50, 800},  // no type: a string key's bytes
             {s_map, 0, 16, 0, 0}};    // nothing: left out
  AllocBuildOptions o = options(AllocSampler::Profilealloc, 1);
  build_alloc_report(w.report, in, o);
  const AllocReport& r = w.report;
  CHECK(r.sampler == AllocSampler::Profilealloc);
  CHECK(r.total_samples == 640 + 2560 + 320 + 100 + 50);
  CHECK(r.total_bytes == 640 * 64 + 2560 * 32 + 320 * 896 + 3200 + 800);
  REQUIRE(r.entries.size() == 5);
  CHECK(r.entries[0].stack_id == s_big);
  CHECK(r.entries[0].type == "allocwork.Big");
  CHECK(r.entries[0].slot_size == 896);
  CHECK(r.entries[0].objects == 320);
  CHECK(r.entries[1].stack_id == s_small);
  CHECK(r.entries[2].stack_id == s_noscan);
  CHECK(r.entries[2].type == "[64]uint8");
  CHECK(r.entries[4].type.empty());
  CHECK(r.entries[4].slot_size == 16);

  o.by = AllocGroupBy::Function;
  build_alloc_report(w.report, in, o);
  REQUIRE(r.entries.size() == 4);
  CHECK(r.entries[0].key == kPkg + ".BigPointerful");
  CHECK(r.entries[3].key == kPkg + ".GrowStringMap");
  CHECK(r.entries[3].mixed_types);
  CHECK(r.entries[3].type.empty());
  CHECK(r.entries[3].samples == 150);
  CHECK(r.entries[3].bytes == 4000);
  CHECK(r.entries[3].stack_id == s_map);

  o.by = AllocGroupBy::Package;
  build_alloc_report(w.report, in, o);
  REQUIRE(r.entries.size() == 1);
  CHECK(r.entries[0].key == kPkg);
  CHECK(r.entries[0].bytes == r.total_bytes);
  CHECK(r.entries[0].stack_id == s_big);  // the example: the stack with most bytes

  o.by = AllocGroupBy::Type;
  build_alloc_report(w.report, in, o);
  REQUIRE(r.entries.size() == 4);
  CHECK(r.entries[0].key == "allocwork.Big");
  CHECK(r.entries[1].key == "allocwork.Small");
  CHECK(r.entries[1].samples == 2660);
  CHECK(r.entries[1].stack_id == s_small);
  CHECK(r.entries[3].key == "(no type)");
}

TEST_CASE("build_alloc_report: refill samples stand for whole spans", "[allocreport]") {
  World w = world();
  const uint64_t s = w.stack_of(kPkg + ".BigPointerful");
  AllocBuildOptions o = options(AllocSampler::Refill, 0);
  // Span class 2*c (+1 noscan): class 5 here has 896-byte slots, 9 per span.
  o.class_slot_size = [](uint32_t spc) -> uint64_t { return spc >> 1 == 5 ? 896 : 0; };
  o.class_span_objects = [](uint32_t spc) -> uint64_t { return spc >> 1 == 5 ? 9 : 0; };
  AllocBuildInput in;
  in.aggs = {{s, 0x30, 10, 7, 0}};
  // Large objects never reach an mcache: they join the hotspots as counted.
  RawLargeAgg l;
  l.stack_id = w.stack_of(kPkg + ".LargeNoscan");
  l.count = 2;
  l.bytes = 2 * 65536;
  in.large.push_back(l);
  build_alloc_report(w.report, in, o);
  REQUIRE(w.report.entries.size() == 2);
  CHECK(w.report.entries[0].stack_id == l.stack_id);
  CHECK(w.report.entries[0].bytes == 2 * 65536);
  CHECK(w.report.entries[0].objects == 2);
  CHECK(w.report.total_bytes == 2 * 65536 + 63 * 896);
  w.report.entries.erase(w.report.entries.begin());
  CHECK(w.report.entries[0].objects == 63);
  CHECK(w.report.entries[0].bytes == 63 * 896);
  CHECK(w.report.entries[0].samples == 7);
  CHECK(w.report.entries[0].slot_size == 896);
}

TEST_CASE("build_alloc_report: large objects, maps and GC cycles", "[allocreport]") {
  World w = world();
  const uint64_t s_large = w.stack_of(kPkg + ".LargeNoscan");
  const uint64_t s_map = w.stack_of(kPkg + ".GrowInt64Map");
  const uint64_t s_big = w.stack_of(kPkg + ".BigPointerful");
  AllocBuildInput in;
  RawLargeAgg l;
  l.stack_id = s_large;
  l.type = 0x99;  // not a known type: no name
  l.noscan = true;
  l.count = 3;
  l.bytes = 3 * 65536;
  l.max_bytes = 65536;
  l.max_goid = 42;
  l.hist[16] = 3;
  in.large.push_back(l);
  in.maps = {{s_map, 0x40, 0, 9, 1664}, {s_map, 0x40, 0, 9, 1664}, {s_map, 0x40, 3, 2, 1700}};

  using K = GcEventKind;
  // Cycle 1 (heap): 1.22+-style starts carrying when stopping began.
  in.gc_events.push_back(ev(K::Start, 100, 0));
  in.gc_events.push_back(ev(K::StwStop, 110, 2));
  RawGcEvent c1 = ev(K::Cycle, 115);
  c1.aggs_at = {{s_big, 0x30, 896, 10, 8960}};
  in.gc_events.push_back(c1);
  in.gc_events.push_back(ev(K::StwStart, 130, 2, 108));
  in.gc_events.push_back(ev(K::StwStop, 500, 1));
  RawGcEvent end1 = ev(K::StwStart, 540, 1, 0);  // ≤1.21: no start time, paired with the stop
  end1.heap_live = 5 << 20;
  end1.heap_marked = 3 << 20;
  end1.heap_goal = 6 << 20;
  in.gc_events.push_back(end1);
  // A stop for something else (ReadMemStats) between cycles.
  in.gc_events.push_back(ev(K::StwStop, 700, 7));
  in.gc_events.push_back(ev(K::StwStart, 705, 7));
  // Cycle 2 (forced; gcStart ran twice), pre-1.21 reasons (unknown).
  in.gc_events.push_back(ev(K::Start, 900, 2));
  in.gc_events.push_back(ev(K::Start, 901, 2));
  in.gc_events.push_back(ev(K::StwStop, 910, kStwReasonUnknown));
  RawGcEvent c2 = ev(K::Cycle, 915);
  c2.aggs_at = {{s_big, 0x30, 896, 30, 26880}, {s_map, 0x40, 208, 4, 832}};
  in.gc_events.push_back(c2);
  in.gc_events.push_back(ev(K::StwStart, 925, kStwReasonUnknown));
  in.gc_events.push_back(ev(K::StwStart, 990, 1));  // its stop was lost: counted, not invented

  AllocBuildOptions o = options(AllocSampler::Profilealloc, 1);
  build_alloc_report(w.report, in, o);
  const AllocReport& r = w.report;

  REQUIRE(r.large.size() == 1);
  CHECK(r.large_count == 3);
  CHECK(r.large_bytes == 3 * 65536);
  CHECK(r.large[0].type.empty());
  CHECK(r.large[0].noscan);
  CHECK(r.large[0].max_goid == 42);
  CHECK(r.large[0].hist.total() == 3);

  REQUIRE(r.maps.size() == 1);
  CHECK(r.maps[0].map_type == "map[int64]int");
  CHECK(r.maps[0].growths == 20);
  CHECK(r.maps[0].max_len == 1700);

  REQUIRE(r.gc.size() == 2);
  CHECK(r.gc[0].trigger == "heap");
  CHECK(r.gc[0].t_ns == 115);
  REQUIRE(r.gc[0].pauses.size() == 3);
  CHECK(r.gc[0].pauses[0].reason == "GC sweep termination");
  CHECK(r.gc[0].pauses[0].ns == 130 - 108);
  CHECK(r.gc[0].pauses[1].reason == "GC mark termination");
  CHECK(r.gc[0].pauses[1].ns == 40);
  CHECK(r.gc[0].pauses[2].reason == "other");
  CHECK(r.gc[0].pauses[2].ns == 5);
  CHECK(r.gc[0].heap_live == (5u << 20));
  CHECK(r.gc[0].heap_goal == (6u << 20));
  REQUIRE(r.gc[0].drivers.size() == 1);
  CHECK(r.gc[0].drivers[0].bytes == 8960);
  CHECK(r.gc[1].trigger == "forced");
  REQUIRE(r.gc[1].pauses.size() == 1);
  CHECK(r.gc[1].pauses[0].reason == "unknown");
  CHECK(r.gc[1].pauses[0].ns == 15);
  CHECK(!r.gc[1].heap_live);
  CHECK(r.unpaired_pauses == 1);
  // Between the cycles: 20 more Big objects and the map's 4 groups.
  REQUIRE(r.gc[1].drivers.size() == 2);
  CHECK(r.gc[1].drivers[0].stack_id == s_big);
  CHECK(r.gc[1].drivers[0].bytes == 26880 - 8960);
  CHECK(r.gc[1].drivers[0].type == "allocwork.Big");
  CHECK(r.gc[1].drivers[1].bytes == 832);
}

TEST_CASE("build_alloc_report: map writes by stack, function, package and map type", "[allocreport]") {
  World w = world();
  const uint64_t s_int = w.stack_of(kPkg + ".GrowInt64Map");
  const uint64_t s_str = w.stack_of(kPkg + ".GrowStringMap");
  const uint64_t s_w = w.stack_of(kPkg + ".writeMaps");
  AllocBuildInput in;
  // 0x40 and 0x41: two type descriptors with the same name (as two modules
  // could have) count as one map type; a zero count is left out.
  in.map_writes = {{s_int, 0x40, 2000, 1999}, {s_w, 0x40, 7, 7}, {s_w, 0x41, 3, 9},
                   {s_str, 0x50, 500, 499},   {s_w, 0x50, 5, 5}, {s_w, 0x60, 0, 0}};
  AllocBuildOptions o = options(AllocSampler::Profilealloc, 1);
  auto base = o.type_name;
  o.type_name = [base](uint64_t t) -> std::string {
    return t == 0x41 ? "map[int64]int" : t == 0x50 ? "map[string]*allocwork.Small" : base(t);
  };
  build_alloc_report(w.report, in, o);
  const AllocReport& r = w.report;
  CHECK(r.total_map_writes == 2000 + 7 + 3 + 500 + 5);
  REQUIRE(r.map_writes.size() == 4);
  CHECK(r.map_writes[0].stack_id == s_int);
  CHECK(r.map_writes[0].writes == 2000);
  CHECK(r.map_writes[0].max_len == 1999);
  CHECK(r.map_writes[0].map_type == "map[int64]int");
  CHECK(r.map_writes[1].stack_id == s_str);
  CHECK(r.map_writes[2].stack_id == s_w);
  CHECK(r.map_writes[2].map_type == "map[int64]int");
  CHECK(r.map_writes[2].writes == 10);
  CHECK(r.map_writes[2].max_len == 9);
  CHECK(r.map_writes[3].writes == 5);
  CHECK(r.map_writes[3].map_type == "map[string]*allocwork.Small");
  for (const auto& e : r.map_writes) CHECK(e.key.empty());

  o.by = AllocGroupBy::Function;
  build_alloc_report(w.report, in, o);
  REQUIRE(r.map_writes.size() == 4);
  CHECK(r.map_writes[2].key == kPkg + ".writeMaps");
  CHECK(r.map_writes[2].writes == 10);

  o.by = AllocGroupBy::Package;
  build_alloc_report(w.report, in, o);
  REQUIRE(r.map_writes.size() == 2);  // one package, two map types
  CHECK(r.map_writes[0].key == kPkg);
  CHECK(r.map_writes[0].map_type == "map[int64]int");
  CHECK(r.map_writes[0].writes == 2010);
  CHECK(r.map_writes[0].stack_id == s_int);  // the example: the stack with most writes
  CHECK(r.map_writes[1].writes == 505);
  CHECK(r.map_writes[1].stack_id == s_str);

  o.by = AllocGroupBy::Type;
  build_alloc_report(w.report, in, o);
  REQUIRE(r.map_writes.size() == 2);
  CHECK(r.map_writes[0].key.empty());
  CHECK(r.map_writes[0].writes == 2010);
  CHECK(r.map_writes[0].max_len == 1999);
  CHECK(r.map_writes[1].map_type == "map[string]*allocwork.Small");
  CHECK(r.total_map_writes == 2515);
}

TEST_CASE("a slice's backing array is named []T, a new(T) is T", "[allocreport]") {
  auto frames = [](std::initializer_list<const char*> names) {
    std::vector<Frame> out;
    for (const char* n : names) {
      Frame f;
      f.function = n;
      out.push_back(f);
    }
    return out;
  };
  CHECK(makes_slice(frames({"runtime.mallocgc", "runtime.makeslice", "main.f"})));
  CHECK(makes_slice(frames({"runtime.profilealloc", "runtime.mallocgc", "runtime.growslice", "main.f"})));
  CHECK(
      makes_slice(frames({"runtime.mallocgcLarge", "runtime.mallocgc", "runtime.makeslicecopy", "main.f"})));
  CHECK_FALSE(makes_slice(frames({"runtime.mallocgc", "runtime.newobject", "main.f"})));
  // Only the runtime frames above the allocating code count.
  CHECK_FALSE(makes_slice(frames({"runtime.mallocgc", "runtime.newobject", "main.f", "runtime.growslice"})));
  CHECK_FALSE(makes_slice({}));
}

// The runtime ends a GC pause at the `now` it hands finishGCTransition: at
// mark termination before the world restarts, at sweep termination after
// startTheWorldWithSema has restarted the Ps (its entry is early there: the
// pauses read 0.04 ms against gctrace's 6.9 ms on a real server).
TEST_CASE("GC pauses end when the runtime says, and cycles carry the runtime's number", "[allocreport]") {
  World w = world();
  AllocBuildInput in;
  using K = GcEventKind;
  in.gc_events.push_back(ev(K::Start, 100, 0));
  in.gc_events.push_back(ev(K::StwStop, 110, 2));
  in.gc_events.push_back(ev(K::Cycle, 115, 0, 7));       // gctrace's "gc 7"
  in.gc_events.push_back(ev(K::StwStart, 130, 2, 108));  // entry: 22 after stopping began
  in.gc_events.push_back(ev(K::PauseEnd, 161, 0, 160));  // the runtime's end: 52
  in.gc_events.push_back(ev(K::StwStop, 500, 1));
  in.gc_events.push_back(ev(K::PauseEnd, 521, 0, 520));  // inside the pause
  in.gc_events.push_back(ev(K::StwStart, 540, 1, 498));  // 1.22+: when stopping began
  in.gc_events.push_back(ev(K::StwStop, 700, 7));        // ReadMemStats: no PauseEnd
  in.gc_events.push_back(ev(K::StwStart, 705, 7));
  in.gc_events.push_back(ev(K::PauseEnd, 800, 0, 50));  // not after its pause began: ignored
  in.gc_events.push_back(ev(K::Start, 900, 2));
  in.gc_events.push_back(ev(K::StwStop, 910, kStwReasonUnknown));
  in.gc_events.push_back(ev(K::Cycle, 915));                        // number unknown
  in.gc_events.push_back(ev(K::StwStart, 925, kStwReasonUnknown));  // ≤1.21: from the stop
  in.gc_events.push_back(ev(K::PauseEnd, 931, 0, 930));
  build_alloc_report(w.report, in, options(AllocSampler::Profilealloc, 1));
  const AllocReport& r = w.report;
  REQUIRE(r.gc.size() == 2);
  CHECK(r.gc[0].number == 7);
  REQUIRE(r.gc[0].pauses.size() == 3);
  CHECK(r.gc[0].pauses[0].ns == 160 - 108);
  CHECK(r.gc[0].pauses[1].ns == 520 - 498);
  CHECK(r.gc[0].pauses[2].ns == 5);
  CHECK(r.gc[1].number == 0);
  REQUIRE(r.gc[1].pauses.size() == 1);
  CHECK(r.gc[1].pauses[0].ns == 930 - 910);
  CHECK(r.unpaired_pauses == 0);
  std::ostringstream js;
  write_alloc_json(w.report, js, {});
  Json j = parse_json(js.str());
  CHECK(j["gc"][0]["cycle"].u == 7);
  CHECK(j["gc"][1]["cycle"].type == Json::Type::Null);
}

// Hundreds of cycles in a busy server's trace: a summary line, then the ten
// that paused longest, in cycle order; --gc-cycles lists every one.
TEST_CASE("the GC section sums up the cycles and lists the longest pauses", "[allocreport]") {
  World w = world();
  AllocBuildInput in;
  using K = GcEventKind;
  for (uint64_t n = 1; n <= 15; ++n) {  // cycle n pauses n µs (gc 11 pauses 100 µs)
    const uint64_t t = n * 1'000'000, ns = n == 11 ? 100'000 : n * 1000;
    in.gc_events.push_back(ev(K::Start, t, n == 3 ? 2 : 0));
    in.gc_events.push_back(ev(K::StwStop, t + 10, 2));
    in.gc_events.push_back(ev(K::Cycle, t + 20, 0, 100 + n));
    in.gc_events.push_back(ev(K::StwStart, t + 10 + ns, 2, t + 10));
  }
  build_alloc_report(w.report, in, options(AllocSampler::Profilealloc, 1));
  std::ostringstream text;
  write_alloc_text(w.report, text, {});
  const std::string t = text.str();
  INFO(t);
  CHECK(
      t.find("GC cycles during the trace: 15 (gc 101 to 115); triggers: forced 1, heap 14; stopped the world "
             "209.0µs in all, longest 100.0µs (gc 111)") != std::string::npos);
  CHECK(t.find("  … 5 more cycles, with shorter pauses (--gc-cycles shows all)") != std::string::npos);
  for (int n = 101; n <= 115; ++n)
    CHECK((t.find(fmt::format("gc {:<5} ", n)) != std::string::npos) == (n >= 106));
  AllocWriterOptions all;
  all.gc_all = true;
  std::ostringstream every;
  write_alloc_text(w.report, every, all);
  CHECK(every.str().find("gc 101 ") != std::string::npos);
  CHECK(every.str().find("more cycles") == std::string::npos);
}

TEST_CASE("alloc rows that differ only in runtime frames no output shows are one row", "[allocreport]") {
  // The sampler's probe reached through two paths of the runtime (here: two
  // PCs of profilealloc) under the same allocating code: one stack to a
  // person, one row, the stack with the most bytes kept.
  World w = world();
  const uint64_t a = w.stack_of(kPkg + ".SmallPointerful");
  auto pa = w.bin->pclntab().function_by_name("runtime.profilealloc");
  auto f = w.bin->pclntab().function_by_name(kPkg + ".SmallPointerful");
  REQUIRE(pa);
  REQUIRE(f);
  const uint64_t b = a + 1;
  w.report.stacks->add(b, {pa->entry + 8, f->entry + 1});
  const uint64_t other = w.stack_of(kPkg + ".SmallNoscan");
  AllocBuildInput in;
  in.aggs = {{a, 0x20, 32, 100, 3200}, {b, 0x20, 32, 300, 9600}, {other, 0x10, 64, 10, 640}};
  build_alloc_report(w.report, in, options(AllocSampler::Profilealloc, 1));
  const AllocReport& r = w.report;
  REQUIRE(r.entries.size() == 2);
  CHECK(r.entries[0].stack_id == b);
  CHECK(r.entries[0].samples == 400);
  CHECK(r.entries[0].bytes == 12800);
  CHECK(r.entries[1].stack_id == other);
  // A different type at the same code stays apart.
  in.aggs.push_back({a, 0x30, 896, 1, 896});
  build_alloc_report(w.report, in, options(AllocSampler::Profilealloc, 1));
  CHECK(r.entries.size() == 3);
}
