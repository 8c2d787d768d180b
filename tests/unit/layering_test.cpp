// The module graph points one way: every #include of a gotrace header must
// go to a module of a lower layer (or the same module). A new module folder
// must be given its layer here, which is where its place is decided.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

namespace {

const std::map<std::string, int>& layers() {
  static const std::map<std::string, int> m = {
      {"util", 0},      {"bpf", 0},      // plain helpers; records shared with BPF programs
      {"elf", 10},      {"host", 10},    // files and the kernel
      {"target", 20},   {"disasm", 20},  // the process; machine code
      {"gobin", 30},                     // the Go binary
      {"snapshot", 35},                  // a live process's goroutines, read from outside
      {"probes", 40},   {"model", 40},   // probe plans; reports as data
      {"report", 50},                    // writers over the model
      {"session", 60},                   // BPF, attach, the trace
      {"cli", 70},                       // the command line
  };
  return m;
}

}  // namespace

TEST_CASE("every include points down the module graph", "[layering]") {
  namespace fs = std::filesystem;
  const fs::path root = GOTRACE_SOURCE_DIR;
  const std::regex include_re(R"re(#include\s+"gotrace/([a-z_]+)/)re");
  size_t files = 0, includes = 0;
  for (const fs::path base : {root / "src", root / "include" / "gotrace"}) {
    for (const auto& e : fs::recursive_directory_iterator(base)) {
      if (!e.is_regular_file()) continue;
      const fs::path rel = fs::relative(e.path(), base);
      if (rel.begin() == rel.end() || std::next(rel.begin()) == rel.end()) continue;  // main.cpp
      const std::string module = rel.begin()->string();
      INFO(e.path().string());
      REQUIRE(layers().count(module));  // a new folder needs its layer above
      const int own = layers().at(module);
      std::ifstream in(e.path());
      std::string line;
      ++files;
      while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        ++includes;
        const std::string to = m[1];
        INFO(line);
        REQUIRE(layers().count(to));
        if (to != module) CHECK(layers().at(to) < own);
      }
    }
  }
  CHECK(files > 50);
  CHECK(includes > 100);
}
