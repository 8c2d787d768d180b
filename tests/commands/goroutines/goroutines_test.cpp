// The goroutine snapshot against the goroutines fixture, for every Go release
// and build variant in the manifest: the known populations are found with
// their states, reasons, lines, creation sites, labels and thread locks, the
// set of goroutines equals the fixture's own pprof debug=2 dump taken right
// after, and the fixture's heartbeat never stops. Reading another process's
// memory needs ptrace rights, hence [root] (no BPF is used).
#include "gotrace/snapshot/goroutines.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "commands/goroutines/goroutine_report.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/gobin/runtime_globals.h"
#include "gotrace/target/process.h"
#include "gotrace/target/remote_memory.h"
#include "support/fixtures.h"
#include "support/go_profiles.h"
#include "support/json.h"
#include "support/process.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

// Line numbers of the `// SITE:name` markers in the fixture's source.
std::map<std::string, int> site_lines() {
  std::ifstream in(std::string(GOTRACE_SOURCE_DIR) + "/tests/fixtures/go/goroutines/main.go");
  REQUIRE(in);
  std::map<std::string, int> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (auto p = line.find("// SITE:"); p != std::string::npos) out[line.substr(p + 8)] = n;
  return out;
}

struct DumpedGoroutine {
  std::string state;  // "chan receive", "running", … (first item in brackets)
  std::string first_main;
  bool locked = false;
};

// The runtime's own dump: "goroutine N [state, …]:" then frames
// ("func(args)" / "\tfile:line +0x…"), "created by …".
std::map<uint64_t, DumpedGoroutine> parse_dump(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::map<uint64_t, DumpedGoroutine> out;
  std::string line;
  DumpedGoroutine* cur = nullptr;
  while (std::getline(in, line)) {
    if (line.starts_with("goroutine ")) {
      uint64_t id = std::stoull(line.substr(10));
      auto lb = line.find('['), rb = line.rfind(']');
      REQUIRE(lb != std::string::npos);
      std::string inside = line.substr(lb + 1, rb - lb - 1);
      cur = &out[id];
      cur->state = inside.substr(0, inside.find(','));
      cur->locked = inside.find("locked to thread") != std::string::npos;
      continue;
    }
    if (cur && cur->first_main.empty() && line.starts_with("main."))
      cur->first_main = line.substr(0, line.rfind('('));
  }
  return out;
}

uint64_t heartbeat(const std::string& path) {
  std::ifstream in(path);
  uint64_t v = 0;
  in >> v;
  return v;
}

struct Population {
  std::string site, function, reason;
  int count;
};

}  // namespace

