// scripts/fuzz.sh run alone, as from a fresh build: it finds the fixtures it
// seeds from, or builds the few it needs, rather than stopping with "no
// fixtures".
#include <fmt/format.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/fixtures.h"

using namespace gotrace::test;

TEST_CASE("fuzz.sh builds the fixtures it seeds from when there are none", "[scripts]") {
  namespace fs = std::filesystem;
  char dir[] = "/tmp/gotrace-fuzz-XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string fixtures = std::string(dir) + "/fixtures";  // empty: a fresh build
  const std::string build = std::string(dir) + "/build";
  auto r =
      run_command(fmt::format("cd / && GOTRACE_FIXTURES_DIR={} GOTRACE_FUZZ_BUILD_DIR={} "
                              "GOTRACE_GO_VERSIONS='1.22 1.26' {}/scripts/fuzz.sh "
                              "--seeds-only 2>&1",
                              fixtures, build, GOTRACE_SOURCE_DIR));
  INFO(r.out);
  CHECK(r.status == 0);
  // The analyze program of the oldest and newest Go asked for, every variant.
  std::ifstream manifest(fixtures + "/manifest.tsv");
  std::string line;
  size_t analyze = 0;
  while (std::getline(manifest, line))
    if (line.find("\tanalyze\t") != std::string::npos) ++analyze;
  CHECK(analyze >= 4);
  size_t seeds = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(build + "/seeds", ec)) seeds += e.is_regular_file();
  CHECK(seeds == analyze);
  CHECK(r.out.find(fmt::format("{} seed binaries", seeds)) != std::string::npos);

  // Given fixtures are used as they are: nothing is built again.
  const auto before = fs::last_write_time(fixtures + "/manifest.tsv");
  auto again = run_command(fmt::format(
      "cd / && GOTRACE_FIXTURES_DIR={} GOTRACE_FUZZ_BUILD_DIR={} {}/scripts/fuzz.sh --seeds-only 2>&1",
      fixtures, build, GOTRACE_SOURCE_DIR));
  INFO(again.out);
  CHECK(again.status == 0);
  CHECK(fs::last_write_time(fixtures + "/manifest.tsv") == before);
  fs::remove_all(dir);
}
