// A binary newer than the newest release gotrace was tested with: the
// newest fixtures with their Go version rewritten one release ahead. Every
// fact gotrace reads from the binary (pclntab, moduledata, inline tree, type
// data, DWARF offsets, wait reason strings) must come out as for the real
// build; every fact only a version table supplies must be refused with one
// line that names the release, and the commands must say so, never guess.
#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands/alloc/alloc_command.h"
#include "commands/block/block_command.h"
#include "commands/goroutines/goroutine_probes.h"
#include "commands/lock/lock_command.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/gobin/go_types.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/probes/probe_plan.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

// The fixture's bytes with every "go1.X.Y" of its version replaced by a
// string of the same length for the next release (buildinfo and
// runtime.buildVersion both hold it).
std::string rewritten_copy(const Fixture& f, const std::string& next) {
  REQUIRE(next.size() == f.version.size());
  std::ifstream in(f.path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  size_t n = 0;
  for (size_t at = bytes.find(f.version); at != std::string::npos; at = bytes.find(f.version, at + 1)) {
    bytes.replace(at, next.size(), next);
    ++n;
  }
  REQUIRE(n > 0);
  auto path = std::filesystem::temp_directory_path() /
              fmt::format("gotrace-next-{}-{}-{}", getpid(), f.variant, f.program);
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

}  // namespace

TEST_CASE("a release newer than the tables: binary facts used, table-only facts refused in one line",
          "[gobinary][nextrelease]") {
  HostFeatures host;  // a host that can trace, so only the binary decides
  host.root = host.cap_bpf = host.cap_perfmon = host.cap_sys_admin = true;
  host.btf = host.uprobes = true;
  host.ringbuf = true;
  size_t tried = 0;
  for (const auto& f : fixtures_of("analyze", "amd64")) {
    if (f.minor != kNewestKnownMinor || (f.variant != "default" && f.variant != "stripped")) continue;
    INFO(f.label());
    auto v = GoVersion::parse(f.version);
    REQUIRE(v);
    std::string next = fmt::format("go1.{}.0", v->minor + 1);
    next.resize(f.version.size(), '0');                               // same length: go1.28.0 for go1.27.3
    const std::string release = fmt::format("go1.{}", v->minor + 1);  // what a refusal names
    const std::string path = rewritten_copy(f, next);
    struct Remove {
      std::string p;
      ~Remove() { std::filesystem::remove(p); }
    } cleanup{path};
    auto orig = GoBinary::open(f.path);
    auto bin = GoBinary::open(path);
    REQUIRE(orig);
    REQUIRE(bin);
    CHECK((*bin)->version().minor == v->minor + 1);
    CHECK(classify((*bin)->version()) == VersionSupport::Newer);

    // From the binary: the same as the real build's.
    const Pclntab& a = (*orig)->pclntab();
    const Pclntab& b = (*bin)->pclntab();
    REQUIRE(b.moduledata());
    CHECK(b.moduledata()->types == a.moduledata()->types);
    CHECK(b.moduledata()->etypes == a.moduledata()->etypes);
    CHECK(b.moduledata()->gofunc == a.moduledata()->gofunc);
    size_t inlined = 0;
    for (size_t i = 0; i < b.function_count(); i += 7) {
      auto fn = b.function_by_index(i);
      for (uint64_t pc = fn.entry; pc < fn.end; pc += 13) {
        auto fa = a.symbolize(pc), fb = b.symbolize(pc);
        REQUIRE(fa.size() == fb.size());
        for (size_t k = 0; k < fa.size(); ++k) {
          CHECK(fa[k].function == fb[k].function);
          CHECK(fa[k].line == fb[k].line);
        }
        inlined += fb.size() > 1;
      }
    }
    CHECK(inlined > 100);
    auto ta = GoTypes::load((*orig)->elf(), a);
    auto tb = GoTypes::load((*bin)->elf(), b);
    REQUIRE(ta);
    REQUIRE(tb);
    CHECK(ta->types_base() == tb->types_base());

    const bool dwarf = f.variant != "stripped";
    auto one_line_naming_release = [&](const std::string& m) {
      INFO(m);
      CHECK(m.find('\n') == std::string::npos);
      CHECK(m.find(release) != std::string::npos);
    };
    if (dwarf) {
      REQUIRE((*bin)->offsets());
      CHECK((*bin)->offsets()->complete_for_tracing());
      for (size_t i = 0; i < kRtFieldCount; ++i)
        if ((*bin)->offsets()->fields[i].known())
          CHECK((*bin)->offsets()->fields[i].source == OffsetSource::Dwarf);
    } else {
      REQUIRE_FALSE((*bin)->offsets());  // only the table knows them, and it stops at the tested release
      one_line_naming_release((*bin)->offsets().error().message);
    }
    // Each command runs where the binary has what it needs, or refuses in
    // one line per missing fact; never silently with a guessed table.
    auto sites = plan_all_sites(**bin);
    for (const ProbeTable* t :
         {&block_probe_table(), &lock_probe_table(), &alloc_probe_table(), &goroutines_probe_table()}) {
      Verdict vd = check_command(*t, **bin, host, sites);
      INFO(vd.command);
      for (const auto& r : vd.reasons) INFO(r);
      bool warned = false;
      for (const auto& w : vd.warnings) warned |= w.find("newer than any release") != std::string::npos;
      CHECK(warned);
      if (dwarf) {
        CHECK(vd.can_run);
      } else {
        CHECK_FALSE(vd.can_run);
        bool named = false;
        for (const auto& r : vd.reasons) {
          CHECK(r.find('\n') == std::string::npos);
          named |= r.find(release) != std::string::npos;
        }
        CHECK(named);
      }
    }
    ++tried;
  }
  CHECK(tried == 2);
}
