// `gotrace block --sample` against the block fixture (tests/fixtures/go/block)
// for every Go release and amd64 build variant: with no probe at all, the
// sampled profile must find each known blocking site with its reason and
// waiter, rank the busiest the same way probe mode does, and estimate each
// site's goroutine-time within a tolerance computed from the number of scans.
#include <fmt/format.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <future>
#include <map>
#include <set>

#include "support/fixtures.h"
#include "support/go_profiles.h"
#include "support/json.h"
#include "support/process.h"

using namespace gotrace::test;

namespace {

struct Site {
  const char* waiter;
  std::string reason;
  int goroutines;
  double parked;  // the fraction of the time each of them is parked there
};

// The sites of tests/runtime/block_test.cpp. Every waiter is parked nearly
// all the time, except mutexWaiter: the holder keeps the lock 10 ms, then
// sleeps 1 ms, during which the waiter waits on the `held` channel instead.
std::vector<Site> sites(int minor) {
  std::string mutex = minor >= 20 ? "sync.Mutex.Lock" : "semacquire";
  std::string wg = minor >= 24 ? "sync.WaitGroup.Wait" : "semacquire";
  return {
      {"main.chanRecvWaiter", "chan receive", 4, 1.0},
      {"main.selectWaiter", "select", 3, 1.0},
      {"main.wgWaiter", wg, 2, 1.0},
      {"main.chanSendWaiter", "chan send", 1, 1.0},
      {"main.condWaiter", "sync.Cond.Wait", 1, 1.0},
      {"main.mutexWaiter", mutex, 1, 10.0 / 11.0},
      {"main.sleeper", "sleep", 1, 1.0},
      {"main.ioReader", "IO wait", 1, 1.0},
  };
}

}  // namespace

TEST_CASE("block --sample finds every known blocking site without probes, across Go versions and builds",
          "[root][sample]") {
  require_bpf_host();
  const double hz = 49, trace_s = 3.0;
  for (const auto& f : matrix_fixtures("block")) {
    INFO(f.label());
    RunningProgram target(f.path, {"-duration", "30s"});  // SIGTERM ends it
    REQUIRE(target.wait_for_line("ready", 5000));
    auto r = run_command(fmt::format("{} block -p {} --sample {} -d {}s --top 100 --json --no-status",
                                     GOTRACE_BINARY, target.pid(), hz, trace_s));
    REQUIRE(r.status == 0);
    Json report = parse_json(r.out);
    // The fixture's own account of its pace (it fails itself on a stall),
    // shown with every failure below.
    REQUIRE(kill(target.pid(), SIGTERM) == 0);
    const int status = target.wait_exit(10000);
    INFO("the fixture's own account:\n" << target.output());
    CHECK(status == 0);
    CHECK(report["go_version"].str == f.version);
    CHECK(report["sampled"].b);
    CHECK(report["sample_hz"].num == hz);
    CHECK(report["probes_attached"].u == 0);
    const double t = report["duration_s"].num;
    CHECK(t == Approx(trace_s).epsilon(0.1));
    // It keeps its rate: nearly every scan on time.
    const double scans = report["scans"].num;
    CHECK(scans >= 0.85 * hz * trace_s);
    CHECK(scans <= 1.05 * hz * trace_s + 2);
    CHECK(report["scan_mean_ms"].num > 0);
    CHECK(report["scan_mean_ms"].num < 1000 / hz);
    // Goroutines left out because they changed while read are counted; few.
    CHECK(report["dropped"].num <= 0.01 * report["counters"]["parked_samples"].num);
    CHECK(report["counters"]["drop_scans_failed"].u == 0);

    for (const auto& s : sites(f.minor)) {
      INFO(s.waiter << " / " << s.reason);
      const Json* entry = nullptr;
      std::string seen;  // every entry of the site or the reason, shown when a check fails
      for (const auto& x : report["entries"].arr) {
        if (x["reason"].str == s.reason && first_main(x["stack"]) == s.waiter) entry = &x;
        if (x["reason"].str == s.reason || first_main(x["stack"]) == s.waiter)
          seen += fmt::format("\n  {} at {}: {:.3f}s in {} waits", x["reason"].str, first_main(x["stack"]),
                              x["total_ns"].num / 1e9, x["count"].u);
      }
      INFO("entries of this site or reason:" << seen);
      REQUIRE(entry);
      const Json& e = *entry;
      // Each scan sees each goroutine parked there with probability p: the
      // estimate of its goroutine-time has a binomial spread of
      // sqrt(p(1-p)/scans) of the trace; allow 4 of those, plus 10% for
      // wake-up latency on a busy host and the timing of the ends.
      const double expect_s = s.goroutines * s.parked * t;
      const double sigma = std::sqrt(s.parked * (1 - s.parked) / scans);
      const double tolerance_s = (4 * sigma + 0.10) * s.goroutines * t;
      const double got_s = e["total_ns"].num / 1e9;
      CHECK(got_s >= expect_s - tolerance_s);
      CHECK(got_s <= expect_s + tolerance_s);
      // Distinct waits seen: at least one, never more than the samples.
      CHECK(e["count"].u >= 1);
      CHECK(e["count"].num <= s.goroutines * scans);
      // What sampling cannot know is marked unknown, not made up.
      CHECK(e["p50_ns"].type == Json::Type::Null);
      CHECK(e["p99_ns"].type == Json::Type::Null);
      CHECK(e["max_ns"].type == Json::Type::Null);
      CHECK(e["wakers"].size() == 0);
    }
    // The ranking of probe mode: 4 chanRecvWaiters, then 3 selectWaiters
    // (the next has 2 goroutines).
    REQUIRE(report["entries"].size() >= 2);
    CHECK(first_main(report["entries"][0]["stack"]) == "main.chanRecvWaiter");
    CHECK(first_main(report["entries"][1]["stack"]) == "main.selectWaiter");
    CHECK(report["longest"].size() == 0);

    CHECK(target.output().find("\nok\n") != std::string::npos);
    CHECK(loaded_gotrace_programs().empty());
  }
}

