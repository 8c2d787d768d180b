// The module graph points one way, and it is written in one place,
// cmake/modules.txt, which the build links by: every #include of a gotrace
// header must go to the module's own headers or to a module it reaches
// there. A new module folder must be given its line in that table, which is
// where its place is decided.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

// module -> the modules it uses directly, in the table's order.
struct Graph {
  std::map<std::string, std::vector<std::string>> uses;
  std::vector<std::string> order;
};

const Graph& graph() {
  static const Graph g = [] {
    Graph out;
    std::ifstream in(std::string(GOTRACE_SOURCE_DIR) + "/cmake/modules.txt");
    std::string line;
    while (std::getline(in, line)) {
      line = line.substr(0, line.find('#'));
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::istringstream names(line.substr(0, colon)), deps(line.substr(colon + 1));
      std::string name, d;
      names >> name;
      out.order.push_back(name);
      auto& u = out.uses[name];
      while (deps >> d) u.push_back(d);
    }
    return out;
  }();
  return g;
}

// Every module `from` reaches through the table.
std::set<std::string> reach(const std::string& from) {
  std::set<std::string> seen;
  std::vector<std::string> todo{from};
  while (!todo.empty()) {
    std::string m = todo.back();
    todo.pop_back();
    for (const auto& d : graph().uses.at(m))
      if (seen.insert(d).second) todo.push_back(d);
  }
  return seen;
}

}  // namespace

TEST_CASE("the module table is a graph that points one way", "[layering]") {
  const Graph& g = graph();
  REQUIRE(g.order.size() >= 12);
  std::set<std::string> before;
  for (const auto& m : g.order) {
    INFO(m);
    CHECK(before.count(m) == 0);  // one line each
    for (const auto& d : g.uses.at(m)) {
      INFO(d);
      CHECK(before.count(d) == 1);  // what it uses comes first: no cycle
    }
    before.insert(m);
  }
}

TEST_CASE("every include points down the module graph", "[layering]") {
  namespace fs = std::filesystem;
  const fs::path root = GOTRACE_SOURCE_DIR;
  const std::regex include_re(R"re(#include\s+"gotrace/([a-z_]+)/)re");
  const std::regex command_re(R"re(#include\s+"commands/([a-z_]+)/)re");
  size_t files = 0, includes = 0, command_files = 0;
  std::set<std::string> commands;
  for (const fs::path base : {root / "src", root / "include" / "gotrace"}) {
    for (const auto& e : fs::recursive_directory_iterator(base)) {
      if (!e.is_regular_file()) continue;
      const fs::path rel = fs::relative(e.path(), base);
      if (rel.begin() == rel.end() || std::next(rel.begin()) == rel.end()) continue;  // main.cpp
      const std::string module = rel.begin()->string();
      // src/commands/<cmd>/...: the module `commands`, the command <cmd>.
      const std::string command = module == "commands" ? std::next(rel.begin())->string() : "";
      INFO(e.path().string());
      REQUIRE(graph().uses.count(module));  // a new folder needs its line in cmake/modules.txt
      const std::set<std::string> allowed = reach(module);
      if (!command.empty()) {
        commands.insert(command);
        ++command_files;
      }
      std::ifstream in(e.path());
      std::string line;
      ++files;
      while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, command_re)) {
          ++includes;
          INFO(line);
          CHECK(m[1] == command);  // a command folder includes no other command; nothing else includes one
          continue;
        }
        if (!std::regex_search(line, m, include_re)) continue;
        ++includes;
        const std::string to = m[1];
        INFO(line);
        REQUIRE(graph().uses.count(to));
        if (to != module) CHECK(allowed.count(to) == 1);
      }
    }
  }
  CHECK(files > 50);
  CHECK(includes > 100);
  CHECK(commands.size() >= 5);
  CHECK(command_files > 30);
}
