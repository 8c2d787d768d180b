// How `gotrace block` turns what the kernel collected into its report:
// entries per (stack, reason) with their wakers, --min, the longest waits,
// and the bounded list of long waits that counts what it lets go. No BPF.
#include "commands/block/block_report.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>

#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"

using namespace gotrace;
namespace test = gotrace::test;

namespace {

RawBlockAgg agg(uint64_t stack, unsigned reason, uint64_t count, uint64_t total_ms, uint64_t max_ms) {
  RawBlockAgg a;
  a.stack_id = stack;
  a.reason = reason;
  a.count = count;
  a.total_ns = total_ms * 1'000'000;
  a.max_ns = max_ms * 1'000'000;
  a.max_goid = stack * 10;
  a.hist[20] = count;
  return a;
}

LongWait wait_of(uint64_t goid, uint64_t ms) {
  LongWait w;
  w.goid = goid;
  w.duration_ns = ms * 1'000'000;
  w.reason = 7;
  return w;
}

}  // namespace

TEST_CASE("build_block_report orders entries, attaches wakers, applies --min", "[block]") {
  BlockBuildInput in;
  in.aggs = {agg(1, 7, 10, 100, 20), agg(2, 7, 5, 900, 400), agg(3, 9, 1, 1, 1), agg(4, 7, 0, 0, 0)};
  in.wakers = {{2, 7, WakerKind::Goroutine, 50, 1, 100'000'000},
               {2, 7, WakerKind::Netpoll, 0, 4, 800'000'000},
               {1, 7, WakerKind::Runtime, 60, 10, 100'000'000},
               {2, 9, WakerKind::Goroutine, 70, 3, 1}};  // another reason: not stack 2's
  in.longest = {wait_of(1, 5), wait_of(2, 400), wait_of(3, 20)};
  BlockBuildOptions o;
  o.min_ns = 2'000'000;  // stack 3 (max 1 ms) is left out
  o.reason_name = [](unsigned r) { return r == 7 ? std::string("chan receive") : std::string("select"); };
  BlockReport r;
  build_block_report(r, in, o);

  REQUIRE(r.entries.size() == 2);     // no empty aggregate, nothing under --min
  CHECK(r.entries[0].stack_id == 2);  // by total time
  CHECK(r.entries[0].reason_name == "chan receive");
  CHECK(r.entries[0].mean() == 180'000'000);
  REQUIRE(r.entries[0].wakers.size() == 2);
  CHECK(r.entries[0].wakers[0].kind == WakerKind::Netpoll);  // the most frequent first
  CHECK(r.entries[0].wakers[1].stack_id == 50);
  CHECK(r.entries[1].stack_id == 1);
  REQUIRE(r.entries[1].wakers.size() == 1);
  CHECK(r.entries[1].wakers[0].kind == WakerKind::Runtime);
  CHECK(r.entries[1].hist.total() == 10);

  REQUIRE(r.longest.size() == 3);
  CHECK(r.longest[0].goid == 2);
  CHECK(r.longest[2].goid == 1);
  CHECK(r.longest[0].reason_name == "chan receive");
}

TEST_CASE("LongestWaits keeps the longest and counts what it lets go", "[block]") {
  LongestWaits keep(3);
  for (uint64_t ms : {5, 1, 9, 3, 7, 2, 8}) keep.add(wait_of(ms, ms));
  CHECK(keep.not_kept() == 4);
  auto kept = keep.take();
  std::vector<uint64_t> ids;
  for (const auto& w : kept) ids.push_back(w.goid);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<uint64_t>{7, 8, 9});

  LongestWaits none(0);
  none.add(wait_of(1, 1));
  CHECK(none.not_kept() == 1);
}

TEST_CASE("block entries whose stacks read the same are one, with their wakers", "[block]") {
  // The probes and the snapshot of waits under way at the start can record
  // one wait place under two sets of PCs (here: two PCs inside gopark, under
  // the frames a report shows): one entry, counts and wakers added.
  auto bin = GoBinary::open(test::fixtures_of("block", "amd64").back().path);
  REQUIRE(bin);
  const Pclntab& t = (*bin)->pclntab();
  auto gopark = t.function_by_name("runtime.gopark");
  auto recv = t.function_by_name("runtime.chanrecv1");
  auto waiter = t.function_by_name("main.chanRecvWaiter");
  REQUIRE(gopark);
  REQUIRE(recv);
  REQUIRE(waiter);
  BlockReport r;
  r.stacks = std::make_shared<StackTable>(t, 0);
  r.stacks->add(1, {gopark->entry + 1, recv->entry + 16, waiter->entry + 16});
  r.stacks->add(2, {gopark->entry + 9, recv->entry + 16, waiter->entry + 16});
  r.stacks->add(3, {gopark->entry + 1, recv->entry + 16});  // another place: apart
  BlockBuildInput in;
  in.aggs = {agg(1, 7, 10, 100, 20), agg(2, 7, 1, 900, 900), agg(3, 7, 2, 5, 3), agg(2, 9, 1, 1, 1)};
  in.aggs[1].open = 1;
  in.wakers = {{1, 7, WakerKind::Goroutine, 50, 9, 90'000'000},
               {2, 7, WakerKind::Goroutine, 50, 1, 10'000'000}};
  BlockBuildOptions o;
  build_block_report(r, in, o);
  REQUIRE(r.entries.size() == 3);  // stacks 1 and 2 for reason 7; stack 3; stack 2 for reason 9
  const BlockEntry& e = r.entries[0];
  CHECK(e.stack_id == 1);
  CHECK(e.count == 11);
  CHECK(e.open == 1);
  CHECK(e.total_ns == 1000'000'000);
  CHECK(e.max_ns == 900'000'000);
  CHECK(e.max_goid == 20);
  REQUIRE(e.wakers.size() == 1);
  CHECK(e.wakers[0].count == 10);
}
