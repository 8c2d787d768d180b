// What gotrace reads of a running process from outside.
#include "gotrace/target/process.h"

#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>

using namespace gotrace;

namespace {
int64_t own_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

TEST_CASE("a process's CPU time is read to well under a clock tick", "[process]") {
  auto self = Process::open(getpid());
  REQUIRE(self.ok());
  // 3 ms of CPU, under a third of /proc/PID/stat's 10 ms tick: read in
  // ticks it would show as 0 or 10 ms. The governor judges windows a tenth
  // of a second long, and short traces state their share of the target's CPU.
  const uint64_t before = self->cpu_time_ns();
  const int64_t start = own_cpu_ns();
  volatile uint64_t spin = 0;
  while (own_cpu_ns() - start < 3'000'000) spin = spin + 1;
  const uint64_t after = self->cpu_time_ns();
  const double seen = static_cast<double>(after - before), spent = static_cast<double>(own_cpu_ns() - start);
  INFO("seen " << seen << " ns, spent " << spent << " ns");
  CHECK(seen > 0.5 * spent);
  CHECK(seen < 1.5 * spent + 1e6);
}
