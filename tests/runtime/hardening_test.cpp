// Hardening: a target that becomes another program while gotrace attaches
// or traces, and a gotrace killed with SIGKILL at any moment, must leave the
// target running with its code equal to its file (no breakpoint at the old
// program's offsets in the new one, no breakpoint left behind).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "support/fixtures.h"
#include "support/json.h"
#include "support/process.h"

using namespace gotrace::test;

namespace {

std::string exe_of(pid_t pid) {
  char buf[4096];
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Runs gotrace with its stderr merged into the output RunningProgram reads.
std::unique_ptr<RunningProgram> start_gotrace(const std::string& args, const std::string& env = "") {
  return std::make_unique<RunningProgram>(
      "/bin/sh",
      std::vector<std::string>{"-c", fmt::format("{} exec {} {} 2>&1", env, GOTRACE_BINARY, args)});
}

bool wait_until(const std::function<bool()>& f, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

}  // namespace

TEST_CASE("a target that execs while gotrace attaches or traces gets no probe in its new program",
          "[root][hardening]") {
  require_bpf_host();
  // The old program and a different one to become: their code differs, so
  // the old program's probe offsets fall anywhere in the new one's.
  const Fixture before = fixtures_of("hotpark", "amd64").back();
  Fixture after;
  for (const Fixture& f : fixtures_of("lock", "amd64"))
    if (f.variant == "default") after = f;  // (the newest: the matrix's last default build)
  for (const Fixture& f : fixtures_of("lock", "amd64"))
    if (f.variant == "default" && f.minor != before.minor) after = f;  // another release where there is one
  REQUIRE(!after.path.empty());
  INFO(before.label() << " execs " << after.label());

  SECTION("exec between the check and the attach: the probes go on the old file, gotrace stops") {
    RunningProgram target(before.path, {"-exec-on-usr2", after.path, "-rate", "2000", "-duration", "30s",
                                        "--", "-duration", "4s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto g = start_gotrace(fmt::format("lock -p {} --no-governor -d 5s --no-status", target.pid()),
                           "GOTRACE_TEST_DELAY_ATTACH_MS=1500");
    REQUIRE(g->wait_for_line("gotrace: test: attaching in", 60000));
    REQUIRE(kill(target.pid(), SIGUSR2) == 0);
    REQUIRE(wait_until([&] { return exe_of(target.pid()) == after.path; }, 1400));
    const int rc = g->wait_exit(60000);
    INFO(g->output());
    CHECK(rc == 1);
    CHECK(g->output().find("exec'd a new program") != std::string::npos);
    // The new program's code is its file's, byte for byte, and it runs to
    // its end checking its own invariants.
    CHECK(code_differences_after(target.pid(), 3000).empty());
    CHECK(target.wait_exit(30000) == 0);
    CHECK(target.output().find("\nok") != std::string::npos);
  }

  SECTION("goroutines --leaks attaches through the same check: an exec before it is refused") {
    RunningProgram target(before.path, {"-exec-on-usr2", after.path, "-rate", "2000", "-duration", "30s",
                                        "--", "-duration", "4s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto g =
        start_gotrace(fmt::format("goroutines -p {} --watch 500ms --leaks -d 5s --no-status", target.pid()),
                      "GOTRACE_TEST_DELAY_ATTACH_MS=1500");
    REQUIRE(g->wait_for_line("gotrace: test: attaching in", 60000));
    REQUIRE(kill(target.pid(), SIGUSR2) == 0);
    REQUIRE(wait_until([&] { return exe_of(target.pid()) == after.path; }, 1400));
    const int rc = g->wait_exit(60000);
    INFO(g->output());
    CHECK(rc == 1);
    CHECK(g->output().find("exec'd a new program") != std::string::npos);
    CHECK(code_differences_after(target.pid(), 3000).empty());
    CHECK(target.wait_exit(30000) == 0);
  }

  SECTION("exec mid-trace: the trace ends there with what it saw, and says why") {
    RunningProgram target(before.path, {"-exec-on-usr2", after.path, "-rate", "2000", "-duration", "30s",
                                        "--", "-duration", "4s"});
    REQUIRE(target.wait_for_line("ready", 5000));
    auto g = start_gotrace(fmt::format("block -p {} --no-governor -d 20s --no-status --json", target.pid()));
    // Attached once its breakpoints are in the target's code.
    REQUIRE(wait_until([&] { return !code_differences(target.pid()).empty(); }, 60000));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    REQUIRE(kill(target.pid(), SIGUSR2) == 0);
    const int rc = g->wait_exit(20000);
    INFO(g->output());
    CHECK(rc == 0);
    CHECK(g->output().find("exec'd a new program") != std::string::npos);
    const auto brace = g->output().find("\n{");
    REQUIRE(brace != std::string::npos);
    const Json report = parse_json(g->output().substr(brace + 1));
    CHECK(report["stopped_by"].str == "target exec'd a new program");
    CHECK(report["events"].u > 0);  // what it saw before the exec
    CHECK(code_differences_after(target.pid(), 3000).empty());
    CHECK(target.wait_exit(30000) == 0);
  }
}

// A SIGKILL of gotrace while it detaches (a `kill -9` after a slow Ctrl-C,
// `timeout -k`) used to interrupt the kernel's removal of a breakpoint,
// which then left the int3 in the target for good ("leaking uprobe"). Each
// run here kills gotrace at a random moment of its detach, or of its
// start, trace and governor switch; the target's code must come back to
// its file's. GOTRACE_KILL_RUNS sets the runs per command (soak: 100).
TEST_CASE("a SIGKILL of gotrace at any moment leaves no breakpoint in the target", "[root][hardening]") {
  require_bpf_host();
  const char* env = std::getenv("GOTRACE_KILL_RUNS");
  const int runs = env ? std::atoi(env) : 6;
  const Fixture lock = fixtures_of("lock", "amd64").back();
  const Fixture hot = fixtures_of("hotpark", "amd64").back();
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  const unsigned seed = rng();
  rng.seed(seed);
  INFO("seed " << seed);

  struct Case {
    const char* args;
    const Fixture* target;
    std::vector<std::string> target_args;
  };
  // block on the saturated ping-pong: the governor switches to sampling
  // (its probes come off) within a second.
  const Case cases[] = {
      {"alloc --no-governor", &lock, {"-duration", "600s"}},
      {"lock --no-governor --kind all", &lock, {"-duration", "600s", "-runtime-contention"}},
      {"block", &hot, {"-duration", "600s"}},
  };
  for (const Case& c : cases) {
    RunningProgram target(c.target->path, c.target_args);
    REQUIRE(target.wait_for_line("ready", 5000));
    for (int i = 0; i < runs; ++i) {
      // Three moments: the detach after a Ctrl-C; anywhere from the start
      // (the attach among it); anywhere in the trace (the governor's switch
      // among it, for block).
      const int mode = i % 3;
      const int delay_ms = std::uniform_int_distribution<int>(0, mode == 0   ? 40
                                                                 : mode == 1 ? 2500
                                                                             : 1200)(rng);
      INFO(c.args << " run " << i << ": SIGKILL " << delay_ms << " ms after "
                  << (mode == 0   ? "a SIGINT"
                      : mode == 1 ? "the start"
                                  : "tracing began"));
      auto g = start_gotrace(fmt::format("{} -p {} -d 30s --no-status", c.args, target.pid()));
      if (mode != 1) REQUIRE(g->wait_for_line("Tracing", 60000));
      if (mode == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        kill(g->pid(), SIGINT);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      kill(g->pid(), SIGKILL);
      g->wait_exit(10000);
      const auto left = code_differences_after(target.pid(), 5000);
      INFO(left.size() << " bytes of the target's code differ from its file");
      CHECK(left.empty());
      REQUIRE(kill(target.pid(), 0) == 0);
    }
    CHECK(kill(target.pid(), SIGKILL) == 0);
  }
  CHECK(wait_until([] { return loaded_gotrace_programs().empty(); }, 5000));
}

// From inside a PID namespace (a debug sidecar, `unshare --pid`), -p takes
// the namespace's PID while the kernel's programs see the host's: the
// probes fired for the target and were all thrown away (0 events, 65% of
// the target's CPU spent for nothing).
TEST_CASE("gotrace in a PID namespace traces a target of that namespace", "[root][hardening]") {
  require_bpf_host();
  REQUIRE(run_command("command -v unshare >/dev/null").status == 0);
  const Fixture hot = fixtures_of("hotpark", "amd64").back();
  const Fixture alloc = fixtures_of("alloc", "amd64").back();
  struct Case {
    const Fixture* target;
    std::string target_args, args, events_counter;
  };
  for (const Case& c : {Case{&hot, "-rate 2000 -duration 8s", "block --no-governor", "parks"},
                        Case{&alloc, "-interval 5ms -duration 8s", "alloc --no-governor", "alloc_samples"}}) {
    INFO(c.args);
    // The target is PID 2 or so in there; gotrace is given that PID.
    auto r = run_command(
        fmt::format("unshare --pid --fork --mount-proc /bin/sh -c '{} {} >/dev/null 2>&1 & t=$!; sleep 1.5; "
                    "echo \"namespace pid $t\" >&2; {} {} -p $t -d 2s --json --no-status'",
                    c.target->path, c.target_args, GOTRACE_BINARY, c.args));
    REQUIRE(r.status == 0);
    const Json report = parse_json(r.out);
    CHECK(report["pid"].u < 100);  // a PID of the namespace
    CHECK(report["events"].u > 0);
    CHECK(report["counters"]["hits_other_process"].u == 0);
    CHECK(report["counters"][c.events_counter].u > 0);
  }
}

// A PID reused while gotrace attaches: the process with that PID is another
// one (here another Go program, which gotrace must leave alone). In a PID
// namespace of its own the test can hand the old PID to the new process
// (/proc/sys/kernel/ns_last_pid).
TEST_CASE("a PID reused while gotrace attaches is refused, and the new process is left alone",
          "[root][hardening]") {
  require_bpf_host();
  const Fixture hot = fixtures_of("hotpark", "amd64").back();
  Fixture other;
  for (const Fixture& f : fixtures_of("lock", "amd64"))
    if (f.variant == "default") other = f;
  REQUIRE(!other.path.empty());
  const std::string dir = fmt::format("/tmp/gotrace-reuse-{}", getpid());
  REQUIRE(run_command(fmt::format("rm -rf {0} && mkdir -p {0}", dir)).status == 0);
  // In the namespace: the old target, gotrace on it (waiting before its
  // attach), the old target killed, the new one started with the same PID;
  // then gotrace's exit status and output, and whether the new one's code
  // is still its file's (gotrace's own info -p says).
  const std::string script = fmt::format(
      R"(cd {dir}
{hot} -rate 1000 -duration 30s >old.out 2>&1 & old=$!
sleep 1
GOTRACE_TEST_DELAY_ATTACH_MS=2000 {g} block -p $old --no-governor -d 3s --no-status >g.out 2>g.err & g=$!
for i in $(seq 600); do grep -q 'attaching in' g.err && break; sleep 0.1; done
grep -q 'attaching in' g.err || {{ echo never-attaching > pids; exit 0; }}
kill -9 $old; wait $old 2>/dev/null
echo $((old - 1)) > /proc/sys/kernel/ns_last_pid
{other} -duration 5s >new.out 2>&1 & new=$!
echo "old $old new $new" > pids
wait $g; echo $? > g.rc
{g} info -p $new --json > info.json 2>info.err
wait $new; echo $? > new.rc
)",
      fmt::arg("dir", dir), fmt::arg("hot", hot.path), fmt::arg("other", other.path),
      fmt::arg("g", GOTRACE_BINARY));
  auto r = run_command(fmt::format("unshare --pid --fork --mount-proc /bin/sh -c {}", shell_quote(script)));
  REQUIRE(r.status == 0);
  auto read = [&](const char* name) { return run_command(fmt::format("cat {}/{}", dir, name)).out; };
  const std::string pids = read("pids");
  INFO(pids << read("g.err"));
  int old_pid = 0, new_pid = 0;
  REQUIRE(std::sscanf(pids.c_str(), "old %d new %d", &old_pid, &new_pid) == 2);
  REQUIRE(old_pid == new_pid);  // the PID was reused
  CHECK(std::atoi(read("g.rc").c_str()) == 1);
  CHECK(read("g.err").find("is another process now") != std::string::npos);
  const Json info = parse_json(read("info.json"));
  CHECK(info["code"]["bytes_compared"].u > 0);
  CHECK(info["code"]["bytes_differing"].u == 0);
  CHECK(std::atoi(read("new.rc").c_str()) == 0);  // the new program ran to its end, checking itself
  run_command(fmt::format("rm -rf {}", dir));
}
