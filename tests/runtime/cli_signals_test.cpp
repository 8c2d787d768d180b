// Signals and output errors as a shell delivers them: a Ctrl-C during
// startup stops gotrace with exit 130 and nothing attached; a closed stdout
// or a full disk is exit 3, never a report claimed as written.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include "support/fixtures.h"
#include "support/process.h"

using namespace gotrace::test;

namespace {

// Whether pid runs gotrace (the fork has exec'd) and has a handler for sig
// (SigCgt in /proc/PID/status). Before the exec the child is a copy of this
// test, with the test framework's handlers.
bool catches(pid_t pid, int sig) {
  std::ifstream comm(fmt::format("/proc/{}/comm", pid));
  std::string name;
  if (!std::getline(comm, name) || name != "gotrace") return false;
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("SigCgt:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1;
  return false;
}

}  // namespace

TEST_CASE("a signal during startup stops gotrace cleanly with exit 130", "[root][signals]") {
  require_bpf_host();
  auto fx = fixtures_of("block", "amd64");
  REQUIRE(!fx.empty());
  RunningProgram target(fx.front().path, {"-duration", "20s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    INFO(strsignal(sig));
    RunningProgram g(GOTRACE_BINARY,
                     {"block", "-p", std::to_string(target.pid()), "-d", "30s", "--no-governor"});
    // As soon as its handlers are in (the first thing main does), well
    // before the binary is analysed and the programs are loaded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!catches(g.pid(), sig) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    REQUIRE(catches(g.pid(), sig));
    kill(g.pid(), sig);
    CHECK(g.wait_exit(10000) == 130);
    CHECK(g.output().empty());  // no report: the trace never began
  }
  CHECK(loaded_gotrace_programs().empty());
}

TEST_CASE("a closed stdout or a full disk is exit 3", "[root][signals]") {
  require_bpf_host();
  auto fx = fixtures_of("block", "amd64");
  REQUIRE(!fx.empty());
  RunningProgram target(fx.front().path, {"-duration", "20s"});
  REQUIRE(target.wait_for_line("ready", 5000));
  // The reader is gone before the report is written: EPIPE, quietly.
  auto piped = run_command(fmt::format(
      "bash -c 'set -o pipefail; {} block -p {} -d 1s --no-status --no-governor 2>/dev/null | true'",
      GOTRACE_BINARY, target.pid()));
  CHECK(piped.status == 3);
  auto full = run_command(
      fmt::format("{} block -p {} -d 1s --no-status --no-governor --folded /dev/full >/dev/null 2>&1",
                  GOTRACE_BINARY, target.pid()));
  CHECK(full.status == 3);
  auto full_stdout = run_command(fmt::format("{} block -p {} -d 1s --no-status --no-governor >/dev/full 2>&1",
                                             GOTRACE_BINARY, target.pid()));
  CHECK(full_stdout.status == 3);
}
