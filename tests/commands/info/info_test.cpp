// `gotrace info` as a user runs it: on fixture binaries (text and JSON), on a
// running fixture by PID, and on bad input (each one clear line, non-zero).
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>

#include "support/fixtures.h"

using namespace gotrace::test;

namespace {
std::string gotrace_cmd() { return GOTRACE_BINARY; }
}  // namespace

TEST_CASE("info --json carries the documented keys for every fixture", "[cli]") {
  for (const auto& f : fixtures_of("analyze")) {
    INFO(f.label());
    auto r = run_command(gotrace_cmd() + " info --json --binary " + shell_quote(f.path));
    REQUIRE(r.status == 0);
    for (const char* key :
         {"\"go_version\"", "\"arch\"", "\"pie\"", "\"stripped\"", "\"dwarf\"", "\"offsets\"",
          "\"wait_reasons\"", "\"probes\"", "\"file_offset\"", "\"site\"", "\"rets\""})
      CHECK(r.out.find(key) != std::string::npos);
    CHECK(r.out.find(fmt::format("\"go_version\": \"{}\"", f.version)) != std::string::npos);
    CHECK(r.out.find(fmt::format("\"arch\": \"{}\"", f.arch)) != std::string::npos);
    CHECK(r.out.find(fmt::format("\"stripped\": {}", f.variant == "stripped" ? "true" : "false")) !=
          std::string::npos);
    CHECK(r.out.find("\"function\": \"runtime.gopark\"") != std::string::npos);
  }
}

TEST_CASE("info on a running Go program by PID", "[cli]") {
  auto fx = fixtures_of("block", "amd64");
  const Fixture* f = nullptr;
  for (const auto& x : fx)
    if (x.variant == "pie") f = &x;
  REQUIRE(f);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    execl(f->path.c_str(), f->path.c_str(), "-duration", "20s", nullptr);
    _exit(127);
  }
  usleep(300000);
  auto r = run_command(fmt::format("{} info -p {}", gotrace_cmd(), pid));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  REQUIRE(r.status == 0);
  CHECK(r.out.find(fmt::format("PID {} (block)", pid)) != std::string::npos);
  CHECK(r.out.find("Load bias") != std::string::npos);  // a PIE is relocated
  CHECK(r.out.find("runtime.gopark") != std::string::npos);
  CHECK(r.out.find("Can trace") != std::string::npos);
}

TEST_CASE("info refuses bad targets with one clear line", "[cli]") {
  auto not_go = run_command(gotrace_cmd() + " info --binary /bin/true 2>&1");
  CHECK(not_go.status == 1);
  CHECK(not_go.out.find("not a Go program") != std::string::npos);
  CHECK(std::count(not_go.out.begin(), not_go.out.end(), '\n') == 1);

  auto no_pid = run_command(gotrace_cmd() + " info -p 999999999 2>&1");
  CHECK(no_pid.status == 1);
  CHECK(no_pid.out.find("no process with PID 999999999") != std::string::npos);

  auto no_target = run_command(gotrace_cmd() + " info 2>&1");
  CHECK(no_target.status == 2);
}
