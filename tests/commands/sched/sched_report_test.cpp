// sched's model: why a goroutine was runnable, read from where it resumed;
// the scaling of the runtime's 1-in-8 tracking; rows that read the same
// merged; stop-the-world pauses by reason; the diagnosis lines.
#include "commands/sched/sched_report.h"

#include <catch2/catch.hpp>

using namespace gotrace;

namespace {

std::vector<Frame> frames(std::initializer_list<const char*> names) {
  std::vector<Frame> out;
  int line = 10;
  for (const char* n : names) out.push_back({n, "x.go", line++, false, 0});
  return out;
}

}  // namespace

TEST_CASE("sched: the cause of a runnable state from the resume stack", "[sched]") {
  CHECK(classify_resume(frames({"runtime.gopark", "runtime.chanrecv", "main.f", "runtime.goexit"})) ==
        ResumeCause::Woken);
  CHECK(classify_resume(frames({"runtime.asyncPreempt2", "runtime.asyncPreempt", "main.spin"})) ==
        ResumeCause::Preempted);
  CHECK(classify_resume(frames({"main.spin", "main.run", "runtime.goexit"})) == ResumeCause::Preempted);
  CHECK(classify_resume(frames({"runtime.Gosched", "runtime.GC", "main.c"})) == ResumeCause::Yielded);
  CHECK(classify_resume(frames({"runtime.goschedIfBusy", "runtime.bgsweep"})) == ResumeCause::Yielded);
  CHECK(classify_resume(frames({"runtime.exitsyscall", "syscall.Syscall", "main.read"})) ==
        ResumeCause::Syscall);
  CHECK(classify_resume(frames({"main.worker"})) == ResumeCause::New);
  CHECK(classify_resume(frames({"runtime.mcall", "runtime.x"})) == ResumeCause::Unknown);
  CHECK(classify_resume({}) == ResumeCause::Unknown);
  CHECK(cause_name(ResumeCause::Preempted) == "preempted");
}

TEST_CASE("sched: diagnosis names a GOMAXPROCS above the quota and the throttling", "[sched]") {
  SchedReport r;
  r.summary.duration_s = 10;
  CgroupShare c;
  c.version = 1;
  c.quota_cpus = 0.5;
  c.nr_periods = 100;
  c.nr_throttled = 80;
  c.throttled_ns = 4'000'000'000ULL;
  r.cgroup = c;
  r.gomaxprocs = 4;
  r.host_cpus = 4;
  diagnose(r, 21);
  REQUIRE(r.diagnosis.size() >= 2);
  CHECK(r.diagnosis[0].find("GOMAXPROCS 4 is above the CPU quota of 0.5 CPUs") != std::string::npos);
  CHECK(r.diagnosis[0].find("GOMAXPROCS=1") != std::string::npos);
  CHECK(r.diagnosis[1].find("throttled in 80 of 100 periods") != std::string::npos);
  diagnose(r, 26);
  CHECK(r.diagnosis[0].find("Go 1.25+ follows the quota unless GOMAXPROCS is set") != std::string::npos);
  r.gomaxprocs = 2;
  diagnose(r, 26);
  CHECK(r.diagnosis[0].find("never sets fewer than 2 Ps") != std::string::npos);
  r.gomaxprocs = 4;
  // Within the quota, nothing to say about it.
  r.gomaxprocs = 1;
  r.cgroup->nr_throttled = 0;
  diagnose(r, 26);
  CHECK(r.diagnosis.empty());
  // Preempted by the kernel half the time it ran.
  r.kernel.running_ns = 1'000'000'000;
  r.kernel.preempted_ns = 500'000'000;
  diagnose(r, 26);
  REQUIRE(r.diagnosis.size() == 1);
  CHECK(r.diagnosis[0].find("oversubscribed") != std::string::npos);
}
