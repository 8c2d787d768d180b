// How `gotrace lock` turns what the kernel collected into its report: kinds
// refined from the waiter's stack, lock addresses from semaphore addresses,
// entries merged across locks, chains one link deep from the kernel and
// deeper from long-wait events. No BPF involved.
#include "commands/lock/lock_report.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "commands/lock/lock_writer.h"
#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"
#include "support/json.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

std::vector<Frame> frames(std::initializer_list<const char*> names) {
  std::vector<Frame> out;
  for (const char* n : names) out.push_back(Frame{n, "x.go", 1, false, 0});
  return out;
}

}  // namespace

TEST_CASE("lock kinds are refined from the waiter's stack", "[lock]") {
  // Go 1.19: RLock and the writer's wait both come through runtime_SemacquireMutex.
  CHECK(refine_lock_kind(LockKind::Mutex, frames({"sync.runtime_SemacquireMutex", "sync.(*RWMutex).RLock",
                                                  "main.reader"})) == LockKind::RWMutexR);
  CHECK(refine_lock_kind(LockKind::Mutex, frames({"sync.runtime_SemacquireMutex", "sync.(*RWMutex).Lock",
                                                  "main.writer"})) == LockKind::RWMutexW);
  // A writer waiting for another writer on RWMutex's inner Mutex.
  CHECK(refine_lock_kind(LockKind::Mutex,
                         frames({"internal/sync.runtime_SemacquireMutex", "internal/sync.(*Mutex).lockSlow",
                                 "internal/sync.(*Mutex).Lock", "sync.(*Mutex).Lock", "sync.(*RWMutex).Lock",
                                 "main.writer"})) == LockKind::RWMutexW);
  CHECK(refine_lock_kind(LockKind::Mutex,
                         frames({"internal/sync.runtime_SemacquireMutex", "internal/sync.(*Mutex).lockSlow",
                                 "sync.(*Mutex).Lock", "main.get"})) == LockKind::Mutex);
  CHECK(refine_lock_kind(LockKind::WaitGroup, frames({"sync.runtime_Semacquire", "sync.(*WaitGroup).Wait",
                                                      "main.wait"})) == LockKind::WaitGroup);
  // The runtime's own locks stay what their probes say, whatever called them.
  CHECK(refine_lock_kind(LockKind::Runtime,
                         frames({"runtime.futexsleep", "runtime.lock2", "runtime.notifyListWait",
                                 "sync.(*Cond).Wait", "main.f"})) == LockKind::Runtime);
  // Nothing recognisable (stack lost): the entry point's kind stands.
  CHECK(refine_lock_kind(LockKind::Cond, {}) == LockKind::Cond);
  for (size_t i = 0; i < kLockKindCount; ++i) {
    auto k = static_cast<LockKind>(i);
    CHECK(parse_lock_kind(lock_kind_name(k)) == k);
  }
  CHECK_FALSE(parse_lock_kind("spinlock"));
}

