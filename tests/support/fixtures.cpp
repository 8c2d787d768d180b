#include "support/fixtures.h"

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace gotrace::test {

std::string Fixture::label() const { return fmt::format("go1.{}/{}-{}/{}", minor, arch, variant, program); }

static std::string fixtures_dir() {
  if (const char* d = std::getenv("GOTRACE_FIXTURES")) return d;
  return GOTRACE_FIXTURES_DIR;
}

const std::vector<Fixture>& fixtures() {
  static std::vector<Fixture> all;
  static std::once_flag once;
  std::call_once(once, [] {
    std::ifstream in(fixtures_dir() + "/manifest.tsv");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      Fixture f;
      std::string minor;
      if (std::getline(ls, minor, '\t') && std::getline(ls, f.version, '\t') &&
          std::getline(ls, f.arch, '\t') && std::getline(ls, f.variant, '\t') &&
          std::getline(ls, f.program, '\t') && std::getline(ls, f.path)) {
        f.minor = std::stoi(minor.substr(minor.find('.') + 1));  // "1.22" -> 22
        all.push_back(std::move(f));
      }
    }
  });
  if (all.empty())
    FAIL("no Go fixtures in " << fixtures_dir()
                              << "/manifest.tsv: run scripts/build-fixtures.sh (scripts/test.sh does)");
  return all;
}

std::vector<Fixture> fixtures_of(const std::string& program, const std::string& arch) {
  std::vector<Fixture> out;
  for (const auto& f : fixtures())
    if (f.program == program && (arch.empty() || f.arch == arch)) out.push_back(f);
  if (out.empty()) FAIL("no fixture named " << program << " for arch '" << arch << "'");
  return out;
}

bool key_release(int minor) {
  static std::set<int> keys = [] {
    std::set<int> minors;
    for (const auto& f : fixtures()) minors.insert(f.minor);
    std::set<int> k = {*minors.begin(), 21, 24};
    auto newest = minors.rbegin();
    k.insert(*newest);
    if (++newest != minors.rend()) k.insert(*newest);
    return k;
  }();
  return keys.count(minor) != 0;
}

std::vector<Fixture> matrix_fixtures(const std::string& program, const std::string& arch) {
  std::vector<Fixture> all = fixtures_of(program, arch);
  const char* full = std::getenv("GOTRACE_FULL_MATRIX");
  if (full && std::string(full) == "1") return all;
  std::vector<Fixture> out;
  for (const auto& f : all)
    if (f.variant == "default" || key_release(f.minor)) out.push_back(f);
  return out;
}

std::vector<Fixture> tool_sample(const std::string& always) {
  const std::vector<Fixture>& all = fixtures();
  const char* full = std::getenv("GOTRACE_FULL_MATRIX");
  if (full && std::string(full) == "1") return all;
  unsigned long seed = 0;
  if (const char* s = std::getenv("GOTRACE_TEST_SEED")) seed = std::strtoul(s, nullptr, 10);
  static std::once_flag said;
  std::call_once(said, [seed] {
    fmt::print(
        "fixture sample for the external-tool comparisons: seed {} (GOTRACE_TEST_SEED; "
        "GOTRACE_FULL_MATRIX=1 reads every fixture)\n",
        seed);
  });
  std::set<std::string> programs;
  std::set<std::string> variants;
  for (const auto& f : all) {
    programs.insert(f.program);
    variants.insert(f.arch + "-" + f.variant);
  }
  const std::vector<std::string> program_list(programs.begin(), programs.end());
  const std::vector<std::string> variant_list(variants.begin(), variants.end());
  std::vector<Fixture> out;
  for (const auto& f : all) {
    const auto v = std::find(variant_list.begin(), variant_list.end(), f.arch + "-" + f.variant);
    const size_t pick =
        (static_cast<size_t>(f.minor) + seed + static_cast<size_t>(v - variant_list.begin())) %
        program_list.size();
    if (f.program == program_list[pick] || f.program == always) out.push_back(f);
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string go_command() {
  if (const char* g = std::getenv("GOTRACE_GO")) return g;
  return "go";
}

}  // namespace gotrace::test
