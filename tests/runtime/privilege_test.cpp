// Messages about rights give the real reason, read from the capabilities
// gotrace holds (/proc/self/status) and the target's user and capabilities
// (/proc/PID/status). Running gotrace without CAP_SYS_PTRACE and a target as
// another user needs root to set up, hence [root]; no BPF is used.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "support/fixtures.h"

using namespace gotrace::test;

TEST_CASE(
    "another user's plain process: gotrace without CAP_SYS_PTRACE is told that, not that the "
    "target holds capabilities",
    "[root][privilege]") {
  REQUIRE(geteuid() == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    execlp("setpriv", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
           "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  // setpriv has exec'd sleep once /proc/PID/status shows uid 65534.
  bool as_nobody = false;
  for (int i = 0; i < 200 && !as_nobody; ++i) {
    auto r = run_command(fmt::format("awk '/^Uid:/ {{print $2}}' /proc/{}/status", child));
    as_nobody = r.out == "65534\n";
    if (!as_nobody) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(as_nobody);
  for (const char* cmd : {"block -d 1s", "goroutines"}) {
    auto r =
        run_command(fmt::format("setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace {} {} -p {} 2>&1",
                                GOTRACE_BINARY, cmd, child));
    INFO(cmd << ": " << r.out);
    CHECK(r.status == 1);
    CHECK(r.out.find("holds capabilities") == std::string::npos);  // sleep holds none
    CHECK(r.out.find("uid 65534") != std::string::npos);
    CHECK(r.out.find("without CAP_SYS_PTRACE") != std::string::npos);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}