TEST_CASE("build_lock_report merges, names, filters and chains", "[lock]") {
  auto fx = fixtures_of("analyze", "amd64");
  REQUIRE(!fx.empty());
  auto bin = GoBinary::open(fx.front().path);
  REQUIRE(bin);
  LockReport r;
  r.stacks =
      std::make_shared<StackTable>((*bin)->pclntab(), 0);  // ids below are unknown: kinds stay as probed

  const uint64_t W = 101, H = 102, H2 = 103, ROOT = 104, CHAIN = 201, CHAIN2 = 202, NOISE = 203;
  const uint64_t MS = 1'000'000;
  LockBuildInput in;
  RawLockAgg a;
  a.kind = LockKind::Mutex;
  a.waiter_stack = W;
  a.releaser_stack = H;
  a.sema_addr = 0x1004;
  a.count = 10;
  a.total_ns = 200 * MS;
  a.max_ns = 30 * MS;
  a.max_goid = 7;
  a.max_releaser_goid = 8;
  a.hist[24] = 10;
  in.aggs.push_back(a);
  a.sema_addr = 0x2004;  // the same code on a second lock
  a.count = 5;
  a.total_ns = 50 * MS;
  a.max_ns = 12 * MS;
  a.hist[24] = 5;
  in.aggs.push_back(a);
  RawLockAgg b = a;  // a WaitGroup wait, filtered out below
  b.kind = LockKind::WaitGroup;
  b.sema_addr = 0x3008;
  in.aggs.push_back(b);
  RawLockAgg c = a;  // too short for --min
  c.releaser_stack = H2;
  c.max_ns = MS / 2;
  in.aggs.push_back(c);

  in.chains.push_back({LockKind::Mutex, W, H, CHAIN, 5, 12, 180 * MS, 8});
  in.chains.push_back({LockKind::Mutex, W, H, NOISE, 6, 1, 1000, 8});  // under 1% of the wait: noise

  // A long wait of goroutine 7 (released by 8), during which 8 waited for
  // another lock (reason 5) that 9 held while asleep (reason 9).
  RawLockEvent e1;
  e1.kind = LockKind::Mutex;
  e1.goid = 7;
  e1.releaser_goid = 8;
  e1.sema_addr = 0x1004;
  e1.t_start_ns = 1000 * MS;
  e1.t_end_ns = 1030 * MS;
  e1.waiter_stack = W;
  e1.releaser_stack = H;
  e1.chain.push_back({995 * MS, 1029 * MS, CHAIN, 5});
  RawLockEvent e2;
  e2.kind = LockKind::Mutex;
  e2.goid = 8;
  e2.releaser_goid = 9;
  e2.sema_addr = 0x5004;
  e2.t_start_ns = 995 * MS;
  e2.t_end_ns = 1028 * MS + MS / 2;  // the release just before the wake that ends 8's park
  e2.waiter_stack = CHAIN;
  e2.releaser_stack = ROOT;
  e2.chain.push_back({990 * MS, 1028 * MS, CHAIN2, 9});
  in.events = {e1, e2};

  LockBuildOptions o;
  o.kinds = {LockKind::Mutex};
  o.min_ns = MS;
  o.reason_name = [](unsigned r) {
    return r == 5 ? std::string("sync.Mutex.Lock") : "r" + std::to_string(r);
  };
  o.is_sync_reason = [](unsigned r) { return r == 5; };
  o.lock_name = [](uint64_t addr) { return addr == 0x1000 ? std::string("main.mu") : std::string(); };
  build_lock_report(r, in, o);

  // (W, H) on two locks; (W, H2) waited less than --min; the WaitGroup is not
  // a wanted kind; e2's (CHAIN, ROOT) has an event but no aggregate.
  REQUIRE(r.entries.size() == 1);
  const LockEntry& e = r.entries[0];
  CHECK(e.kind == LockKind::Mutex);
  CHECK(e.count == 15);
  CHECK(e.total_ns == 250 * MS);
  CHECK(e.max_ns == 30 * MS);
  CHECK(e.max_goid == 7);
  CHECK(e.locks == std::set<uint64_t>{0x1000, 0x2000});
  CHECK(e.hist.total() == 15);
  REQUIRE(e.chain.size() == 2);
  CHECK(e.chain[0].depth == 1);
  CHECK(e.chain[0].reason_name == "sync.Mutex.Lock");
  CHECK(e.chain[0].total_ns == 180 * MS);
  CHECK(e.chain[1].depth == 2);
  CHECK(e.chain[1].stack_id == CHAIN2);
  CHECK(e.chain[1].goid == 9);
  // 9 slept through [990, 1028] ms; 7 waited [1000, 1030]: 28 ms of it.
  CHECK(e.chain[1].total_ns == 28 * MS);

  REQUIRE(r.locks.size() == 2);
  CHECK(r.locks[0].addr == 0x1000);
  CHECK(r.locks[0].name == "main.mu");
  CHECK(r.locks[1].name.empty());

  REQUIRE(r.longest.size() == 2);
  CHECK(r.longest[0].goid == 8);  // 33.5 ms
  CHECK(r.longest[1].goid == 7);
  CHECK(r.longest[1].addr == 0x1000);
  REQUIRE(r.longest[1].chain.size() == 2);

  std::ostringstream text, json;
  write_lock_text(r, text, {});
  write_lock_json(r, json, {});
  CHECK(text.str().find("main.mu (0x1000)") != std::string::npos);
  Json j = parse_json(json.str());
  REQUIRE(j["entries"].size() == 1);
  // Names line up with addresses, "" for a lock without one.
  REQUIRE(j["entries"][0]["lock_addrs"].size() == 2);
  REQUIRE(j["entries"][0]["lock_names"].size() == 2);
  CHECK(j["entries"][0]["lock_names"][0].str == "main.mu");
  CHECK(j["entries"][0]["lock_names"][1].str == "");
}

