// The exit codes of the table in --help and the README, each produced by the
// real binary. Bad numbers and lists are refused before any target is opened
// (so these need no root and no process to trace).
#include <fmt/format.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

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
  // Each command's help shows its own options and notes: --min and the
  // percentile note belong to the commands that time waits.
  for (const char* cmd : {"block", "lock", "alloc", "goroutines"}) {
    INFO(cmd);
    auto h = run_gotrace(fmt::format("{} --help", cmd));
    CHECK(h.status == 0);
    CHECK(h.out.find("Exit codes: 0") != std::string::npos);
    const bool waits = std::string(cmd) == "block" || std::string(cmd) == "lock";
    CHECK((h.out.find("--min ") != std::string::npos) == waits);
    CHECK((h.out.find("Percentiles") != std::string::npos) == waits);
  }
  CHECK(run_gotrace("alloc -p 2 --min 1ms").status == 2);  // taken and ignored before
}

TEST_CASE("an output path that cannot be written fails before tracing, exit 3", "[cli]") {
  auto r = run_gotrace("block -p 1 -d 1s --folded /nonexistent-dir/x.folded");
  CHECK(r.status == 3);
  CHECK(r.out.find("No such file or directory") != std::string::npos);
  auto p = run_gotrace("lock -p 1 -d 1s --pprof /nonexistent-dir/x.pb.gz");
  CHECK(p.status == 3);
}

TEST_CASE("empty values, hex numbers and unknown list items are usage errors", "[cli]") {
  // PID 2 (kthreadd, or no process): were one accepted, the run fails at
  // once. Before: -d '' traced until Ctrl-C, --min '' and --kind all,nosuch were
  // taken, and -d 0x10s meant 16 seconds (strtod reads hex); CLI11 took
  // --top '' as 0 (all) and -p 0x2 as 2.
  for (const char* args : {"block -p 2 -d ''",
                           "block -p 2 --min ''",
                           "lock -p 2 --kind all,nosuch",
                           "lock -p 2 --kind nosuch,all",
                           "block -p 2 -d 0x10s",
                           "alloc -p 2 -d 0x10",
                           "block -p 2 -d ' 5s'",
                           "block -p 2 -d 1e1s",
                           "block -p 2 -d infs",
                           "lock -p 2 --min 0x1ms",
                           "goroutines -p 2 --watch ''",
                           "goroutines -p 2 -d ''",
                           "goroutines -p 2 --min-wait ''",
                           "goroutines -p 2 --watch 0x10s",
                           "goroutines -p 2 -d 0x10s",
                           "goroutines -p 2 --top ''",
                           "goroutines -p 2 --top 0x10",
                           "block -p 2 --top ''",
                           "block -p 2 --top 0x10",
                           "block -p 0x2 -d 1s",
                           "goroutines -p 0x2",
                           "info -p 0x2",
                           "block -p 2 --sample 0x10",
                           "block -p 2 --max-overhead ''",
                           "block -p 2 --max-overhead 0x5"}) {
    INFO(args);
    auto r = run_gotrace(args);
    INFO(r.out);
    CHECK(r.status == 2);
    CHECK(!r.out.empty());
  }
}

namespace {
std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("a run that fails leaves existing output files as they were", "[cli]") {
  char tmpl[] = "/tmp/gotrace-outputs-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::string dir = tmpl;
  const std::string pprof = dir + "/old.pb.gz", folded = dir + "/old.folded", svg = dir + "/old.svg";
  for (const auto& p : {pprof, folded, svg}) std::ofstream(p) << "precious " << p;
  // PID 2: a kernel thread or no process at all, never a Go program.
  for (std::string args : {"block -p 2 -d 1s --pprof " + pprof + " --folded " + folded,
                           "lock -p 2 -d 1s --pprof " + pprof, "alloc -p 2 -d 1s --folded " + folded,
                           "block -p 2 -d 1s --sample --pprof " + pprof + " --folded " + folded,
                           "goroutines -p 2 --pprof " + pprof + " --folded " + folded,
                           "goroutines -p 2 --watch 100ms -d 300ms --svg " + svg}) {
    INFO(args);
    auto r = run_gotrace(args);
    INFO(r.out);
    CHECK(r.status == 1);
    for (const auto& p : {pprof, folded, svg}) CHECK(read_all(p) == "precious " + p);
  }
  // Nothing else was left in the directory (no temporary files).
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  CHECK(entries == 3);
  std::filesystem::remove_all(dir);
}