TEST_CASE("block --sample says it is sampled, and writes the same profiles", "[root][sample]") {
  require_bpf_host();
  auto fx = fixtures_of("block", "amd64");
  RunningProgram target(fx.back().path, {"-duration", "4s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  auto tmp = std::filesystem::temp_directory_path();
  std::string pprof = (tmp / fmt::format("gotrace-sample-{}.pprof", getpid())).string();
  std::string folded = (tmp / fmt::format("gotrace-sample-{}.folded", getpid())).string();
  // --sample without a value: 49 Hz. --reason keeps only what it names.
  auto r = run_command(
      fmt::format("{} block -p {} --sample -d 1s --reason chan --no-status --pprof {} --folded {}",
                  GOTRACE_BINARY, target.pid(), pprof, folded));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("sampled, no probes: 49 Hz") != std::string::npos);
  CHECK(r.out.find("main.chanRecvWaiter") != std::string::npos);
  CHECK(r.out.find("main.chanSendWaiter") != std::string::npos);
  CHECK(r.out.find("main.selectWaiter") == std::string::npos);  // select is not in "chan"
  CHECK(r.out.find("main.sleeper") == std::string::npos);
  CHECK(r.out.find("woken by") == std::string::npos);
  CHECK(r.out.find("p50") != std::string::npos);  // "no per-wait p50, p99, max"
  // go tool pprof reads it; the folded stacks carry the same sites.
  auto top = run_command(
      fmt::format("{} tool pprof -top -sample_index=delay {} 2>&1", go_command(), shell_quote(pprof)));
  CHECK(top.status == 0);
  CHECK(top.out.find("main.chanRecvWaiter") != std::string::npos);
  auto flame = run_command(fmt::format("cat {}", shell_quote(folded)));
  CHECK(flame.out.find("main.chanRecvWaiter") != std::string::npos);
  CHECK(flame.out.find("main.sleeper") == std::string::npos);
  std::filesystem::remove(pprof);
  std::filesystem::remove(folded);

  auto zero = run_command(fmt::format("{} block -p {} --sample 0 -d 1s 2>&1", GOTRACE_BINARY, target.pid()));
  CHECK(zero.status == 2);
  CHECK(zero.out.find("bad --sample") != std::string::npos);
  auto min =
      run_command(fmt::format("{} block -p {} --sample --min 1ms -d 1s 2>&1", GOTRACE_BINARY, target.pid()));
  CHECK(min.status == 2);
  CHECK(min.out.find("--min") != std::string::npos);
  CHECK(target.wait_exit(10000) == 0);
}

TEST_CASE("block --sample reports what it collected when the target exits", "[root][sample]") {
  require_bpf_host();
  auto fx = fixtures_of("block", "amd64");
  RunningProgram target(fx.back().path, {"-duration", "1500ms"});
  REQUIRE(target.wait_for_line("ready", 5000));
  auto r = run_command(
      fmt::format("{} block -p {} --sample -d 30s --json --no-status", GOTRACE_BINARY, target.pid()));
  CHECK(r.status == 0);
  Json report = parse_json(r.out);
  CHECK(report["stopped_by"].str == "target exited");
  CHECK_FALSE(report["target_alive"].b);
  CHECK(report["duration_s"].num < 5);
  CHECK(report["entries"].size() > 3);
}

// CPU time (user + system) of the children waited for so far, in seconds.
double children_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A process that once ran 100,000 goroutines keeps 100,000 gs, nearly all
// dead: a scan of it costs far more than one of the few alive. The scans'
// CPU stays within --max-overhead of a CPU (the target here is idle: one
// CPU is the base), the rate falls instead, and the report says so; with
// --no-governor the rate asked is kept (issue 26, item 6).
TEST_CASE("block --sample keeps its scans' CPU within the budget on a process with 100k dead goroutines",
          "[root][sample]") {
  require_bpf_host();
  auto fx = fixtures_of("goroutines", "amd64");
  RunningProgram target(fx.back().path, {"-exited", "100000"});
  REQUIRE(target.wait_for_line("ready", 60000));
  auto traced = [&](const std::string& opts) {
    const double before = children_cpu_s();
    auto r = run_command(fmt::format("{} block -p {} --sample -d 4s --json --no-status {}", GOTRACE_BINARY,
                                     target.pid(), opts));
    const double cpu = children_cpu_s() - before;
    REQUIRE(r.status == 0);
    return std::make_pair(parse_json(r.out), cpu);
  };
  auto [free_run, free_cpu] = traced("--no-governor");
  auto [capped, capped_cpu] = traced("--max-overhead 1");
  INFO("uncapped: " << free_cpu << " s of CPU, " << free_run["sample_hz_reached"].num << " Hz; capped at 1%: "
                    << capped_cpu << " s, " << capped["sample_hz_reached"].num << " Hz");
  CHECK_FALSE(free_run["slowed_by_cap"].b);
  REQUIRE(free_run.has("scan_cpu_cap_pct"));
  CHECK(free_run["scan_cpu_cap_pct"].type == Json::Type::Null);
  CHECK(capped["slowed_by_cap"].b);
  CHECK(capped["scan_cpu_cap_pct"].num == Approx(1.0));
  CHECK(capped["sample_hz_reached"].num < 0.8 * capped["sample_hz"].num);
  // What the scans cost, as measured by gotrace, within the cap: 1% of the
  // time, plus the second's budget it may spend ahead, plus one scan (the
  // last one's cost is not repaid; the end of the trace takes one more) ...
  const double scan_cpu_s = capped["scans"].num * capped["scan_cpu_ms"].num / 1e3;
  CHECK(scan_cpu_s <= 0.01 * (capped["duration_s"].num + 1) + 2 * capped["scan_max_ms"].num / 1e3);
  // ... whose weights still cover the whole trace: every one of the 20
  // goroutines the fixture keeps in chan receive counts the duration.
  bool chan20 = false;
  for (const auto& e : capped["entries"].arr)
    chan20 |= e["reason"].str == "chan receive" &&
              e["total_ns"].num / 1e9 == Approx(20 * capped["duration_s"].num).epsilon(0.05);
  CHECK(chan20);
  // ... and as the kernel counts gotrace's whole run (its start-up included).
  CHECK(capped_cpu < 0.6 * free_cpu);
  CHECK(capped["entries"].size() > 0);
}

TEST_CASE("block means the same in both modes: each site's time blocked inside the traced window",
          "[root][sample]") {
  // The same target, traced at once by probes and by the sampler: each
  // site's goroutine-time blocked per second of trace must agree, including
  // goroutines parked before the trace began and still after it ended (20
  // parked for good in idleWaiter) and waits longer than the trace's edges
  // leave room for (slowWaiter, 700 ms). Probe mode once counted only the
  // waits that ended inside the trace: idleWaiter was missing, and a busy
  // target (sampled by the governor) showed another top list than a quiet one.
  require_bpf_host();
  std::vector<Fixture> fx;
  for (const auto& f : fixtures_of("block", "amd64"))
    if (f.variant == "default") fx.push_back(f);
  REQUIRE(!fx.empty());
  for (const Fixture* f : {&fx.front(), &fx.back()}) {
    INFO(f->label());
    RunningProgram target(f->path, {"-duration", "30s", "-idle", "20", "-slow"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto sampled = std::async(std::launch::async, [&] {
      return run_command(fmt::format("{} block -p {} --sample -d 4s --top 100 --json --no-status",
                                     GOTRACE_BINARY, target.pid()));
    });
    auto probed = run_command(fmt::format("{} block -p {} -d 4s --top 100 --json --no-status --no-governor",
                                          GOTRACE_BINARY, target.pid()));
    auto s = sampled.get();
    REQUIRE(probed.status == 0);
    REQUIRE(s.status == 0);
    Json p = parse_json(probed.out), q = parse_json(s.out);
    REQUIRE(kill(target.pid(), SIGTERM) == 0);
    CHECK(target.wait_exit(10000) == 0);
    INFO("the fixture's own account:\n" << target.output());
    const double tp = p["duration_s"].num, tq = q["duration_s"].num;
    // Goroutine-seconds blocked per second of trace, by (first main frame, reason).
    auto rates = [](const Json& r, double t) {
      std::map<std::pair<std::string, std::string>, double> out;
      for (const auto& e : r["entries"].arr)
        out[{first_main(e["stack"]), e["reason"].str}] += e["total_ns"].num / 1e9 / t;
      return out;
    };
    auto rp = rates(p, tp), rq = rates(q, tq);
    std::string table;
    for (const auto& [k, v] : rq)
      table += fmt::format("\n  {} {}: sampled {:.2f}, probes {:.2f}", k.first, k.second, v,
                           rp.count(k) ? rp[k] : 0.0);
    INFO("goroutines blocked on average, per site:" << table);
    size_t compared = 0;
    for (const auto& [k, v] : rq) {
      if (v < 0.5 || k.first.empty()) continue;
      INFO(k.first << " / " << k.second);
      REQUIRE(rp.count(k));
      CHECK(rp[k] >= 0.85 * v - 0.05);
      CHECK(rp[k] <= 1.15 * v + 0.05);
      ++compared;
    }
    CHECK(compared >= 9);
    // The goroutines parked for good: one open wait each, the whole trace long.
    const Json* idle = nullptr;
    for (const auto& e : p["entries"].arr)
      if (first_main(e["stack"]) == "main.idleWaiter") idle = &e;
    REQUIRE(idle);
    CHECK((*idle)["count"].u == 20);
    CHECK((*idle)["open"].u == 20);
    CHECK((*idle)["total_ns"].num == Approx(20 * tp * 1e9).epsilon(0.05));
    CHECK(p["counters"]["waits_open_all_along"].u >= 20);
    // The probes' stacks and the snapshot's are one: no site twice.
    std::set<std::pair<std::string, std::string>> keys;
    for (const auto& e : p["entries"].arr) {
      std::string frames;
      for (const auto& fr : e["stack"].arr)
        frames += fr["func"].str + ":" + std::to_string(fr["line"].u) + " ";
      INFO(frames);
      CHECK(keys.insert({frames, e["reason"].str}).second);
    }
  }
}
