// The allocator/GC offsets (DWARF and table agree on every fixture build
// with DWARF) and the live reads of the GC state from the alloc fixtures:
// the sampling rate each flavour runs with, and N forced GCs seen as N more
// cycles with N pauses. Reading a child's memory needs no root.
#include "gotrace/snapshot/gc_state.h"

#include <catch2/catch.hpp>
#include <csignal>

#include "gotrace/gobin/go_binary.h"
#include "gotrace/gobin/size_classes.h"
#include "gotrace/target/process.h"
#include "support/fixtures.h"
#include "support/process.h"

using namespace gotrace;
using gotrace::test::Fixture;

TEST_CASE("GC offsets: DWARF and the version table agree on every build with DWARF", "[gcstate]") {
  size_t compared = 0;
  for (const auto& f : test::fixtures()) {
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    if (!(*img)->has_dwarf()) continue;
    INFO(f.label());
    auto dwarf = gc_offsets_from_dwarf(**img);
    INFO((dwarf.ok() ? "" : dwarf.error().message));
    REQUIRE(dwarf.ok());
    auto v = GoVersion::parse(f.version);
    REQUIRE(v);
    auto table = gc_offsets_from_table(*v, (*img)->arch());
    REQUIRE(table.ok());
    for (size_t i = 0; i < kGcFieldCount; ++i) {
      INFO(gc_field_name(static_cast<GcField>(i)));
      CHECK(dwarf->fields[i].known());
      CHECK(dwarf->fields[i].source == OffsetSource::Dwarf);
      CHECK(dwarf->fields[i].value == table->fields[i].value);
    }
    ++compared;
  }
  CHECK(compared > 0);
}

TEST_CASE("GC state read live: sampling rate per flavour, forced GCs and their pauses", "[gcstate]") {
  for (const char* program : {"alloc", "allocprof"}) {
    for (const auto& f : test::fixtures_of(program, "amd64")) {
      INFO(f.label());
      auto bin = GoBinary::open(f.path);
      REQUIRE(bin.ok());
      GcStatePlan plan = plan_gc_state(**bin);
      for (const auto& n : plan.notes) WARN(f.label() << ": " << n);
      if (f.variant == "stripped" && !plan.gc_controller)
        continue;  // no stripped-binary fallback yet: noted above
      REQUIRE(plan.mem_profile_rate);
      REQUIRE(plan.gc_controller);
      REQUIRE(plan.memstats);
      REQUIRE(plan.profiling_disabled_in_file);
      CHECK(*plan.profiling_disabled_in_file == (std::string(program) == "alloc"));

      const int gcs = 3;
      test::RunningProgram target(f.path, {"-burst", "2", "-gc", std::to_string(gcs), "-duration", "20s"});
      REQUIRE(target.wait_for_line("ready", 10000));
      auto proc = Process::open(target.pid());
      REQUIRE(proc.ok());
      auto bias = proc->load_bias((*bin)->elf());
      REQUIRE(bias.ok());
      RemoteMemory mem(target.pid());

      GcSnapshot before = read_gc_snapshot(plan, mem, *bias);
      INFO((before.notes.empty() ? "" : before.notes.front()));
      REQUIRE(before.notes.empty());
      // The linker's verdict, as the runtime applied it.
      CHECK(*before.mem_profile_rate == (std::string(program) == "alloc" ? 0 : 1));
      REQUIRE(kill(target.pid(), SIGUSR2) == 0);
      REQUIRE(target.wait_for_line("burst done 1", 10000));
      GcSnapshot after = read_gc_snapshot(plan, mem, *bias);
      REQUIRE(after.notes.empty());

      CHECK(*after.numforcedgc - *before.numforcedgc == gcs);
      CHECK(*after.numgc - *before.numgc >= gcs);
      uint64_t lost = 1;
      auto pauses = after.pauses_since(before, &lost);
      CHECK(lost == 0);
      CHECK(pauses.size() == *after.numgc - *before.numgc);
      uint64_t sum = 0;
      for (auto p : pauses) {
        CHECK(p > 0);
        CHECK(p < 2'000'000'000ull);
        sum += p;
      }
      CHECK(*after.pause_total_ns - *before.pause_total_ns == sum);
      // Two rounds allocate 2 × 147,456 bytes in the known sites alone.
      CHECK(*after.total_alloc - *before.total_alloc >= 2 * 147456);
      CHECK(*after.heap_goal >= (4u << 20));  // GOGC=100's minimum heap goal
      CHECK(*after.heap_live > 0);
      CHECK(*after.heap_marked > 0);
      CHECK(*after.heap_marked < *after.heap_goal);
      CHECK(*after.last_gc_nanotime > *before.last_gc_nanotime);
    }
  }
}

TEST_CASE("size classes: the built-in table is the binary's own in every build with symbols", "[gcstate]") {
  size_t compared = 0;
  for (const auto& f : test::fixtures()) {
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    if (!(*img)->has_symtab()) continue;
    INFO(f.label());
    auto t = size_classes_from_binary(**img);
    INFO((t.ok() ? "" : t.error().message));
    REQUIRE(t.ok());
    CHECK(t->size == builtin_size_classes().size);
    CHECK(t->npages == builtin_size_classes().npages);
    ++compared;
  }
  CHECK(compared > 0);
  const SizeClasses& c = builtin_size_classes();
  CHECK(c.slot_size(31 << 1) == 896);       // allocwork.Big's class (800 B, 808 with the header)
  CHECK(c.span_objects(31 << 1 | 1) == 9);  // 8 KiB / 896
  CHECK(c.span_objects(67 << 1) == 1);      // 32 KiB slots, 4 pages: one per span
  CHECK(c.span_objects(0) == 0);
}
