// `gotrace sched` against hotpark -spinners (tests/fixtures/go/hotpark/
// schedload.go): more CPU-bound goroutines than Ps, a sleeper, forced GCs.
// What gotrace reports is checked against the runtime's own
// /sched/latencies:seconds over the same window (the same transitions: the
// runtime tracks one goroutine in 8 and gotrace reads its stamps), against
// the sites the fixture has, and, in a CPU cgroup with a quota the test
// makes, against the cgroup's own throttling counters.
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/fixtures.h"
#include "support/go_profiles.h"
#include "support/json.h"
#include "support/process.h"

using namespace gotrace::test;

namespace {

struct RuntimeWindow {
  double seconds = 0;
  uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, over_1ms = 0;
  uint64_t sleeper_wakes = 0;
  int gcs = 0;
};

// The fixture's "latencies …" and "sleeper …" lines of its last window.
RuntimeWindow parse_window(const std::string& out) {
  RuntimeWindow w;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    if (tag == "latencies") ls >> w.count >> w.p50 >> w.p90 >> w.p99 >> w.over_1ms;
    if (tag == "sleeper") ls >> w.sleeper_wakes;
    if (tag == "gcs") ls >> w.gcs;
  }
  return w;
}

// Traces target for trace_s inside a window of the fixture (SIGUSR1 before,
// SIGUSR2 after); the report and the fixture's figures.
std::pair<Json, RuntimeWindow> traced_window(RunningProgram& target, double trace_s,
                                             const std::string& extra = "") {
  kill(target.pid(), SIGUSR1);
  REQUIRE(target.wait_for_line("begun", 5000));
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_command(fmt::format("{} sched -p {} -d {}s --json --no-status --top 50 {}", GOTRACE_BINARY,
                                   target.pid(), trace_s, extra));
  kill(target.pid(), SIGUSR2);
  REQUIRE(target.wait_for_line("window", 5000));
  RuntimeWindow w = parse_window(target.output());
  w.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(r.status == 0);
  return {parse_json(r.out), w};
}

// gotrace's share of timed transitions at or above 2^20 ns.
double share_over_1ms(const Json& latency) {
  double all = 0, over = 0;
  for (const auto& b : latency["buckets"].arr) {
    all += b["count"].num;
    if (b["le_ns"].num > double(1 << 20)) over += b["count"].num;  // bucket [le/2, le)
  }
  return all > 0 ? over / all : 0;
}

// The newest release's default build.
Fixture newest_default() {
  Fixture best;
  for (const auto& f : fixtures_of("hotpark", "amd64"))
    if (f.variant == "default" && f.minor >= best.minor) best = f;
  REQUIRE(!best.path.empty());
  return best;
}

const Json* entry_of(const Json& report, const std::string& cause, const std::string& func) {
  const Json* best = nullptr;
  for (const auto& e : report["entries"].arr)
    if (e["cause"].str == cause && first_main(e["stack"]) == func &&
        (!best || e["count"].num > (*best)["count"].num))
      best = &e;
  return best;
}

std::string entries_text(const Json& report) {
  std::string s;
  for (const auto& e : report["entries"].arr)
    s += fmt::format("\n  {} {} {} x{} p99 {}", e["cause"].str, e["reason"].str, first_main(e["stack"]),
                     e["tracked"].u, e["p99_ns"].u);
  for (const auto& [name, v] : report["counters"].obj) s += fmt::format("\n  {}={}", name, v.u);
  return s;
}

}  // namespace