TEST_CASE("chain links keep their parent, in the model, the text and the JSON", "[lock]") {
  auto fx = fixtures_of("analyze", "amd64");
  REQUIRE(!fx.empty());
  auto bin = GoBinary::open(fx.front().path);
  REQUIRE(bin);
  LockReport r;
  r.stacks = std::make_shared<StackTable>((*bin)->pclntab(), 0);

  // Goroutine 8 holds the lock 7 waits for. Meanwhile 8 waits for another
  // lock (LOCKWAIT, 40 ms in all) that 9 holds while asleep (ASLEEP, 28 ms),
  // and 8 also sleeps itself (NAP, 11 ms). Sorting all depth-1 links before
  // the depth-2 one put ASLEEP right after NAP, i.e. under the wrong parent.
  const uint64_t W = 101, H = 102, LOCKWAIT = 201, NAP = 202, ASLEEP = 203, ROOT = 104;
  const uint64_t MS = 1'000'000;
  LockBuildInput in;
  RawLockAgg a;
  a.kind = LockKind::Mutex;
  a.waiter_stack = W;
  a.releaser_stack = H;
  a.sema_addr = 0x1004;
  a.count = 2;
  a.total_ns = 100 * MS;
  a.max_ns = 60 * MS;
  a.hist[25] = 2;
  in.aggs.push_back(a);
  in.chains.push_back({LockKind::Mutex, W, H, LOCKWAIT, 5, 1, 40 * MS, 8});
  in.chains.push_back({LockKind::Mutex, W, H, NAP, 9, 1, 11 * MS, 8});

  RawLockEvent e1;  // 7 waits [1000, 1060] ms; 8 naps [1000, 1011], then waits for 9 [1015, 1055]
  e1.kind = LockKind::Mutex;
  e1.goid = 7;
  e1.releaser_goid = 8;
  e1.sema_addr = 0x1004;
  e1.t_start_ns = 1000 * MS;
  e1.t_end_ns = 1060 * MS;
  e1.waiter_stack = W;
  e1.releaser_stack = H;
  e1.chain.push_back({1000 * MS, 1011 * MS, NAP, 9});
  e1.chain.push_back({1015 * MS, 1055 * MS, LOCKWAIT, 5});
  RawLockEvent e2;  // 8's wait for 9, who sleeps through [1020, 1048] ms
  e2.kind = LockKind::Mutex;
  e2.goid = 8;
  e2.releaser_goid = 9;
  e2.sema_addr = 0x5004;
  e2.t_start_ns = 1015 * MS;
  e2.t_end_ns = 1054 * MS;
  e2.waiter_stack = LOCKWAIT;
  e2.releaser_stack = ROOT;
  e2.chain.push_back({1020 * MS, 1048 * MS, ASLEEP, 9});
  in.events = {e1, e2};

  LockBuildOptions o;
  o.reason_name = [](unsigned r) { return r == 5 ? std::string("sync.Mutex.Lock") : std::string("sleep"); };
  o.is_sync_reason = [](unsigned r) { return r == 5; };
  build_lock_report(r, in, o);

  auto check_tree = [&](const std::vector<ChainLink>& chain) {
    REQUIRE(chain.size() == 3);
    // Tree order: LOCKWAIT, its child ASLEEP, then NAP.
    CHECK(chain[0].stack_id == LOCKWAIT);
    CHECK(chain[0].parent == -1);
    CHECK(chain[1].stack_id == ASLEEP);
    CHECK(chain[1].depth == 2);
    CHECK(chain[1].parent == 0);
    CHECK(chain[1].total_ns == 28 * MS);
    CHECK(chain[2].stack_id == NAP);
    CHECK(chain[2].parent == -1);
    for (size_t i = 0; i < chain.size(); ++i)
      if (chain[i].parent >= 0) {
        REQUIRE(static_cast<size_t>(chain[i].parent) < i);
        CHECK(chain[static_cast<size_t>(chain[i].parent)].depth == chain[i].depth - 1);
      }
  };
  REQUIRE(r.entries.size() == 1);
  check_tree(r.entries[0].chain);
  REQUIRE(r.longest.size() == 2);
  REQUIRE(r.longest[0].goid == 7);
  check_tree(r.longest[0].chain);

  // Text: the "its holder" line right under the lock wait it extends, before the nap.
  std::ostringstream text;
  write_lock_text(r, text, {});
  std::string t = text.str();
  size_t lockwait = t.find("%  sync.Mutex.Lock  (1 of these waits)");
  size_t holder = t.find("%  its holder: sleep  (1 of these waits)");
  size_t nap = t.find("%  sleep  (1 of these waits)");
  INFO(t);
  REQUIRE(lockwait != std::string::npos);
  REQUIRE(holder != std::string::npos);
  REQUIRE(nap != std::string::npos);
  CHECK(lockwait < holder);
  CHECK(holder < nap);

  std::ostringstream json;
  write_lock_json(r, json, {});
  Json j = parse_json(json.str());
  const Json& chain = j["entries"][0]["chain"];
  REQUIRE(chain.size() == 3);
  for (size_t i : {0, 2}) {
    CHECK(chain[i].has("parent"));
    CHECK(chain[i]["parent"].type == Json::Type::Null);
  }
  CHECK(chain[1]["parent"].type == Json::Type::Number);
  CHECK(chain[1]["parent"].u == 0);
}