TEST_CASE("goroutine snapshot finds the known populations and agrees with the runtime's dump",
          "[root][goroutines]") {
  auto lines = site_lines();
  int checked = 0;
  for (const auto& f : matrix_fixtures("goroutines")) {
    INFO(f.label());
    auto dir = std::filesystem::temp_directory_path() / fmt::format("gotrace-gr-{}", getpid());
    std::filesystem::create_directories(dir);
    struct RemoveAfter {  // after the target (declared later, destroyed first) stopped writing there
      std::filesystem::path dir;
      ~RemoveAfter() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } cleanup{dir};
    std::string beat = (dir / "beat").string(), dump = (dir / "dump").string();
    std::filesystem::remove(dump);
    RunningProgram target(f.path, {"-chan", "20", "-sleep", "7", "-select", "5", "-io", "3", "-mutex", "4",
                                   "-heartbeat", beat, "-dump", dump});
    REQUIRE(target.wait_for_line("ready", 10000));

    auto bin = GoBinary::open(f.path);
    REQUIRE(bin);
    auto proc = Process::open(target.pid());
    REQUIRE(proc);
    auto bias = proc->load_bias((*bin)->elf());
    REQUIRE(bias);
    auto reader = GoroutineReader::create(**bin, target.pid(), *bias);
    INFO((reader ? std::string() : reader.error().message));
    REQUIRE(reader);
    // The globals (from code in stripped builds) read sane values live.
    {
      RemoteMemory mem(target.pid());
      auto at = [&](RtGlobal g) {
        auto a = find_global(**bin, g);
        INFO(global_symbol(g) << ": " << (a ? a->source : a.error().message));
        REQUIRE(a);
        CHECK((a->source == "symtab") == (f.variant != "stripped"));
        return a->vaddr + *bias;
      };
      CHECK(mem.read_value<int64_t>(at(RtGlobal::MemProfileRate)) == 512 * 1024);  // the default
      CHECK(mem.read_value<uint8_t>(at(RtGlobal::DisableMemoryProfiling)) == 0);   // pprof is linked
      CHECK(mem.read_value<uint64_t>(at(RtGlobal::Firstmoduledata)) ==
            (*bin)->pclntab().table_vaddr() + *bias);
      auto reason = (*bin)->wait_reasons()->value_of("chan receive");
      REQUIRE(reason);
      auto hdr = mem.read_value<std::array<uint64_t, 2>>(at(RtGlobal::WaitReasonStrings) + 16 * *reason);
      REQUIRE(hdr);
      std::string name((*hdr)[1] < 64 ? (*hdr)[1] : 0, '\0');
      REQUIRE(mem.read((*hdr)[0], name.data(), name.size()));
      CHECK(name == "chan receive");
      auto len = mem.read_value<uint64_t>(at(RtGlobal::Allglen));
      auto gs = mem.read_value<std::array<uint64_t, 2>>(at(RtGlobal::Allgs));  // {array, len}
      REQUIRE((len && gs));
      CHECK(*len >= 44);  // 41 parked by the fixture, main, the signal loop and the dumper
      CHECK((*gs)[0] == mem.read_value<uint64_t>(at(RtGlobal::Allgptr)));
    }
    uint64_t beat_before = heartbeat(beat);
    auto snap = reader->snapshot();
    REQUIRE(snap);
    // The target kept running: its 5 ms heartbeat moves on (within 2 s, for
    // a VM that deschedules it now and then).
    for (int i = 0; i < 40 && heartbeat(beat) <= beat_before; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(heartbeat(beat) > beat_before);

    kill(target.pid(), SIGUSR1);
    REQUIRE(target.wait_for_line("dumped", 10000));
    auto dumped = parse_dump(dump);

    GoroutineReport rep =
        build_goroutine_report(*snap, *(*bin)->wait_reasons(), StackTable((*bin)->pclntab(), *bias), {});
    std::string mutex = f.minor >= 20 ? "sync.Mutex.Lock" : "semacquire";
    std::vector<Population> pops = {
        {"chanrecv", "main.chanWaiter", "chan receive", 20},
        {"sleep", "main.sleeper", "sleep", 7},
        {"select", "main.selectWaiter", "select", 5},
        {"io", "main.ioReader", "IO wait", 3},
        {"mutex", "main.mutexWaiter", mutex, 4},
        {"labels", "main.labelledWaiter.func1", "chan receive", 1},
        {"locked", "main.lockedWaiter", "chan receive", 1},
    };
    for (const auto& p : pops) {
      INFO(p.function << " / " << p.reason);
      uint64_t found = 0;
      for (const auto& g : rep.groups) {
        const Frame* at = rep.stacks.user_frame(g.stack_id);
        if (!at || at->function != p.function) continue;
        CHECK(g.reason == p.reason);
        CHECK(g.status == GStatus::Waiting);
        CHECK(at->line == lines.at(p.site));
        CHECK_FALSE(g.stack_broken);
        found += g.count;
        if (p.site == "chanrecv") {
          const auto& by = rep.stacks.frames(g.created_by_id);
          REQUIRE(!by.empty());
          CHECK(by.back().function == "main.startPool");
          CHECK(by.front().line == lines.at("created-chan"));
          if (f.minor >= 21) CHECK(g.parents == std::set<uint64_t>{1});
        }
        if (p.site == "labels")
          CHECK(g.label_sets == std::map<std::string, uint64_t>{{"req=42,svc=demo", 1}});
        CHECK(g.locked == (p.site == "locked" ? g.count : 0));
      }
      CHECK(found == static_cast<uint64_t>(p.count));
    }

    // The same goroutines as the runtime's dump (which leaves out the
    // runtime's own), and for the parked populations the same state and frame.
    std::set<uint64_t> ours, theirs;
    for (const auto& g : snap->goroutines)
      if (!g.system) ours.insert(g.goid);
    for (const auto& [id, d] : dumped) theirs.insert(id);
    // main's goroutine changes state every few ms: it may be one the
    // snapshot saw change under it, left out and counted.
    std::set<uint64_t> missing;
    for (uint64_t id : theirs)
      if (!ours.count(id)) missing.insert(id);
    for (uint64_t id : ours) CHECK(theirs.count(id) == 1);
    CHECK(missing.size() <= snap->stats.inconsistent);
    CHECK(missing.size() <= 1);
    int compared = 0;
    for (const auto& e : rep.goroutines) {
      auto it = dumped.find(e.goid);
      if (it == dumped.end() || e.stack_id == 0) continue;
      const Frame* at = rep.stacks.user_frame(e.stack_id);
      if (!at || !at->function.starts_with("main.") || at->function == "main.main" ||
          at->function.starts_with("main.main."))
        continue;  // main's and the dumping goroutine's states change by the moment
      INFO("goroutine " << e.goid << " " << at->function);
      CHECK(it->second.state == e.reason);
      CHECK(it->second.first_main == at->function);
      CHECK(it->second.locked == e.locked_to_thread);
      ++compared;
    }
    CHECK(compared == 41);

    // signal.Notify's goroutine sleeps in a syscall (notetsleepg enters one):
    // its stack comes from the syscall frame (syscallbp from 1.23, the frame
    // pointer saved below syscallsp before) and reaches os/signal.loop.
    int in_syscall = 0;
    for (const auto& e : rep.goroutines) {
      if (e.stack_id == 0) continue;
      const auto& fs = rep.stacks.frames(e.stack_id);
      bool signal_recv = false, loop = false;
      for (const auto& fr : fs) {
        signal_recv |= fr.function == "os/signal.signal_recv";
        loop |= fr.function == "os/signal.loop";
      }
      if (!signal_recv) continue;
      INFO("goroutine " << e.goid);
      CHECK(e.status == GStatus::Syscall);
      CHECK(loop);
      CHECK_FALSE(e.stack_broken);
      ++in_syscall;
    }
    CHECK(in_syscall <= 1);
    CHECK(in_syscall + snap->stats.inconsistent >=
          1);  // or it changed under the read (a GC scan) and was counted
    CHECK(snap->stats.unreadable == 0);
    // A walk that broke under the read (the goroutine ran and stopped at the
    // same place meanwhile) is read again; none may stay broken.
    for (const auto& g : snap->goroutines)
      if (g.stack_broken) {
        std::string frames;
        for (uint64_t pc : g.stack) frames += fmt::format(" {:#x}", pc);
        WARN("broken stack: goroutine " << g.goid << " status " << static_cast<int>(g.status) << " reason "
                                        << int(g.wait_reason) << ":" << frames);
      }
    CHECK(snap->stats.stacks_broken == 0);
    CHECK(snap->stats.stacks_truncated == 0);

    // A second snapshot reuses the parked goroutines' stacks.
    auto again = reader->snapshot();
    REQUIRE(again);
    CHECK(again->stats.stacks_cached >= 41);
    CHECK(target.wait_exit(0) == -1);  // still running
    ++checked;
  }
  CHECK(checked > 0);
}

TEST_CASE("goroutine snapshot of 100,000 goroutines", "[root][goroutines]") {
  auto fx = fixtures_of("goroutines", "amd64");
  const Fixture& f = fx.back();
  INFO(f.label());
  RunningProgram target(f.path, {"-extra", "100000"});
  REQUIRE(target.wait_for_line("ready", 60000));
  auto bin = GoBinary::open(f.path);
  REQUIRE(bin);
  auto proc = Process::open(target.pid());
  REQUIRE(proc);
  auto bias = proc->load_bias((*bin)->elf());
  REQUIRE(bias);
  auto reader = GoroutineReader::create(**bin, target.pid(), *bias);
  REQUIRE(reader);
  for (int round = 0; round < 2; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    auto snap = reader->snapshot();
    REQUIRE(snap);
    GoroutineReport rep =
        build_goroutine_report(*snap, *(*bin)->wait_reasons(), StackTable((*bin)->pclntab(), *bias), {});
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN(
        fmt::format("{}: snapshot {} (round {}): {:.3f}s read ({} syscalls, {:.1f} MB, {} stacks cached), "
                    "{:.3f}s with grouping",
                    f.label(), snap->goroutines.size(), round, snap->stats.wall_seconds, snap->stats.syscalls,
                    snap->stats.bytes / 1e6, snap->stats.stacks_cached, s));
    uint64_t bulk = 0;
    for (const auto& g : rep.groups) {
      const Frame* at = rep.stacks.user_frame(g.stack_id);
      if (at && at->function == "main.bulkWaiter") bulk += g.count;
    }
    CHECK(bulk == 100000);
    if (round == 1) CHECK(snap->stats.stacks_cached >= 100000);
  }
}

TEST_CASE("gotrace goroutines: JSON, text and profiles from the command line", "[root][goroutines]") {
  auto lines = site_lines();
  for (const auto& f : matrix_fixtures("goroutines")) {
    if (f.variant != "stripped" && f.variant != "pie") continue;  // the library test covers every build
    INFO(f.label());
    auto dir = std::filesystem::temp_directory_path() / fmt::format("gotrace-grcli-{}", getpid());
    std::filesystem::create_directories(dir);
    struct RemoveAfter {
      std::filesystem::path dir;
      ~RemoveAfter() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } cleanup{dir};
    RunningProgram target(f.path, {});
    REQUIRE(target.wait_for_line("ready", 10000));
    std::string pprof = (dir / "g.pb.gz").string(), folded = (dir / "g.folded").string();
    auto r = run_command(fmt::format("{} goroutines -p {} --json --pprof {} --folded {}", GOTRACE_BINARY,
                                     target.pid(), shell_quote(pprof), shell_quote(folded)));
    REQUIRE(r.status == 0);
    Json j = parse_json(r.out);
    REQUIRE(j["groups"].size() > 0);
    // The biggest group is the 20 chan receivers (default flags), created by startPool.
    const Json& top = j["groups"][0];
    CHECK(top["count"].u == 20);
    CHECK(top["state"].str == "waiting");
    CHECK(top["reason"].str == "chan receive");
    CHECK(first_main(top["stack"]) == "main.chanWaiter");
    CHECK(first_main(top["created_by"]["stack"]) == "main.startPool");
    bool labels = false;
    for (const auto& g : j["groups"].arr)
      if (g["labels"].has("req=42,svc=demo")) labels = true;
    CHECK(labels);
    for (const auto& g : j["groups"].arr) CHECK_FALSE(g["system"].b);

    auto raw = run_command(fmt::format("{} tool pprof -raw {} 2>&1", go_command(), shell_quote(pprof)));
    INFO(raw.out);
    CHECK(raw.status == 0);
    CHECK(raw.out.find("goroutine/count") != std::string::npos);
    std::ifstream in(folded);
    std::string line;
    int chan_lines = 0;
    while (std::getline(in, line))  // outermost frame first (the go statement's wrapper, then chanWaiter)
      if (line.starts_with("main.startPool.") && line.find(";main.chanWaiter;") != std::string::npos &&
          line.ends_with(";runtime.gopark;[chan receive] 20"))
        ++chan_lines;
    CHECK(chan_lines == 1);

    auto text = run_command(
        fmt::format("{} goroutines -p {} --reason 'chan receive' --top 1", GOTRACE_BINARY, target.pid()));
    INFO(text.out);
    CHECK(text.status == 0);
    CHECK(
        text.out.find(fmt::format("20 goroutines in chan receive at main.chanWaiter (main.go:{}), created by "
                                  "main.startPool (main.go:{})",
                                  lines.at("chanrecv"), lines.at("created-chan"))) != std::string::npos);
    auto all_text =
        run_command(fmt::format("{} goroutines -p {} --all --state waiting", GOTRACE_BINARY, target.pid()));
    CHECK(all_text.status == 0);
    CHECK(all_text.out.find("[chan receive, locked to thread]") != std::string::npos);
  }
}

// The runtime's own leak verdict: where writing the goroutineleak profile
// runs the GC's leak detection (Go 1.27 by default, see the fixture), the
// goroutines it marks _Gleaked show as state "leaked", as many as the
// profile counts; where it is unavailable, none do.
TEST_CASE("gotrace goroutines: the runtime's leaked verdict, where the runtime gives one",
          "[root][goroutines]") {
  for (const auto& f : fixtures_of("goroutines", "amd64")) {
    if (f.variant != "default") continue;
    INFO(f.label());
    RunningProgram target(f.path, {"-leaked", "6"});
    REQUIRE(target.wait_for_line("ready", 10000));  // printed after the verdict
    const std::string out = target.output(), key = "runtime leaks ";
    const size_t at = out.find(key);
    REQUIRE(at != std::string::npos);
    const std::string n = out.substr(at + key.size(), out.find('\n', at) - at - key.size());
    auto r = run_command(fmt::format("{} goroutines -p {} --json", GOTRACE_BINARY, target.pid()));
    REQUIRE(r.status == 0);
    Json j = parse_json(r.out);
    uint64_t leaked = 0;
    for (const auto& g : j["groups"].arr) {
      if (g["state"].str != "leaked") continue;
      leaked += g["count"].u;
      CHECK(first_main(g["stack"]) == "main.leakedWaiter");
      CHECK(g["reason"].str == "chan receive");
    }
    if (n == "unavailable") {
      CHECK(f.minor <= 26);  // 1.27 links the profile unconditionally
      CHECK(leaked == 0);
    } else {
      CHECK(n == "6");  // the runtime found exactly the unreachable ones
      CHECK(leaked == std::stoull(n));
    }
  }
}

TEST_CASE("gotrace goroutines: bad input is one line and an exit code", "[root][goroutines]") {
  auto gone = run_command(fmt::format("{} goroutines -p 999999999 2>&1", GOTRACE_BINARY));
  CHECK(gone.status == 1);  // no such process
  CHECK(std::count(gone.out.begin(), gone.out.end(), '\n') == 1);
  auto zero = run_command(fmt::format("{} goroutines -p 0 2>&1", GOTRACE_BINARY));
  CHECK(zero.status == 2);
  RunningProgram sleeper("/bin/sleep", {"30"});
  auto not_go = run_command(fmt::format("{} goroutines -p {} 2>&1", GOTRACE_BINARY, sleeper.pid()));
  CHECK(not_go.status == 1);
  CHECK(std::count(not_go.out.begin(), not_go.out.end(), '\n') == 1);
  auto fx = fixtures_of("goroutines", "amd64");
  RunningProgram target(fx.back().path, {});
  REQUIRE(target.wait_for_line("ready", 10000));
  auto bad_reason = run_command(
      fmt::format("{} goroutines -p {} --reason 'chan recieve' 2>&1", GOTRACE_BINARY, target.pid()));
  CHECK(bad_reason.status == 2);
  auto bad_state =
      run_command(fmt::format("{} goroutines -p {} --state sleeping 2>&1", GOTRACE_BINARY, target.pid()));
  CHECK(bad_state.status == 2);
  auto bad_out = run_command(fmt::format(
      "{} goroutines -p {} --pprof /nonexistent/dir/x.pb.gz >/dev/null 2>&1", GOTRACE_BINARY, target.pid()));
  CHECK(bad_out.status == 3);
}

// Wait ages against the truth the fixture knows: its pollers never wait
// longer than -poll-every, its chan receivers have waited since "ready".
// Only forced GCs run (GOGC=off), so right after "gc 3" the pollers parked
// during that cycle carry the stamp of cycle 2's end, seconds older than
// their wait: Go's own figure (now - stamp) would put them past --min-wait.
// gotrace's ages are lower bounds: none may exceed the truth, and
// --min-wait selects only what certainly waited that long.
TEST_CASE("gotrace goroutines: wait ages are lower bounds, never older than the wait", "[root][goroutines]") {
  auto fx = fixtures_of("goroutines", "amd64");
  REQUIRE(!fx.empty());
  for (const Fixture* f : {&fx.front(), &fx.back()}) {
    if (f != &fx.front() && f->path == fx.front().path) break;
    INFO(f->label());
    RunningProgram target("/usr/bin/env",
                          {"GOGC=off", f->path, "-poll", "40", "-poll-every", "2s", "-gc-every", "4s"});
    REQUIRE(target.wait_for_line("ready", 10000));
    const auto ready = std::chrono::steady_clock::now();
    REQUIRE(target.wait_for_line("gc 3", 20000));
    auto r = run_command(
        fmt::format("{} goroutines -p {} --json --all --min-wait 3s", GOTRACE_BINARY, target.pid()));
    const double since_ready =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - ready).count();
    REQUIRE(r.status == 0);
    Json j = parse_json(r.out);
    INFO(r.out.substr(0, 4000));
    uint64_t chan = 0, poll = 0, stamped_young = 0;
    for (const auto& g : j["goroutines"].arr) {
      const std::string fn = first_main(g["stack"]);
      REQUIRE(g["wait_ns"].type != Json::Type::Null);  // --min-wait keeps only known waits
      CHECK(g["wait_ns"].num >= 3e9);
      CHECK(g["wait_ns"].num <= since_ready * 1e9 + 0.5e9);  // no wait is older than the fixture's
      if (fn == "main.chanWaiter") ++chan;
      if (fn == "main.pollWaiter") ++poll;
    }
    CHECK(chan == 20);  // parked since "ready", stamped by cycle 2, bounded by cycle 3's stamp
    CHECK(poll == 0);   // at most 2 s old
    // Without the filter, the pollers' stamps are still there: Go's figure
    // for them is older than any poller's wait (what made them look old).
    auto all = run_command(fmt::format("{} goroutines -p {} --json --all", GOTRACE_BINARY, target.pid()));
    REQUIRE(all.status == 0);
    Json ja = parse_json(all.out);
    for (const auto& g : ja["goroutines"].arr) {
      if (first_main(g["stack"]) != "main.pollWaiter") continue;
      if (g["wait_ns"].type != Json::Type::Null) CHECK(g["wait_ns"].num <= 2.5e9);
      if (g["stamp_age_ns"].type != Json::Type::Null && g["stamp_age_ns"].num > 2.5e9) ++stamped_young;
    }
    INFO("pollers whose stamp predates their wait: " << stamped_young);
  }
}

