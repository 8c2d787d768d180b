// The overhead governor's arithmetic and how reports show its decisions.
#include "gotrace/model/overhead_budget.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"

using namespace gotrace;

namespace {
TraceCost cost(uint64_t estimated_ns, uint64_t target_cpu_ns) {
  TraceCost c;
  c.known = true;
  c.estimated_ns = estimated_ns;
  c.target_cpu_ns = target_cpu_ns;
  return c;
}
}  // namespace

TEST_CASE("a window is over budget when it costs more than the share and more than the allowance",
          "[governor]") {
  OverheadBudget b;  // 5%, and always 0.5% of one CPU (5 ms of CPU per second)
  CHECK(b.floor_ns_per_s == Approx(5e6));
  // 20 ms of probes out of 200 ms of the target's CPU in a second: 10%.
  auto over = check_budget(cost(20'000'000, 200'000'000), 1.0, b);
  CHECK(over.share == Approx(0.10));
  CHECK(over.cost_ns_per_s == Approx(20e6));
  CHECK(over.over);
  // 4% is within it.
  CHECK_FALSE(check_budget(cost(8'000'000, 200'000'000), 1.0, b).over);
  // A nearly idle target: 50% of its CPU, but 0.5 ms a second: not over.
  auto idle = check_budget(cost(500'000, 1'000'000), 1.0, b);
  CHECK(idle.share == Approx(0.5));
  CHECK_FALSE(idle.over);
  // A quiet target on a loaded host (a few hundred parks a second, 2% of a
  // CPU): probes costing it 2 ms of CPU a second are 10% of its CPU, twice
  // the budget, but within the allowance: kept.
  auto quiet = check_budget(cost(2'000'000, 20'000'000), 1.0, b);
  CHECK(quiet.share == Approx(0.10));
  CHECK_FALSE(quiet.over);
  // Just under and just over the allowance, at the same share.
  CHECK_FALSE(check_budget(cost(4'900'000, 49'000'000), 1.0, b).over);
  CHECK(check_budget(cost(5'100'000, 51'000'000), 1.0, b).over);
  // Per second: 3 ms over half a second is 6 ms/s, over.
  CHECK(check_budget(cost(3'000'000, 30'000'000), 0.5, b).over);
  // A bigger budget keeps more.
  b.max_share = 0.25;
  CHECK_FALSE(check_budget(cost(20'000'000, 200'000'000), 1.0, b).over);
  // Unknown cost (no BPF statistics) or an empty window is never over.
  TraceCost unknown = cost(20'000'000, 200'000'000);
  unknown.known = false;
  CHECK_FALSE(check_budget(unknown, 1.0, b).over);
  CHECK_FALSE(check_budget(cost(20'000'000, 200'000'000), 0, b).over);
}

TEST_CASE("a window is judged after a second, sooner for a busy target, soonest when flagrant",
          "[governor]") {
  OverheadBudget b;  // 5%
  // An idle target: only after a second, whatever it costs.
  CHECK_FALSE(window_ready(cost(5'000'000, 10'000'000), 0.9, b));
  CHECK(window_ready(cost(5'000'000, 10'000'000), 1.0, b));
  // A busy one (100 ms of CPU): after a quarter of a second, over budget or not.
  CHECK_FALSE(window_ready(cost(1'000'000, 100'000'000), 0.2, b));
  CHECK(window_ready(cost(1'000'000, 100'000'000), 0.25, b));
  // Flagrantly over (20% = 4x the budget) with 30 ms of CPU: after a tenth.
  CHECK(window_ready(cost(6'000'000, 30'000'000), 0.1, b));
  CHECK_FALSE(window_ready(cost(6'000'000, 30'000'000), 0.09, b));
  // Over, but not flagrantly (10%): wait for more CPU time.
  CHECK_FALSE(window_ready(cost(3'000'000, 30'000'000), 0.1, b));
  // Flagrant on too little CPU time (two ticks of /proc/PID/stat): wait.
  CHECK_FALSE(window_ready(cost(10'000'000, 20'000'000), 0.1, b));
  // Flagrant by share, but under the floor of 1 ms of CPU per second: not over, wait.
  // (0.3% of a 0.05% budget, but 0.9 ms of CPU per second.)
  CHECK_FALSE(window_ready(cost(90'000, 30'000'000), 0.1, OverheadBudget{0.0005, 1'000'000}));
  CHECK(window_ready(cost(110'000, 30'000'000), 0.1, OverheadBudget{0.0005, 1'000'000}));
  // The rule scales with the budget: 20% is not flagrant for a 10% budget.
  CHECK_FALSE(window_ready(cost(6'000'000, 30'000'000), 0.1, OverheadBudget{0.10, 1'000'000}));
}

TEST_CASE("reports show the governor's budget and decisions", "[governor][report]") {
  TraceSummary s;
  s.governor.on = true;
  s.governor.max_share = 0.05;
  s.governor.allowance_cpu_share = OverheadBudget{}.floor_ns_per_s / 1e9;
  s.governor.steps.push_back({1.0, 0.234, 21e6, "dropped the wait chains (--no-chains) and started again"});
  std::ostringstream text;
  write_summary_text(s, text);
  CHECK(text.str().find("Overhead governor (budget 5% of the target's CPU, and always 0.5% of one CPU): 1.0s "
                        "in, the probes cost ~23.4% (21.0ms of CPU per second): dropped the wait chains") !=
        std::string::npos);

  std::ostringstream json;
  {
    JsonWriter j(json, false);
    j.begin_object();
    write_summary_json_fields(j, s);
    j.end();
  }
  CHECK(
      json.str().find(
          R"("governor":{"on":true,"max_overhead_pct":5,"allowance_cpu_pct":0.5,"steps":[{"at_s":1,"share":0.234,)") !=
      std::string::npos);

  // A trace the governor did not watch (block --sample, goroutines) has no
  // governor field.
  TraceSummary unwatched;
  std::ostringstream plain;
  {
    JsonWriter j(plain, false);
    j.begin_object();
    write_summary_json_fields(j, unwatched);
    j.end();
  }
  CHECK(plain.str().find("governor") == std::string::npos);
}
