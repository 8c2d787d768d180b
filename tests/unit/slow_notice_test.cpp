#include "gotrace/util/slow_notice.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using gotrace::SlowStepNotice;

namespace {
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
  return s;
}
}  // namespace

TEST_CASE("a slow step is said to be slow, and how long it took, a quick one not at all", "[notice]") {
  std::FILE* slow = std::tmpfile();
  REQUIRE(slow);
  {
    SlowStepNotice n("attaching 3 probes to PID 1 (x)", std::chrono::milliseconds(50), slow);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  const std::string said = contents(slow);
  CHECK(said.find("gotrace: attaching 3 probes to PID 1 (x) is taking a while") == 0);
  CHECK(said.find("attaching 3 probes to PID 1 (x): done in 0.") != std::string::npos);
  std::fclose(slow);

  std::FILE* quick = std::tmpfile();
  REQUIRE(quick);
  { SlowStepNotice n("attaching 3 probes", std::chrono::seconds(5), quick); }  // done at once
  CHECK(contents(quick).empty());
  std::fclose(quick);
}
