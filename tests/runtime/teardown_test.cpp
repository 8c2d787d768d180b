// Teardown: after a trace the probes must come off the target fast (the
// breakpoints stay in it until they do). Perf-event uprobes come off one at
// a time, each waiting for every CPU to leave it (a dozen took about a
// second); multi-uprobe links take a program's sites off together.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "support/fixtures.h"
#include "support/json.h"
#include "support/process.h"

using namespace gotrace::test;

TEST_CASE("every tracing command takes its probes off in under half a second and says what it cost",
          "[root][teardown]") {
  require_bpf_host();
  const Fixture f = fixtures_of("lock", "amd64").back();
  INFO(f.label());
  RunningProgram target(f.path, {"-duration", "10s"});
  REQUIRE(target.wait_for_line("ready", 5000));

  auto info = run_command(fmt::format("{} info -p {} --json", GOTRACE_BINARY, target.pid()));
  REQUIRE(info.status == 0);
  // This kernel (6.18, as in CI) has multi-uprobe links; the fast teardown rests on them.
  const Json host = parse_json(info.out)["host"];
  REQUIRE(host["uprobe_multi"].b);
  CHECK(host["trap_ns_per_hit"].num > 50);  // info shows the calibration the reports use

  struct Run {
    const char* args;
    size_t min_probes;
  };
  // lock with the runtime's own locks attaches the most probes of all.
  for (const Run& run : {Run{"block", 4}, Run{"lock --kind all", 10}, Run{"alloc", 1}}) {
    INFO(run.args);
    auto r = run_command(fmt::format("{} {} -p {} -d 0.5s --json --no-status --no-governor", GOTRACE_BINARY,
                                     run.args, target.pid()));
    REQUIRE(r.status == 0);
    Json report = parse_json(r.out);
    CHECK(report["probes_attached"].u >= run.min_probes);
    CHECK(report["detach_s"].num > 0);
    CHECK(report["detach_s"].num < 0.5);

    // What the trace cost the target, from the kernel's BPF statistics and
    // the trap cost measured at start.
    const Json& cost = report["cost"];
    REQUIRE(cost.type == Json::Type::Object);
    const double hits = cost["probe_hits"].num, trap = cost["trap_ns_per_hit"].num;
    CHECK(trap > 50);       // a trap into the kernel and back
    CHECK(trap < 100'000);  // and not a stall
    CHECK(cost["estimated_ns"].num == Approx(hits * trap + cost["bpf_ns"].num).epsilon(0.001).margin(2));
    CHECK(cost["target_cpu_ns"].num > 0);
    if (std::string(run.args) != "alloc") {  // the lock fixture parks all the time
      CHECK(hits > 0);
      CHECK(cost["bpf_ns"].num > 0);
      // Every accepted park was one gopark hit; the wakes (one hit may end
      // several waits) and releases are more.
      CHECK(hits > report["counters"]["parks"].num);
      CHECK(cost["share"].num > 0);
    }
  }
  CHECK(loaded_gotrace_programs().empty());
  CHECK(target.wait_exit(30000) == 0);
  CHECK(target.output().find("\nok\n") != std::string::npos);
}
