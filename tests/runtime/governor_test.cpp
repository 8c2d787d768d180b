// The overhead governor (--max-overhead): a trace whose probes cost the
// target more than the budget goes on a cheaper way and says so; one that
// costs little is left alone; and the cost it estimates agrees with the
// work the target actually loses. Fixture: hotpark, a channel ping-pong
// that prints its round-trip count every 100 ms.
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "gotrace/target/process.h"
#include "support/fixtures.h"
#include "support/json.h"
#include "support/process.h"

using namespace gotrace::test;

namespace {

// The governed runs: the newest and the oldest release, default builds.
std::vector<Fixture> governed_fixtures(const std::string& program) {
  std::vector<Fixture> out;
  for (const auto& f : fixtures_of(program, "amd64"))
    if (f.variant == "default") out.push_back(f);
  REQUIRE(out.size() >= 2);
  return {out.front(), out.back()};
}

struct Traced {
  CommandResult result;
  std::string err;  // gotrace's stderr
};

Traced trace(const std::string& args) {
  const std::string err_path = fmt::format("/tmp/gotrace-governor-test.{}.err", ::getpid());
  Traced t;
  t.result = run_command(fmt::format("{} {} 2>{}", GOTRACE_BINARY, args, err_path));
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  t.err = ss.str();
  std::remove(err_path.c_str());
  return t;
}

// utime + stime of a process, in ns (gotrace's own reader of /proc/PID/stat).
double cpu_ns(pid_t pid) {
  auto p = gotrace::Process::open(pid);
  REQUIRE(p);
  return static_cast<double>(p->cpu_time_ns());
}

// The last round-trip count hotpark printed (reading what it wrote so far).
uint64_t rounds_now(RunningProgram& p) {
  p.wait_for_line("\x01", 150);  // drains what is there (no line starts with it)
  const std::string& out = p.output();
  size_t at = out.rfind("tick ");
  if (at == std::string::npos) return 0;
  return std::stoull(out.substr(at + 5));
}

// The target's CPU time per round trip over `window`.
double cpu_per_round(RunningProgram& p, std::chrono::milliseconds window) {
  const uint64_t r0 = rounds_now(p);
  const double c0 = cpu_ns(p.pid());
  std::this_thread::sleep_for(window);
  const uint64_t r1 = rounds_now(p);
  const double c1 = cpu_ns(p.pid());
  REQUIRE(r1 > r0);
  return (c1 - c0) / static_cast<double>(r1 - r0);
}

// Runs `gotrace ARGS` on the target with the governor's switch held open
// (GOTRACE_TEST_DELAY_SWITCH_MS), sends SIGINT once it says it is switching,
// and checks it ends within half a second with exit 0; returns its JSON
// report, after checking it says it was interrupted while switching.
Json interrupted_while_switching(const std::string& args) {
  const std::string out_path = fmt::format("/tmp/gotrace-governor-switch.{}.json", ::getpid());
  RunningProgram g("/bin/sh", {"-c", fmt::format("GOTRACE_TEST_DELAY_SWITCH_MS=20000 exec {} {} 2>&1 >{}",
                                                 GOTRACE_BINARY, args, out_path)});
  REQUIRE(g.wait_for_line("gotrace: test: switching in", 30000));
  const auto signalled = std::chrono::steady_clock::now();
  REQUIRE(kill(g.pid(), SIGINT) == 0);
  const int status = g.wait_exit(10000);
  const double exit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  INFO(g.output());
  CHECK(status == 0);
  CHECK(exit_s < 0.5);
  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::remove(out_path.c_str());
  Json r = parse_json(ss.str());
  CHECK(r["stopped_by"].str == "interrupted");
  REQUIRE(r["governor"]["steps"].size() == 1);
  CHECK(r["governor"]["steps"][0]["action"].str.find("not done: interrupted while switching") !=
        std::string::npos);
  bool said = false;
  for (const auto& n : r["notes"].arr)
    said |= n.str.find("this report covers the trace from") != std::string::npos;
  CHECK(said);
  return r;
}

}  // namespace