TEST_CASE("sched agrees with the runtime's own scheduling latencies and finds the known sites",
          "[root][sched]") {
  require_bpf_host();
  const Fixture f = newest_default();
  INFO(f.label());
  // GOMAXPROCS 2, 3 spinners: goroutines wait for a P, up to a preemption
  // period (10 ms) and more.
  RunningProgram target("/usr/bin/env",
                        {"GOMAXPROCS=2", f.path, "-spinners", "3", "-gc-every", "300ms", "-duration", "60s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  auto [report, w] = traced_window(target, 3.0, "--no-governor");
  INFO("runtime window: " << w.seconds << " s, " << w.count << " transitions, p50 " << w.p50 << " p90 "
                          << w.p90 << " p99 " << w.p99 << " over 1ms " << w.over_1ms << "; gcs " << w.gcs);
  INFO("entries:" << entries_text(report));
  const Json& lat = report["latency"];
  CHECK(report["sampler"].str == "runtime-tracking");
  CHECK(report["dropped"].u == 0);
  CHECK(report["gomaxprocs"].u == 2);
  // The same tracked transitions: the rate per second within a factor of
  // two (gotrace's window is inside the fixture's), the share of long
  // waits within 0.15, the p90 and p99 (both in the long mode here, a
  // preemption period away) within a factor of 2.5 (log2 buckets against
  // the runtime's finer ones).
  REQUIRE(w.count > 20);
  const double ours_rate = lat["tracked"].num / report["duration_s"].num;
  const double theirs_rate = static_cast<double>(w.count) / w.seconds;
  CHECK(ours_rate >= 0.5 * theirs_rate);
  CHECK(ours_rate <= 2.0 * theirs_rate);
  CHECK(std::abs(share_over_1ms(lat) - w.over_1ms) <= 0.15);
  CHECK(lat["p99_ns"].num >= w.p99 / 2.5);
  CHECK(lat["p99_ns"].num <= w.p99 * 2.5);
  CHECK(lat["p90_ns"].num >= w.p90 / 2.5);
  CHECK(lat["p90_ns"].num <= w.p90 * 2.5);
  CHECK(lat["count"].u == lat["tracked"].u * 8);
  // The sites: the spinners preempted (waiting up to a preemption period
  // for a P: p99 over 1 ms), the sleeper woken from its sleep.
  const Json* spin = entry_of(report, "preempted", "main.spinner");
  REQUIRE(spin);
  CHECK((*spin)["p99_ns"].num > 1e6);
  const Json* sleeper = entry_of(report, "woken", "main.sleeper");
  REQUIRE(sleeper);
  CHECK((*sleeper)["reason"].str == "sleep");
  // Each site's timed transitions add up to the total.
  double sum = 0;
  for (const auto& e : report["entries"].arr) sum += e["tracked"].num;
  CHECK(sum == lat["tracked"].num);
  // The kernel's side: the spinners ran (3 goroutines on 2 Ps: ~2 CPUs).
  CHECK(report["kernel"]["running_ns"].num >= 0.5e9 * report["duration_s"].num);
  // Forced GCs stop the world (two pauses each).
  REQUIRE(w.gcs >= 2);
  double pauses = 0;
  for (const auto& s : report["stw"].arr) pauses += s["count"].num;
  CHECK(pauses >= 2);
  if (f.minor >= 21) {
    bool mark_termination = false;
    for (const auto& s : report["stw"].arr) mark_termination |= s["reason"].str == "GC mark termination";
    CHECK(mark_termination);
  }
  // The profile carries the same sites.
  std::string profile =
      (std::filesystem::temp_directory_path() / fmt::format("gotrace-sched-{}.pprof", getpid()));
  auto r = run_command(fmt::format("{} sched -p {} -d 1s --no-status --pprof {} >/dev/null", GOTRACE_BINARY,
                                   target.pid(), profile));
  REQUIRE(r.status == 0);
  auto top = run_command(fmt::format("{} tool pprof -top -cum -nodefraction=0 -sample_index=delay {} 2>&1",
                                     go_command(), shell_quote(profile)));
  INFO(top.out);
  CHECK(top.status == 0);
  CHECK(top.out.find("main.spinner") != std::string::npos);
  CHECK(top.out.find("main.sleeper") != std::string::npos);
  std::filesystem::remove(profile);
}

TEST_CASE("sched across Go releases and builds", "[root][sched]") {
  require_bpf_host();
  // Every release's default build; the stripped, PIE and cgo builds of the
  // oldest and the newest (the TLS slot of g differs between them).
  int newest = 0;
  for (const auto& f : matrix_fixtures("hotpark")) newest = std::max(newest, f.minor);
  for (const auto& f : matrix_fixtures("hotpark")) {
    if (f.variant != "default" && f.minor != 19 && f.minor != newest) continue;
    INFO(f.label());
    RunningProgram target(
        "/usr/bin/env", {"GOMAXPROCS=1", f.path, "-spinners", "2", "-gc-every", "300ms", "-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    // The default builds of every other release --exact (its probes at every
    // state change); the rest with the runtime's tracking, which reads
    // runnableStamp on 1.19, trackingStamp at offset 200 on 1.23 and 192 on
    // 1.27's builds.
    const bool exact = f.variant == "default" && f.minor % 2 == 0;
    auto [report, w] = traced_window(target, 1.0, exact ? "--no-governor --exact" : "--no-governor");
    INFO("entries:" << entries_text(report));
    CHECK(report["go_version"].str == f.version);
    CHECK(report["sampler"].str == (exact ? "exact" : "runtime-tracking"));
    CHECK((report["budget"].size() > 0) == exact);
    // The kernel preempted the spinners' threads now and then: each time,
    // the goroutine was read from the thread's TLS slot (or R14).
    CHECK(report["counters"]["preemptions_without_goroutine"].u <= report["kernel"]["preemptions"].u / 2 + 1);
    CHECK(report["dropped"].u == 0);
    CHECK(report["latency"]["tracked"].u > 5);
    CHECK(entry_of(report, "preempted", "main.spinner"));
    CHECK(entry_of(report, "woken", "main.sleeper"));
    // With one P and two spinners, the sleeper waits for a whole preemption period.
    CHECK(report["latency"]["p99_ns"].num > 1e6);
    CHECK(report["gomaxprocs"].u == 1);
  }
}

TEST_CASE("sched in a CPU cgroup with a quota: throttling and GOMAXPROCS above the quota are named",
          "[root][sched]") {
  require_bpf_host();
  // v1's cpu controller here; a v2 host's cpu.max otherwise.
  const std::string name = fmt::format("gotrace-test-{}", getpid());
  std::string dir;
  bool v1 = std::filesystem::exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  if (v1)
    dir = "/sys/fs/cgroup/cpu/" + name;
  else
    dir = "/sys/fs/cgroup/" + name;
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    return static_cast<bool>(out);
  };
  REQUIRE(std::filesystem::create_directory(dir));
  struct Cleanup {
    std::string dir;
    ~Cleanup() { rmdir(dir.c_str()); }
  } cleanup{dir};
  if (v1) {
    REQUIRE(write(dir + "/cpu.cfs_period_us", "100000"));
    REQUIRE(write(dir + "/cpu.cfs_quota_us", "30000"));
  } else {
    write("/sys/fs/cgroup/cgroup.subtree_control", "+cpu");
    REQUIRE(write(dir + "/cpu.max", "30000 100000"));
  }
  const Fixture f = newest_default();
  {
    RunningProgram target("/usr/bin/env", {"GOMAXPROCS=2", f.path, "-spinners", "3", "-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    REQUIRE(write(dir + "/cgroup.procs", std::to_string(target.pid())));
    auto [report, w] = traced_window(target, 2.0);
    INFO("diagnosis: " << report["diagnosis"].size());
    const Json& cg = report["cgroup"];
    CHECK(cg["version"].u == (v1 ? 1u : 2u));
    CHECK(cg["path"].str == dir);
    CHECK(cg["quota_cpus"].num == Approx(0.3));
    CHECK(cg["nr_throttled"].u >= 5);
    CHECK(cg["throttled_ns"].u > 100'000'000);
    bool above = false, throttled = false;
    for (const auto& d : report["diagnosis"].arr) {
      INFO(d.str);
      above |= d.str.find("GOMAXPROCS 2 is above the CPU quota of 0.3 CPUs") != std::string::npos;
      throttled |= d.str.find("the cgroup was throttled in") != std::string::npos;
    }
    CHECK(above);
    CHECK(throttled);
    kill(target.pid(), SIGKILL);
    target.wait_exit(5000);
  }
}

TEST_CASE("sched refuses bad input and reports what it collected when the target exits", "[root][sched]") {
  require_bpf_host();
  auto bad = run_command(fmt::format("{} sched -p 1 -d nonsense 2>&1", GOTRACE_BINARY));
  CHECK(bad.status == 2);
  auto none = run_command(fmt::format("{} sched -p 999999999 2>&1", GOTRACE_BINARY));
  CHECK(none.status != 0);
  const Fixture f = newest_default();
  RunningProgram target("/usr/bin/env", {"GOMAXPROCS=1", f.path, "-spinners", "2", "-duration", "2500ms"});
  REQUIRE(target.wait_for_line("ready", 5000));
  auto r = run_command(
      fmt::format("{} sched -p {} -d 30s --json --no-status --no-governor", GOTRACE_BINARY, target.pid()));
  REQUIRE(r.status == 0);
  Json report = parse_json(r.out);
  CHECK(report["stopped_by"].str == "target exited");
  CHECK(report["latency"]["tracked"].u > 0);
}

TEST_CASE("sched --exact times every transition and splits each goroutine's time by state", "[root][sched]") {
  require_bpf_host();
  const Fixture f = newest_default();
  RunningProgram target("/usr/bin/env",
                        {"GOMAXPROCS=2", f.path, "-spinners", "3", "-gc-every", "300ms", "-duration", "60s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  auto [report, w] = traced_window(target, 3.0, "--exact --no-governor");
  INFO("entries:" << entries_text(report));
  CHECK(report["sampler"].str == "exact");
  CHECK(report["dropped"].u == 0);
  const Json& lat = report["latency"];
  CHECK(lat["count"].u == lat["tracked"].u);  // nothing scaled
  // Every transition, not one in 8: more than the runtime tracked, and about
  // 8 times as many (the same process, the same window).
  const double ours_rate = lat["tracked"].num / report["duration_s"].num;
  const double theirs_rate = static_cast<double>(w.count) / w.seconds;
  CHECK(ours_rate >= 3 * theirs_rate);
  CHECK(ours_rate <= 20 * theirs_rate);
  CHECK(std::abs(share_over_1ms(lat) - w.over_1ms) <= 0.2);
  REQUIRE(entry_of(report, "preempted", "main.spinner"));
  // The budget: the three spinners' goroutine-time is three times the trace
  // (each lives throughout), the sleeper's once, each within 5%; the
  // spinners mostly run or wait to run, the sleeper mostly sleeps.
  const double d = report["duration_s"].num * 1e9;
  const Json* spinners = nullptr;
  const Json* sleeper = nullptr;
  std::string rows;
  for (const auto& b : report["budget"].arr) {
    rows += fmt::format("\n  {} x{} total {} run {} go {} kern {} sys {} parked {}", b["function"].str,
                        b["goroutines"].u, b["total_ns"].u, b["running_ns"].u, b["runnable_go_ns"].u,
                        b["runnable_kernel_ns"].u, b["syscall_ns"].u, b["parked_ns"].u);
    const double parts = b["running_ns"].num + b["runnable_go_ns"].num + b["runnable_kernel_ns"].num +
                         b["syscall_ns"].num + b["parked_ns"].num;
    CHECK(parts == Approx(b["total_ns"].num));
    if (b["goroutines"].u == 3 && b["parked_ns"].num < 0.05 * b["total_ns"].num)
      spinners = &b;  // they never park
    if (b["function"].str.find("runSchedLoad") != std::string::npos && b["goroutines"].u == 1 &&
        b["parked_ns"].num > 0.5 * b["total_ns"].num &&
        (!sleeper || b["parked_ns"].num > (*sleeper)["parked_ns"].num))
      sleeper = &b;
  }
  INFO("budget:" << rows);
  REQUIRE(spinners);
  CHECK((*spinners)["total_ns"].num == Approx(3 * d).epsilon(0.05));
  CHECK((*spinners)["parked_ns"].num <= 0.02 * (*spinners)["total_ns"].num);
  CHECK((*spinners)["runnable_go_ns"].num >= 0.15 * (*spinners)["total_ns"].num);  // 3 on 2 Ps: a third waits
  REQUIRE(sleeper);
  CHECK((*sleeper)["total_ns"].num == Approx(d).epsilon(0.05));
}

TEST_CASE("sched --exact over budget falls back to the runtime's tracking, then to windows",
          "[root][sched]") {
  require_bpf_host();
  const Fixture f = newest_default();
  // Two goroutines ping-ponging as fast as they can: every switch pays the
  // exact probes' traps, far over any budget.
  RunningProgram target(f.path, {"-duration", "30s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  auto r = run_command(
      fmt::format("{} sched -p {} -d 3s --exact --json --no-status", GOTRACE_BINARY, target.pid()));
  REQUIRE(r.status == 0);
  Json report = parse_json(r.out);
  std::string steps;
  for (const auto& s : report["governor"]["steps"].arr) steps += "\n  " + s["action"].str;
  INFO("governor:" << steps);
  REQUIRE(report["governor"]["steps"].size() >= 1);
  CHECK(report["governor"]["steps"][0]["action"].str.find("fell back from --exact") != std::string::npos);
  CHECK(report["sampler"].str == "runtime-tracking");
  CHECK(report["budget"].size() == 0);
  CHECK(report["latency"]["tracked"].u > 0);
}

TEST_CASE("sched: one P for a spinner and a sleeper makes the sleeper wait, two do not", "[root][sched]") {
  require_bpf_host();
  const Fixture f = newest_default();
  auto sleeper_p99 = [&](const char* procs) {
    RunningProgram target("/usr/bin/env",
                          {std::string("GOMAXPROCS=") + procs, f.path, "-spinners", "1", "-duration", "30s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto [report, w] = traced_window(target, 1.5, "--no-governor --exact");
    INFO("GOMAXPROCS=" << procs << " entries:" << entries_text(report));
    const Json* s = entry_of(report, "woken", "main.sleeper");
    REQUIRE(s);
    return (*s)["p99_ns"].num;
  };
  const double one = sleeper_p99("1"), two = sleeper_p99("2");
  INFO("sleeper p99: 1 P " << one << " ns, 2 Ps " << two << " ns");
  CHECK(one > 1e6);  // behind the spinner, until sysmon preempts it (10 ms)
  CHECK(one > 5 * two);
}