// Go never frees a g: after a burst of 100,000 goroutines the process keeps
// 100,000 dead gs. A snapshot reads their status words only, not whole gs
// (it read 48 MB and took 0.1 s before), the words on one page in one piece
// (the kernel's cost is per piece: each takes the target's mm lock and pins
// its page), and the sampler re-reads long-dead ones now and then, a page's
// at a time, keeping its rate: what the fixture parked is still found, as
// long as it was parked.
TEST_CASE("goroutines and block --sample on a process with 100,000 dead goroutines", "[root][goroutines]") {
  auto fx = fixtures_of("goroutines", "amd64");
  REQUIRE(!fx.empty());
  RunningProgram target(fx.back().path, {"-exited", "100000"});
  REQUIRE(target.wait_for_line("ready", 60000));
  auto r = run_command(fmt::format("{} goroutines -p {} --json", GOTRACE_BINARY, target.pid()));
  REQUIRE(r.status == 0);
  Json j = parse_json(r.out);
  const Json& s = j["snapshot"];
  INFO(r.out.substr(0, 2000));
  // (The goroutines started after the burst reuse some of its gs; the
  // runtime lets a few of its own go.)
  CHECK(s["dead"].u >= 100000 - 100);
  CHECK(s["dead"].u <= 100000 + 64);
  CHECK(s["allglen"].u - s["dead"].u < 200);
  // A piece per page of dead gs (about nine gs to a 4 KiB page), the whole
  // g and a stack window only for the live ones: read in a piece a g, the
  // 100,000 would take at least 98 calls (1,024 pieces to a call).
  CHECK(s["syscalls"].u < 50);
  REQUIRE(j["groups"].size() > 0);
  CHECK(j["groups"][0]["count"].u == 20);  // the chan receivers, as without the dead

  const double secs = 3;
  auto b = run_command(fmt::format("{} block -p {} --sample -d {}s --json --no-status --no-governor",
                                   GOTRACE_BINARY, target.pid(), secs));
  REQUIRE(b.status == 0);
  Json bj = parse_json(b.out);
  INFO(b.out.substr(0, 3000));
  const uint64_t scans = bj["scans"].u;
  CHECK(scans >= 10);
  // After the first few scans, 15 in 16 long-dead gs are taken as dead.
  CHECK(bj["counters"]["dead_gs_not_reread"].u >= (scans - 5) * 100000 * 14 / 16);
  // The 20 chan receivers were parked all along: 20 goroutine-seconds a second.
  double chan_ns = 0;
  for (const auto& e : bj["entries"].arr)
    if (e["reason"].str == "chan receive" && first_main(e["stack"]) == "main.chanWaiter")
      chan_ns += e["total_ns"].num;
  const double dur = bj["duration_s"].num;
  CHECK(chan_ns >= 0.85 * 20 * dur * 1e9);
  CHECK(chan_ns <= 1.15 * 20 * dur * 1e9);
}
