// The README is for users (issue 20): short, every command gotrace has is in
// its command table and in --help's banner, and its links lead somewhere.
// Each command's own page is under docs/.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support/fixtures.h"

using namespace gotrace::test;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The subcommands --help lists (the lines under "Subcommands:").
std::set<std::string> subcommands() {
  auto r = run_command(fmt::format("{} --help 2>&1", GOTRACE_BINARY));
  REQUIRE(r.status == 0);
  std::set<std::string> out;
  std::istringstream in(r.out);
  std::string line;
  bool under = false;
  while (std::getline(in, line)) {
    if (line.rfind("Subcommands:", 0) == 0) {
      under = true;
      continue;
    }
    if (!under) continue;
    if (line.empty()) break;
    std::istringstream w(line);
    std::string name;
    w >> name;
    out.insert(name);
  }
  return out;
}

}  // namespace

TEST_CASE("the README is short, lists every command, and its links resolve", "[docs]") {
  const std::filesystem::path root = GOTRACE_SOURCE_DIR;
  const std::string readme = slurp(root / "README.md");
  REQUIRE(!readme.empty());
  size_t lines = 0;
  for (char c : readme) lines += c == '\n';
  CHECK(lines <= 150);

  const auto cmds = subcommands();
  REQUIRE(cmds.size() >= 5);
  auto help = run_command(fmt::format("{} --help 2>&1", GOTRACE_BINARY)).out;
  for (const auto& c : cmds) {
    INFO(c);
    CHECK(readme.find(fmt::format("| `{}", c)) != std::string::npos);        // a row of the command table
    CHECK(readme.find(fmt::format("gotrace {} ", c)) != std::string::npos);  // an example
    CHECK(std::filesystem::exists(root / "docs" / (c + ".md")));
    // the banner's list of commands
    const size_t at = help.find("Commands: ");
    REQUIRE(at != std::string::npos);
    const std::string banner = help.substr(at, help.find('\n', at) - at);
    CHECK(std::regex_search(banner, std::regex("\\b" + c + "\\b")));
  }
  // Relative links ([text](path) and [text](path#anchor)) name files that exist.
  const std::regex link(R"re(\]\(([^)#:]+)(#[^)]*)?\))re");
  size_t links = 0;
  for (std::sregex_iterator it(readme.begin(), readme.end(), link), end; it != end; ++it) {
    ++links;
    INFO((*it)[1].str());
    CHECK(std::filesystem::exists(root / (*it)[1].str()));
  }
  CHECK(links >= 5);
}
