// Waits of the runtime's own machinery, told apart by their runtime frames:
// the scavenger's sleep is hidden like the other background waits, a
// goroutine stuck behind the GC is labelled as such instead of reading like
// lock contention, and a stack-switch trampoline never names a waker. The
// stacks are real: return addresses inside the named functions of a
// fixture, symbolized through its pclntab.
#include <catch2/catch.hpp>
#include <sstream>

#include "commands/block/block_report.h"
#include "commands/block/block_writer.h"
#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"
#include "support/json.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

struct Stacks {
  std::unique_ptr<GoBinary> bin;
  std::shared_ptr<StackTable> table;
  uint64_t next = 1;

  explicit Stacks(const Fixture& f) {
    auto b = GoBinary::open(f.path);
    REQUIRE(b);
    bin = std::move(*b);
    table = std::make_shared<StackTable>(bin->pclntab(), 0);
  }
  // A stack of the named functions, innermost first (the first is the probed
  // PC, the rest return addresses one byte into each function's body).
  uint64_t add(std::initializer_list<const char*> functions) {
    std::vector<uint64_t> pcs;
    for (const char* name : functions) {
      auto fn = bin->pclntab().function_by_name(name);
      INFO(name);
      REQUIRE(fn);
      pcs.push_back(pcs.empty() ? fn->entry : fn->entry + 1);
    }
    table->add(next, pcs);
    return next++;
  }
};

BlockEntry entry(uint64_t stack, std::string reason, uint64_t total_ms) {
  BlockEntry e;
  e.stack_id = stack;
  e.reason_name = std::move(reason);
  e.count = 3;
  e.total_ns = total_ms * 1'000'000;
  e.max_ns = e.total_ns / 2;
  e.hist.buckets[24] = 3;
  return e;
}

}  // namespace

TEST_CASE("runtime-internal waits are hidden or labelled, never read as user contention", "[runtime-waits]") {
  for (const auto& f : fixtures_of("lock", "amd64")) {
    if (f.variant != "default") continue;
    INFO(f.label());
    Stacks s(f);
    const uint64_t scavenger =
        s.add({"runtime.gopark", "runtime.(*scavengerState).sleep", "runtime.bgscavenge", "runtime.goexit"});
    const uint64_t gc_start = s.add({"runtime.gopark", "runtime.semacquire1", "runtime.gcStart",
                                     "runtime.mallocgc", "main.main", "runtime.main", "runtime.goexit"});
    const uint64_t user =
        s.add({"runtime.gopark", "runtime.chanrecv", "main.main", "runtime.main", "runtime.goexit"});
    const uint64_t trampoline_waker =
        s.add({"runtime.ready", "runtime.systemstack", "runtime.systemstack_switch"});

    BlockReport r;
    r.stacks = s.table;
    r.entries.push_back(entry(scavenger, "sleep", 900));
    r.entries.push_back(entry(gc_start, "semacquire", 500));
    r.entries.push_back(entry(user, "chan receive", 100));
    r.entries[2].wakers.push_back({WakerKind::Goroutine, trampoline_waker, 3, r.entries[2].total_ns});
    LongWait lw;
    lw.goid = 5;
    lw.duration_ns = 450'000'000;
    lw.reason_name = "sleep";
    lw.stack_id = scavenger;
    r.longest.push_back(lw);

    std::ostringstream text;
    write_block_text(r, text, {});
    const std::string t = text.str();
    INFO(t);
    // The scavenger's sleep is a background wait: not an entry, not a longest wait, but counted.
    CHECK(t.find("bgscavenge") == std::string::npos);
    CHECK(t.find("\n#1  semacquire") != std::string::npos);
    CHECK(t.find("runtime background") != std::string::npos);
    // The GC semaphore says what it is.
    CHECK(t.find("waiting for a GC phase") != std::string::npos);
    // The waker on g0 is named by what it did, not by the trampoline.
    CHECK(t.find("systemstack_switch") == std::string::npos);

    std::ostringstream json;
    write_block_json(r, json, {});
    Json j = parse_json(json.str());
    REQUIRE(j["entries"].size() == 2);
    CHECK(j["entries"][0]["runtime"].str == "gc-phase");
    CHECK(j["entries"][1]["runtime"].type == Json::Type::Null);
    CHECK(j["longest"].size() == 0);
    CHECK(j["counters"]["runtime_background_hidden"].u == 3);
    // The text's "Top N of M blocking sites … (T in all)", in JSON too,
    // over every site whatever --top lists.
    CHECK(t.find("Top 2 of 2 blocking sites by total time blocked (600.0ms in all)") != std::string::npos);
    CHECK(j["sites"].u == 2);
    CHECK(j["total_ns"].u == 600'000'000);
    std::ostringstream one;
    BlockWriterOptions top1;
    top1.top = 1;
    write_block_json(r, one, top1);
    Json j1 = parse_json(one.str());
    CHECK(j1["entries"].size() == 1);
    CHECK(j1["sites"].u == 2);
    CHECK(j1["total_ns"].u == 600'000'000);
  }
}