TEST_CASE("the governor switches a costly trace to a cheaper way and says so", "[root][governor]") {
  require_bpf_host();
  for (const auto& f : governed_fixtures("hotpark")) {
    INFO(f.label());
    RunningProgram target(f.path, {"-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 5000));

    // block: every park and wake probed costs this target most of its CPU,
    // so it goes on sampling goroutine states, without probes.
    auto b = trace(fmt::format("block -p {} -d 3s --json --no-status", target.pid()));
    INFO(b.err);
    REQUIRE(b.result.status == 0);
    Json r = parse_json(b.result.out);
    REQUIRE(r["governor"]["steps"].size() == 1);
    const Json& step = r["governor"]["steps"][0];
    CHECK(r["governor"]["on"].b);
    CHECK(r["governor"]["max_overhead_pct"].num == 5);
    CHECK(step["share"].num > 0.05);
    // A flagrantly costly trace is judged after a tenth of a second (a busy
    // target's window is a quarter of one, an idle one's a second).
    CHECK(step["at_s"].num >= 0.1);
    CHECK(step["at_s"].num < 0.7);
    CHECK(step["action"].str.find("sampling goroutine states") != std::string::npos);
    CHECK(r["sampled"].b);
    CHECK(r["probes_attached"].u == 0);
    CHECK(r["duration_s"].num == Approx(3.0 - step["at_s"].num).margin(0.4));  // the rest of the 3 s
    // One line on stderr when it happened.
    CHECK(b.err.find("gotrace block: the probes cost") != std::string::npos);
    // The sampled report still finds the ping-pong's two waits.
    bool send_or_recv = false;
    for (const auto& e : r["entries"].arr)
      send_or_recv |= e["reason"].str == "chan receive" || e["reason"].str == "chan send";
    CHECK(send_or_recv);

    // lock: following every wait for the chains is the costly part here
    // (nothing contends a lock); it drops them and starts again.
    auto l = trace(fmt::format("lock -p {} -d 3s --json --no-status", target.pid()));
    INFO(l.err);
    REQUIRE(l.result.status == 0);
    Json lr = parse_json(l.result.out);
    REQUIRE(lr["governor"]["steps"].size() >= 1);
    CHECK(lr["governor"]["steps"][0]["action"].str.find("--no-chains") != std::string::npos);
    CHECK_FALSE(lr["chains"].b);
    CHECK(lr["probes_attached"].u > 0);
    CHECK(l.err.find("gotrace lock: the probes cost") != std::string::npos);
  }
  // alloc --exact on a target that allocates all the time falls back to the
  // sampler this process allows.
  for (const auto& f : governed_fixtures("alloc")) {
    INFO(f.label());
    RunningProgram target(f.path, {"-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto a = trace(fmt::format("alloc -p {} -d 3s --exact --json --no-status", target.pid()));
    INFO(a.err);
    REQUIRE(a.result.status == 0);
    Json r = parse_json(a.result.out);
    REQUIRE(r["governor"]["steps"].size() >= 1);
    CHECK(r["governor"]["steps"][0]["action"].str.find("fell back from --exact") != std::string::npos);
    CHECK(r["sampler"].str != "exact");
    CHECK(r["probes_attached"].u > 0);
    // --map-writes on it (every write a trap, deep stacks among them) is
    // stopped the same way; the report says it did not count map writes.
    auto w = trace(fmt::format("alloc -p {} -d 3s --map-writes --json --no-status", target.pid()));
    INFO(w.err);
    REQUIRE(w.result.status == 0);
    Json wr = parse_json(w.result.out);
    REQUIRE(wr["governor"]["steps"].size() >= 1);
    CHECK(wr["governor"]["steps"][0]["action"].str.find("stopped counting map writes") != std::string::npos);
    CHECK_FALSE(wr["map_writes_traced"].b);
    CHECK(wr["map_writes"].size() == 0);
    CHECK(wr["probes_attached"].u > 0);
  }
  // --maps on a target that makes 20,000 maps of 9 entries a second (each a
  // growToTable from Go 1.24, a hashGrow before) is stopped the same way.
  for (const auto& f : governed_fixtures("alloc")) {
    INFO(f.label());
    RunningProgram target(f.path, {"-duration", "30s", "-small-maps", "20000", "-small-map-size", "9"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto m = trace(fmt::format("alloc -p {} -d 3s --maps --json --no-status", target.pid()));
    INFO(m.err);
    REQUIRE(m.result.status == 0);
    Json mr = parse_json(m.result.out);
    REQUIRE(mr["governor"]["steps"].size() >= 1);
    CHECK(mr["governor"]["steps"][0]["action"].str.find("stopped tracing map growth (--maps)") !=
          std::string::npos);
    CHECK_FALSE(mr["maps_traced"].b);
    CHECK(mr["probes_attached"].u > 0);
    CHECK(m.result.out.find("the governor stopped --maps") != std::string::npos);
  }
}

TEST_CASE("the governor leaves a target that parks rarely alone", "[root][governor]") {
  require_bpf_host();
  for (const auto& f : governed_fixtures("hotpark")) {
    INFO(f.label());
    // 50 round trips a second, 5 ms of work each: ~200 probe hits a second
    // against a quarter of a core.
    RunningProgram target(f.path, {"-rate", "50", "-work", "5ms", "-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto b = trace(fmt::format("block -p {} -d 3s --json --no-status", target.pid()));
    INFO(b.err);
    REQUIRE(b.result.status == 0);
    Json r = parse_json(b.result.out);
    CHECK(r["governor"]["on"].b);
    CHECK(r["governor"]["steps"].size() == 0);
    CHECK_FALSE(r["sampled"].b);
    CHECK(r["probes_attached"].u >= 4);
    CHECK(r["events"].u > 100);  // it saw the parks
    CHECK(r["cost"]["share"].num < 0.05);
    CHECK(b.err.find("the probes cost") == std::string::npos);
  }
}

// The estimate is the probe hits × the trap cost measured at start + the
// programs' run time; the truth is the CPU the target spends per round
// trip with the probes, less what it spends without them. They must agree
// within a factor of two (the trap cost is measured on a hot, cached site;
// the target's traps also disturb its caches and scheduling).
TEST_CASE("the governor's cost estimate agrees with the work the target loses", "[root][governor]") {
  require_bpf_host();
  const Fixture f = governed_fixtures("hotpark").back();
  INFO(f.label());
  RunningProgram target(f.path, {"-duration", "30s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double untraced = cpu_per_round(target, std::chrono::milliseconds(2000));

  RunningProgram tracer(GOTRACE_BINARY, {"block", "-p", std::to_string(target.pid()), "-d", "5s", "--json",
                                         "--no-status", "--no-governor"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // analysed and attached
  const double traced = cpu_per_round(target, std::chrono::milliseconds(2500));
  REQUIRE(tracer.wait_exit(20000) == 0);
  Json r = parse_json(tracer.output());
  // --no-governor: it still measured, said so, and kept the probes.
  REQUIRE(r["governor"]["steps"].size() == 1);
  CHECK_FALSE(r["governor"]["on"].b);
  CHECK(r["governor"]["steps"][0]["action"].str == "kept the probes (--no-governor)");
  CHECK_FALSE(r["sampled"].b);

  const double share = r["cost"]["share"].num;
  const double estimated = share * traced;  // ns of probe cost per round trip
  const double measured = traced - untraced;
  INFO(fmt::format("per round trip: untraced {:.0f} ns, traced {:.0f} ns, estimated probe cost {:.0f} ns",
                   untraced, traced, estimated));
  REQUIRE(measured > 0);
  CHECK(estimated / measured > 0.5);
  CHECK(estimated / measured < 2.0);
}

// lock's last resort: when the probes cost too much even without chains,
// they are attached in windows and the counts scaled; the scaled counts must
// agree with a full trace of the same steady target.
TEST_CASE("the governor's windowed lock trace scales to what a full trace sees", "[root][governor]") {
  require_bpf_host();
  const Fixture f = governed_fixtures("lock").back();
  INFO(f.label());
  // Two copies of the scenarios: enough contention that the probes cost
  // more than the governor's absolute allowance (0.5% of one CPU) where a
  // trap is cheap. With one copy, on a host whose trap costs 0.5 µs, the
  // trace without chains cost 3.8 ms a second, under the allowance, and the
  // windows came late or never (the test failed 4 times in 6 here).
  RunningProgram target(f.path, {"-duration", "40s", "-copies", "2"});
  REQUIRE(target.wait_for_line("ready", 5000));

  auto full =
      trace(fmt::format("lock -p {} -d 8s --json --no-status --no-governor --no-chains", target.pid()));
  REQUIRE(full.result.status == 0);
  Json fr = parse_json(full.result.out);
  // This fixture's contended waits cost it well over 5% even without chains,
  // and more than the allowance a second, with a margin.
  REQUIRE(fr["cost"]["share"].num > 0.08);
  const double per_s = fr["cost"]["estimated_ns"].num / fr["duration_s"].num;
  INFO(fmt::format("the trace without chains cost {:.1f} ms a second", per_s / 1e6));
  REQUIRE(per_s > 1.2 * fr["governor"]["allowance_cpu_pct"].num / 100 * 1e9);

  auto w = trace(fmt::format("lock -p {} -d 10s --json --no-status", target.pid()));
  INFO(w.err);
  REQUIRE(w.result.status == 0);
  Json wr = parse_json(w.result.out);
  REQUIRE(wr["governor"]["steps"].size() == 2);
  CHECK(wr["governor"]["steps"][0]["action"].str.find("--no-chains") != std::string::npos);
  CHECK(wr["governor"]["steps"][1]["action"].str.find("time windows") != std::string::npos);
  const double fraction = wr["attached_fraction"].num;
  CHECK(fraction > 0.02);
  CHECK(fraction < 0.6);
  // Steps are timed from the trace's start. Dropping the chains starts the
  // programs again (what the first ones saw is not in the report); windows
  // go on with the same programs, in place: the report covers the rest of
  // the 10 s after the first switch (less the switch itself: detaching one
  // way and attaching the next, 0.1-0.8 s seen, more on a loaded host),
  // the time before the windows included.
  const double first = wr["governor"]["steps"][0]["at_s"].num;
  const double second = wr["governor"]["steps"][1]["at_s"].num;
  CHECK(second > first);
  CHECK(wr["duration_s"].num <= 10 - first + 0.2);
  CHECK(wr["duration_s"].num >= 10 - first - 1.2);
  bool said = false, whole = false;
  for (const auto& n : wr["notes"].arr) {
    said |= n.str.find("counts and times are scaled") != std::string::npos;
    whole |= n.str.find("probes attached throughout the first ") != std::string::npos;
    INFO(n.str);
  }
  CHECK(said);
  CHECK(whole);

  // Per kind, the scaled counts against the full trace's (same length):
  // within 35% (a few windows of a steady target).
  auto per_kind = [](const Json& r) {
    std::map<std::string, double> m;
    for (const auto& e : r["entries"].arr) m[e["kind"].str] += e["count"].num;
    return m;
  };
  auto fk = per_kind(fr), wk = per_kind(wr);
  REQUIRE(fk.size() >= 3);
  for (const auto& [kind, n] : fk) {
    INFO(kind << ": full " << n << ", windowed (scaled) " << wk[kind]);
    if (n < 100) continue;  // too few to compare
    CHECK(wk[kind] == Approx(n).epsilon(0.35));
  }
}

// A signal while the governor switches to a way that reloads (alloc --exact
// falling back to the sampler): the costlier way's maps go with the reload,
// so its report, kept at the switch, is printed: everything collected, said
// to be, within half a second of the signal (a test hook holds the switch
// open: GOTRACE_TEST_DELAY_SWITCH_MS).
TEST_CASE("a signal during the governor's switch reports what the costlier way saw", "[root][governor]") {
  require_bpf_host();
  const Fixture f = governed_fixtures("alloc").back();
  INFO(f.label());
  RunningProgram target(f.path, {"-duration", "40s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  Json r =
      interrupted_while_switching(fmt::format("alloc -p {} -d 30s --exact --json --no-status", target.pid()));
  // The exact trace's report, not the sampler's empty one.
  CHECK(r["sampler"].str == "exact");
  CHECK(r["entries"].size() > 0);
  CHECK(code_differences_after(target.pid(), 2000).empty());  // and no probe left in the target
}

// The same for block, whose cheaper way leaves the runner for the sampler:
// the probes' report, kept at the switch, is printed when a signal comes
// before the sampler has traced as long (issue 18: it was dropped, and the
// sampler's report of one scan printed instead).
TEST_CASE("a signal during block's switch to sampling reports what the probes saw", "[root][governor]") {
  require_bpf_host();
  const Fixture f = governed_fixtures("hotpark").back();
  INFO(f.label());
  RunningProgram target(f.path, {"-duration", "40s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  const std::string folded_path = fmt::format("/tmp/gotrace-governor-bswitch.{}.folded", ::getpid());
  Json r = interrupted_while_switching(
      fmt::format("block -p {} -d 30s --json --no-status --folded {}", target.pid(), folded_path));
  // The probes' report (with the ping-pong's waits), not the sampler's.
  CHECK_FALSE(r["sampled"].b);
  CHECK(r["probes_attached"].u > 0);
  bool send_or_recv = false;
  for (const auto& e : r["entries"].arr)
    send_or_recv |= e["reason"].str == "chan receive" || e["reason"].str == "chan send";
  CHECK(send_or_recv);
  // The profile written is the probes' too.
  std::ifstream fin(folded_path);
  std::stringstream fs;
  fs << fin.rdbuf();
  std::remove(folded_path.c_str());
  CHECK(fs.str().find("main.") != std::string::npos);
  CHECK(code_differences_after(target.pid(), 2000).empty());
}