TEST_CASE("blame splits each entry's waits among the holders by time held, per entry and per lock",
          "[lock][blame]") {
  auto fx = fixtures_of("analyze", "amd64");
  REQUIRE(!fx.empty());
  auto bin = GoBinary::open(fx.front().path);
  REQUIRE(bin);
  LockReport r;
  r.stacks = std::make_shared<StackTable>((*bin)->pclntab(), 0);

  // Waiter W. Most waits were ended by a short holder S (who got the lock
  // after a long holder L let go), one by L itself. The kernel split them:
  // L held the lock for most of every wait.
  const uint64_t W = 101, S = 102, L = 103;
  const uint64_t MS = 1'000'000;
  LockBuildInput in;
  auto agg = [&](uint64_t releaser, uint64_t sema, uint64_t count, uint64_t total) {
    RawLockAgg a;
    a.kind = LockKind::Mutex;
    a.waiter_stack = W;
    a.releaser_stack = releaser;
    a.sema_addr = sema;
    a.count = count;
    a.total_ns = total;
    a.max_ns = total;
    a.hist[23] = count;
    in.aggs.push_back(a);
  };
  agg(S, 0x1004, 3, 45 * MS);
  agg(L, 0x1004, 1, 15 * MS);
  agg(S, 0x2004, 1, 10 * MS);  // the same code on a second lock
  auto blame = [&](LockKind kind, uint64_t releaser, uint64_t sema, uint64_t holder, uint64_t total,
                   uint64_t waits, uint64_t max_hold, uint64_t goid) {
    in.blame.push_back({kind, W, releaser, sema, holder, total, waits, max_hold, goid});
  };
  blame(LockKind::Mutex, S, 0x1004, L, 40 * MS, 3, 14 * MS, 5);
  blame(LockKind::Mutex, S, 0x1004, S, 4 * MS, 3, 2 * MS, 9);
  blame(LockKind::Mutex, S, 0x1004, kBlameNotKept, 1 * MS, 1, 1 * MS, 0);
  blame(LockKind::Mutex, L, 0x1004, L, 15 * MS, 1, 15 * MS, 6);
  blame(LockKind::Mutex, S, 0x2004, L, 10 * MS, 1, 10 * MS, 7);
  blame(LockKind::WaitGroup, S, 0x3008, L, 99 * MS, 1, 99 * MS, 8);  // a kind not asked for

  LockBuildOptions o;
  o.kinds = {LockKind::Mutex};
  o.lock_name = [](uint64_t addr) { return addr == 0x1000 ? std::string("main.mu") : std::string(); };
  build_lock_report(r, in, o);

  REQUIRE(r.entries.size() == 2);
  const LockEntry& byS = r.entries[0];  // 55 ms, ended by S
  REQUIRE(byS.holder_stack == S);
  REQUIRE(byS.total_ns == 55 * MS);
  REQUIRE(byS.blame.size() == 3);
  CHECK(byS.blame[0].stack_id == L);
  CHECK(byS.blame[0].total_ns == 50 * MS);  // both locks
  CHECK(byS.blame[0].waits == 4);
  CHECK(byS.blame[0].goid == 5);  // the longest single hold
  CHECK(byS.blame[0].max_hold_ns == 14 * MS);
  CHECK(byS.blame[0].share == Approx(50.0 / 55));
  CHECK(byS.blame[1].stack_id == S);
  CHECK(byS.blame[2].stack_id == kBlameNotKept);
  uint64_t sum = 0;
  for (const auto& b : byS.blame) sum += b.total_ns;
  CHECK(sum == byS.total_ns);
  const LockEntry& byL = r.entries[1];
  REQUIRE(byL.blame.size() == 1);
  CHECK(byL.blame[0].stack_id == L);
  CHECK(byL.blame[0].share == Approx(1.0));

  // Per lock: L held main.mu for 55 of its 60 ms of waiting.
  REQUIRE(r.locks.size() == 2);
  const LockSite& mu = r.locks[0];
  CHECK(mu.name == "main.mu");
  REQUIRE(mu.blame.size() == 3);
  CHECK(mu.blame[0].stack_id == L);
  CHECK(mu.blame[0].total_ns == 55 * MS);
  CHECK(mu.blame[0].share == Approx(55.0 / 60));
  CHECK(mu.blame[0].goid == 6);
  // The releaser view of the same lock puts S first.
  REQUIRE(mu.holders.size() == 2);
  CHECK(mu.holders[0].stack_id == S);
  REQUIRE(r.locks[1].blame.size() == 1);
  CHECK(r.locks[1].blame[0].total_ns == 10 * MS);

  std::ostringstream text, by_lock, json;
  write_lock_text(r, text, {});
  LockWriterOptions wo;
  wo.by_lock = true;
  write_lock_text(r, by_lock, wo);
  write_lock_json(r, json, {});
  INFO(text.str());
  CHECK(text.str().find("blamed on (by hold time") != std::string::npos);
  CHECK(text.str().find(" 90.9%    50.0ms") != std::string::npos);
  CHECK(text.str().find("[goroutine 5]  (in 4 waits)") != std::string::npos);
  CHECK(text.str().find("earlier holders (not kept") != std::string::npos);
  INFO(by_lock.str());
  size_t blamed = by_lock.str().find("holders by time held while others waited (blame):");
  size_t released = by_lock.str().find("holders by the waits their release ended:");
  REQUIRE(blamed != std::string::npos);
  REQUIRE(released != std::string::npos);
  CHECK(blamed < released);
  CHECK(by_lock.str().find(" 91.7%    55.0ms") != std::string::npos);

  Json j = parse_json(json.str());
  const Json& eb = j["entries"][0]["blame"];
  REQUIRE(eb.size() == 3);
  CHECK(eb[0]["total_ns"].u == 50 * MS);
  CHECK(eb[0]["goid"].u == 5);
  CHECK_FALSE(eb[0]["not_kept"].b);
  CHECK(eb[1]["total_ns"].u == 4 * MS);
  CHECK(eb[2]["not_kept"].b);
  CHECK(eb[2]["stack"].size() == 0);
  CHECK(j["locks"][0]["blame"][0]["total_ns"].u == 55 * MS);
}
