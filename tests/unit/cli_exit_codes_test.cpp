// The exit codes of the table in --help and the README, each produced by the
// real binary. Bad numbers and lists are refused before any target is opened
// (so these need no root and no process to trace).
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "support/fixtures.h"

using namespace gotrace::test;

namespace {
CommandResult run_gotrace(const std::string& args) {
  return run_command(fmt::format("{} {} 2>&1", GOTRACE_BINARY, args));
}
}  // namespace

TEST_CASE("usage errors exit 2 with one line, before the target is opened", "[cli]") {
  for (const char* args :
       {"block --bogus", "block", "block -p 0", "block -p -5", "block -p abc", "lock -p 1 -d inf",
        "lock -p 1 -d nan", "block -p 1 -d 1e300s", "block -p 1 -d 0s", "block -p 1 --min nan",
        "block -p 1 --min -1ms", "block -p 1 --top -1", "block -p 1 --top 0", "block -p 1 --reason ''",
        "lock -p 1 --kind ''", "lock -p 1 --kind spinlock", "info", "nosuchcommand"}) {
    INFO(args);
    auto r = run_gotrace(args);
    CHECK(r.status == 2);
    CHECK(!r.out.empty());
  }
}

TEST_CASE("--help and --version exit 0 and name the exit codes", "[cli]") {
  auto help = run_gotrace("--help");
  CHECK(help.status == 0);
  CHECK(help.out.find("Exit codes: 0") != std::string::npos);
  CHECK(help.out.find("130") != std::string::npos);
  CHECK(run_gotrace("--version").status == 0);
}

TEST_CASE("an output path that cannot be written fails before tracing, exit 3", "[cli]") {
  auto r = run_gotrace("block -p 1 -d 1s --folded /nonexistent-dir/x.folded");
  CHECK(r.status == 3);
  CHECK(r.out.find("No such file or directory") != std::string::npos);
  auto p = run_gotrace("lock -p 1 -d 1s --pprof /nonexistent-dir/x.pb.gz");
  CHECK(p.status == 3);
}
