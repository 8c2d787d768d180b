// How `gotrace block --sample` turns goroutine snapshots into a block
// profile: goroutine-time per (reason, stack) weighted by the real interval
// between scans, waits counted once while (goid, SP, PC, waitsince) stays the
// same, the reason filter, and the stats of the scans. No process involved.
#include "commands/block/block_sampler.h"

#include <catch2/catch.hpp>

using namespace gotrace;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr unsigned kChanRecv = 14, kSelect = 9, kIdle = 40;

Goroutine parked(uint64_t goid, unsigned reason, uint64_t sp, std::vector<uint64_t> stack,
                 int64_t waitsince = 0) {
  Goroutine g;
  g.goid = goid;
  g.status = GStatus::Waiting;
  g.wait_reason = static_cast<uint8_t>(reason);
  g.waitsince = waitsince;
  g.stack_origin = StackOrigin::Sched;
  g.saved_sp = sp;
  g.saved_pc = stack.empty() ? 0 : stack[0] + 1;
  g.stack = std::move(stack);
  return g;
}

Goroutine running(uint64_t goid) {
  Goroutine g;
  g.goid = goid;
  g.status = GStatus::Running;
  return g;
}

GoroutineSnapshot scan_at(int64_t t_ms, std::vector<Goroutine> gs, double wall_s = 0.001) {
  GoroutineSnapshot s;
  s.monotonic_ns = t_ms * static_cast<int64_t>(kMs);
  s.goroutines = std::move(gs);
  s.stats.wall_seconds = wall_s;
  return s;
}

const RawBlockAgg* find(const BlockBuildInput& in, uint64_t stack_id, unsigned reason) {
  for (const auto& a : in.aggs)
    if (a.stack_id == stack_id && a.reason == reason) return &a;
  return nullptr;
}

}  // namespace

TEST_CASE("block --sample weighs each parked goroutine by the real interval between scans", "[sample]") {
  const std::vector<uint64_t> recv{0x1000, 0x2000, 0x3000};
  const std::vector<uint64_t> sel{0x1000, 0x4000, 0x5000};
  BlockSampler s([](unsigned r) { return r != kIdle; }, 20 * kMs);
  // goid 1: parked in one wait through all scans; goid 2: parked, running,
  // parked again at the same place; goid 3: parked at another site; goid 4:
  // a reason the filter leaves out.
  s.add_scan(scan_at(100, {parked(1, kChanRecv, 0xc000, recv), parked(2, kChanRecv, 0xd000, recv),
                           parked(4, kIdle, 0xe000, recv)}));
  s.add_scan(scan_at(110, {parked(1, kChanRecv, 0xc000, recv), running(2), parked(3, kSelect, 0xf000, sel)}));
  s.add_scan(scan_at(145, {parked(1, kChanRecv, 0xc000, recv), parked(2, kChanRecv, 0xd000, recv),
                           parked(3, kSelect, 0xf000, sel)}));

  const BlockSampleStats& st = s.stats();
  CHECK(st.scans == 3);
  CHECK(st.parked_samples == 7);
  CHECK(st.filtered_samples == 1);
  CHECK(st.late_scans == 1);  // 35 ms after the one before, period 20 ms
  CHECK(st.mean_scan_ms() == Approx(1.0));

  REQUIRE(s.stacks().size() == 2);  // each distinct stack once
  CHECK(s.stacks()[0] == recv);
  CHECK(s.stacks()[1] == sel);
  BlockBuildInput in = s.build_input();
  REQUIRE(in.aggs.size() == 2);
  const RawBlockAgg* r = find(in, 1, kChanRecv);
  REQUIRE(r);
  // goid 1: 20 (the first scan stands for one period) + 10 + 35; goid 2: 20 + 35.
  CHECK(r->total_ns == 120 * kMs);
  CHECK(r->count == 3);  // goid 1's one wait, goid 2's two
  const RawBlockAgg* q = find(in, 2, kSelect);
  REQUIRE(q);
  CHECK(q->total_ns == 45 * kMs);  // 10 + 35
  CHECK(q->count == 1);
  CHECK(q->max_goid == 3);
  CHECK(q->max_ns == 0);  // not known when sampling
  const std::array<uint64_t, kHistBuckets> empty{};
  CHECK(q->hist == empty);

  BlockReport rep;
  BlockBuildOptions bo;
  build_block_report(rep, std::move(in), bo);
  REQUIRE(rep.entries.size() == 2);
  CHECK(rep.entries[0].stack_id == 1);  // ranked by goroutine-time
  CHECK(rep.entries[0].wakers.empty());
}

TEST_CASE("block --sample counts a new wait when the place or the GC's stamp changes", "[sample]") {
  const std::vector<uint64_t> a{0x1000, 0x2000};
  const std::vector<uint64_t> b{0x1100, 0x2000};
  BlockSampler s(nullptr, 10 * kMs);
  s.add_scan(scan_at(0, {parked(7, kChanRecv, 0xc000, a)}));
  s.add_scan(scan_at(10, {parked(7, kChanRecv, 0xc000, a)}));          // same wait
  s.add_scan(scan_at(20, {parked(7, kChanRecv, 0xc000, a, 123456)}));  // the GC stamped a new wait
  s.add_scan(scan_at(30, {parked(7, kChanRecv, 0xc000, a, 123456)}));  // same
  s.add_scan(scan_at(40, {parked(7, kChanRecv, 0xb000, b)}));          // parked elsewhere
  s.add_scan(scan_at(50, {parked(7, kSelect, 0xb000, b)}));            // another reason, same frame
  s.add_scan(scan_at(60, {}));                                         // gone
  s.add_scan(scan_at(70, {parked(7, kSelect, 0xb000, b)}));            // back: a new wait
  BlockBuildInput in = s.build_input();
  const RawBlockAgg* first = find(in, 1, kChanRecv);
  REQUIRE(first);
  CHECK(first->count == 2);
  CHECK(first->total_ns == 40 * kMs);
  const RawBlockAgg* second = find(in, 2, kChanRecv);
  REQUIRE(second);
  CHECK(second->count == 1);
  const RawBlockAgg* third = find(in, 2, kSelect);
  REQUIRE(third);
  CHECK(third->count == 2);
  CHECK(third->total_ns == 20 * kMs);
  CHECK(s.stats().late_scans == 0);
}

TEST_CASE("block --sample counts what the reader left out and parked goroutines without a stack",
          "[sample]") {
  BlockSampler s(nullptr, 10 * kMs);
  GoroutineSnapshot snap = scan_at(0, {parked(1, kChanRecv, 0, {})});
  snap.goroutines[0].stack_origin = StackOrigin::None;
  snap.stats.inconsistent = 2;
  snap.stats.unreadable = 1;
  Goroutine leaked = parked(2, kChanRecv, 0xc000, {0x1000});
  leaked.status = GStatus::Leaked;  // Go 1.26: parked for good, still blocked time
  snap.goroutines.push_back(leaked);
  Goroutine runnable = parked(3, kChanRecv, 0xd000, {0x1000});
  runnable.status = GStatus::Runnable;  // woken, not blocked
  snap.goroutines.push_back(runnable);
  s.add_scan(snap);
  s.add_scan(scan_at(10, {}, 0.003));
  CHECK(s.stats().inconsistent == 2);
  CHECK(s.stats().unreadable == 1);
  CHECK(s.stats().no_stack == 1);
  CHECK(s.stats().parked_samples == 2);
  CHECK(s.stats().scan_seconds_max == Approx(0.003));
  CHECK(s.build_input().aggs.size() == 2);
}
