// The pprof and folded-stack outputs, read back by the Go toolchain's own
// `go tool pprof` (so the encoding is checked by the reader users have).
#include "gotrace/report/profile_writers.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands/block/block_writer.h"
#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

TEST_CASE("pprof and folded profiles of a block report read back with go tool pprof", "[report][pprof]") {
  auto fx = fixtures_of("block", "amd64");
  REQUIRE(!fx.empty());
  const Fixture& f = fx.back();
  auto bin = GoBinary::open(f.path);
  REQUIRE(bin);
  const Pclntab& tab = (*bin)->pclntab();
  auto pc_in = [&](std::string_view name) {
    auto fn = tab.function_by_name(name);
    REQUIRE(fn);
    return fn->entry + 1;
  };
  BlockReport r;
  r.stacks = std::make_shared<StackTable>(tab, 0);
  r.stacks->add(7, {pc_in("runtime.gopark"), pc_in("main.chanRecvWaiter") + 1, pc_in("runtime.goexit") + 1});
  r.summary.pid = 42;
  r.summary.comm = "block";
  r.summary.go_version = f.version;
  r.summary.duration_s = 2;
  BlockEntry e;
  e.stack_id = 7;
  e.reason_name = "chan receive";
  e.count = 3;
  e.total_ns = 3'000'000;
  r.entries.push_back(e);

  auto dir = std::filesystem::temp_directory_path() / fmt::format("gotrace-pprof-{}", getpid());
  std::filesystem::create_directories(dir);
  std::string pprof = (dir / "block.pb.gz").string(), folded = (dir / "block.folded").string();
  ProfileData data = block_profile(r, f.path);
  REQUIRE(write_pprof(data, *r.stacks, pprof));
  REQUIRE(write_folded(data, *r.stacks, folded, 1));

  auto raw = run_command(fmt::format("{} tool pprof -raw {} 2>&1", go_command(), shell_quote(pprof)));
  INFO(raw.out);
  REQUIRE(raw.status == 0);
  CHECK(raw.out.find("contentions/count delay/nanoseconds") != std::string::npos);
  CHECK(raw.out.find(" 3    3000000: 1 2 3") != std::string::npos);  // values, then the three locations
  CHECK(raw.out.find("main.chanRecvWaiter") != std::string::npos);
  CHECK(raw.out.find("reason:[chan receive]") != std::string::npos);
  auto top = run_command(
      fmt::format("{} tool pprof -top -sample_index=delay {} 2>&1", go_command(), shell_quote(pprof)));
  INFO(top.out);
  CHECK(top.status == 0);
  CHECK(top.out.find("runtime.gopark") != std::string::npos);  // the leaf carries the flat time

  std::ifstream in(folded);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == "runtime.goexit;main.chanRecvWaiter;runtime.gopark;[chan receive] 3000000");
  std::filesystem::remove_all(dir);
}
