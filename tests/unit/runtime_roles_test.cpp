// The role table against the fixture binaries: for every release, build
// variant and program, resolve_role must name exactly the symbol the table
// gives for that release whenever `go tool nm` shows the binary has it, and
// nothing for a role the release does not have.
#include "gotrace/probes/runtime_roles.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/gobin/pclntab.h"
#include "gotrace/probes/probe_plan.h"
#include "support/fixtures.h"

using namespace gotrace;
using gotrace::test::Fixture;

namespace {

int minor_of(const Fixture& f) {
  auto v = GoVersion::parse(f.version);
  REQUIRE(v);
  return v->minor;
}

// The text symbols `go tool nm` lists, cached on disk per binary. A stripped
// build has none; its default sibling (same release, same program) has the
// same functions.
const std::set<std::string>& nm_functions(const std::string& path) {
  static std::map<std::string, std::set<std::string>> memo;
  if (auto it = memo.find(path); it != memo.end()) return it->second;
  const char* d = std::getenv("GOTRACE_TEST_CACHE");
  std::string dir = d ? d : "/tmp/gotrace-test-cache";
  std::filesystem::create_directories(dir);
  struct stat st {};
  stat(path.c_str(), &st);
  uint64_t h = 1469598103934665603ull;
  for (char c : fmt::format("nm|{}|{}|{}|{}", path, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec)) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  std::string file = fmt::format("{}/nm-{:016x}.txt", dir, h);
  std::set<std::string> names;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) names.insert(line);
  if (names.empty()) {
    auto r = test::run_command(fmt::format("{} tool nm {}", test::go_command(), test::shell_quote(path)));
    REQUIRE(r.status == 0);
    std::istringstream out(r.out);
    while (std::getline(out, line)) {
      // "  addr T name" (the name may contain spaces in generic instantiations)
      std::istringstream ls(line);
      std::string addr, kind;
      ls >> addr >> kind;
      std::string name;
      std::getline(ls, name);
      if ((kind == "T" || kind == "t") && name.size() > 1) names.insert(name.substr(1));
    }
    REQUIRE(!names.empty());
    std::ofstream o(file + ".tmp");
    for (const auto& n : names) o << n << '\n';
    o.close();
    std::filesystem::rename(file + ".tmp", file);
  }
  return memo.emplace(path, std::move(names)).first->second;
}

const Fixture& symbols_source(const Fixture& f) {
  if (f.variant != "stripped") return f;
  for (const auto& g : test::fixtures())
    if (g.version == f.version && g.arch == f.arch && g.program == f.program && g.variant == "default")
      return g;
  FAIL("no default build next to " << f.label());
  throw 0;
}

}  // namespace

TEST_CASE("the role table covers every role once, in enum order", "[roles]") {
  REQUIRE(all_roles().size() == kProbeRoleCount);
  std::set<std::string_view> ids;
  for (size_t i = 0; i < kProbeRoleCount; ++i) {
    const RoleSpec& spec = all_roles()[i];
    INFO("role #" << i << " " << spec.id);
    CHECK(static_cast<size_t>(spec.role) == i);
    CHECK(&role_spec(spec.role) == &spec);
    CHECK(ids.insert(spec.id).second);
    CHECK(!spec.description.empty());
    REQUIRE(!spec.candidates.empty());
    CHECK(spec.min_minor <= spec.max_minor);
    // Candidate ranges must not overlap, and every release of the role's
    // range must have exactly one candidate.
    for (int minor = std::max(spec.min_minor, kOldestSupportedMinor); minor <= std::min(spec.max_minor, 30);
         ++minor) {
      int n = 0;
      for (const auto& c : spec.candidates) n += minor >= c.min_minor && minor <= c.max_minor;
      INFO("go1." << minor);
      CHECK(n == 1);
      CHECK(expected_symbol(spec.role, minor));
    }
    if (spec.min_minor > kOldestSupportedMinor) CHECK(!expected_symbol(spec.role, spec.min_minor - 1));
    if (spec.max_minor < 99) CHECK(!expected_symbol(spec.role, spec.max_minor + 1));
  }
}

TEST_CASE("resolve_role names the symbol the table gives, as go tool nm sees it, in every fixture",
          "[roles]") {
  std::map<std::string, std::set<std::string>> missing_by_role;  // in range, but not linked in a fixture
  // Every build of the analyze program (it links every role) and one other
  // program per release and build, rotating (go tool nm on all 500
  // fixtures took a minute and a half of CI).
  for (const auto& f : test::tool_sample("analyze")) {
    const int minor = minor_of(f);
    const auto version = GoVersion::parse(f.version);
    const auto& nm = nm_functions(symbols_source(f).path);
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    auto tab = Pclntab::load(**img);
    INFO(f.label() << (tab.ok() ? "" : ": " + tab.error().message));
    REQUIRE(tab.ok());

    for (const auto& spec : all_roles()) {
      auto got = resolve_role(spec.role, version, **tab);
      auto want = expected_symbol(spec.role, minor);
      auto unversioned = resolve_role(spec.role, std::nullopt, **tab);
      INFO(f.label() << " role " << spec.id << ": resolved " << (got ? *got : "nothing") << ", table says "
                     << (want ? *want : "none in this release"));
      // Whatever resolves is a function the binary has.
      if (got) CHECK(nm.count(std::string(*got)));
      if (want) {
        if (nm.count(std::string(*want))) {
          CHECK(got == want);
        } else {
          // Only symbols that depend on what the program uses may be absent.
          CHECK(!spec.always_linked);
          missing_by_role[std::string(spec.id)].insert(f.label());
          CHECK(!got);
        }
      } else {
        // A role this release does not have: none of its names is linked.
        for (const auto& c : spec.candidates) CHECK(!nm.count(std::string(c.symbol)));
        CHECK(!got);
      }
      if (spec.only_32bit) CHECK(!got);
      // Without a version the same symbol is found (one candidate per binary).
      CHECK(unversioned == got);
    }

    // What the runtime sources of each release say, as it applies here.
    auto mutex = resolve_role(ProbeRole::SemacquireMutex, version, **tab);
    REQUIRE(mutex);
    CHECK(*mutex == (minor >= 24 ? "internal/sync.runtime_SemacquireMutex" : "sync.runtime_SemacquireMutex"));
    CHECK(resolve_role(ProbeRole::Ready, version, **tab) == std::optional<std::string_view>("runtime.ready"));
    CHECK(nm.count("runtime.goready") == (minor <= 20 ? 1u : 0u));  // inlined from 1.21
    // (only in programs that wait on a WaitGroup; the alloc and hotpark fixtures do not)
    if (f.program != "alloc" && f.program != "allocprof" && f.program != "hotpark")
      CHECK(resolve_role(ProbeRole::SemacquireWaitGroup, version, **tab).has_value() == (minor >= 24));
    // mallocgcTiny: 1.24–1.26; 1.27 links mallocgcTinySC2 instead (the
    // size-specialized mallocs), as the binary's own symbols say.
    CHECK(resolve_role(ProbeRole::MallocgcTiny, version, **tab).has_value() == (minor >= 24 && minor <= 26));
    if (!nm.empty()) CHECK(nm.count("runtime.mallocgcTiny") == (minor >= 24 && minor <= 26 ? 1u : 0u));
    CHECK(resolve_role(ProbeRole::MallocgcTinySC2, version, **tab).has_value() == (minor >= 27));
    // What alloc probes (go-alloc-facts.md §3–§7): the allocator and GC
    // functions are in every program; map growth only with map writes, and
    // the classic and swiss growth functions never both.
    for (auto role : {ProbeRole::AllocLarge, ProbeRole::Refill, ProbeRole::GcStart, ProbeRole::GcStartCycle,
                      ProbeRole::StopTheWorld, ProbeRole::StartTheWorld, ProbeRole::GcMarkTermination,
                      ProbeRole::FreeSpecial, ProbeRole::Profilealloc}) {
      INFO(role_spec(role).id);
      CHECK(role_spec(role).always_linked);
      CHECK(resolve_role(role, version, **tab));
    }
    if (f.program == "alloc" || f.program == "allocprof" || f.program == "analyze") {
      CHECK(resolve_role(ProbeRole::HashGrow, version, **tab).has_value() == (minor <= 23));
      for (auto role : {ProbeRole::MapGrowToSmall, ProbeRole::MapGrowToTable, ProbeRole::MapTableRehash}) {
        INFO(role_spec(role).id);
        CHECK(resolve_role(role, version, **tab).has_value() == (minor >= 24));
      }
    }
  }
  // The roles the analyze fixture does not exercise (reported, not hidden).
  for (const auto& [role, where] : missing_by_role)
    WARN("role " << role << " is in range but not linked in " << where.size() << " fixtures, e.g. "
                 << *where.begin());
}

TEST_CASE("resolve_role copes with versions outside the table", "[roles]") {
  const Fixture f = test::fixtures_of("analyze", "amd64").back();
  auto img = ElfImage::open(f.path);
  REQUIRE(img.ok());
  auto tab = Pclntab::load(**img);
  REQUIRE(tab.ok());
  for (const char* text : {"go1.99.0", "go1.0", "go2.1", "devel go1.30-abcdef"}) {
    auto v = GoVersion::parse(text);
    INFO(text);
    // A version the table does not know still finds what the binary has.
    CHECK(resolve_role(ProbeRole::Gopark, v, **tab) == std::optional<std::string_view>("runtime.gopark"));
    auto mutex = resolve_role(ProbeRole::SemacquireMutex, v, **tab);
    REQUIRE(mutex);
    CHECK((*tab)->function_by_name(*mutex));
  }
}

TEST_CASE("goroutine creation and exit sites: newproc.func1's call to runqput, gdestroy or goexit0",
          "[roles]") {
  // What `goroutines --leaks` probes, in every release, build and arch: the
  // one direct call to runtime.runqput in runtime.newproc.func1 (emulated:
  // a CALL rel32 / BL), and the exit function's entry: goexit0 up to 1.21,
  // gdestroy from 1.22 (goexit0 then calls it; so do coroutine exits).
  for (const auto& f : test::fixtures()) {
    if (f.program != "leak" && f.program != "goroutines") continue;
    INFO(f.label());
    auto bin = GoBinary::open(f.path);
    REQUIRE(bin.ok());
    const GoBinary& b = **bin;
    const int minor = minor_of(f);
    PlannedSite create = plan_site(b, ProbeRole::NewprocQueue);
    INFO(create.code.no_entry_site_reason);
    REQUIRE(create.usable());
    CHECK(create.symbol == "runtime.newproc.func1");
    CHECK(create.code.entry_site->kind == SiteKind::Emulated);
    CHECK(!create.code.stack_check);
    auto runqput = b.pclntab().function_by_name("runtime.runqput");
    REQUIRE(runqput);
    size_t calls = 0;
    for (const auto& c : create.code.calls) calls += c.target == runqput->entry;
    CHECK(calls == 1);
    CHECK(create.code.entry_site->address > create.function.entry);
    CHECK(create.code.entry_site->address < create.function.end);
    CHECK(create.code.entry_site->text.rfind(f.arch == "arm64" ? "bl" : "call", 0) == 0);

    PlannedSite gdestroy = plan_site(b, ProbeRole::Gdestroy);
    PlannedSite goexit0 = plan_site(b, ProbeRole::Goexit0);
    REQUIRE(goexit0.usable());
    CHECK(goexit0.code.stack_check);
    if (minor >= 22) {
      REQUIRE(gdestroy.usable());
      CHECK(gdestroy.code.entry_site->kind == SiteKind::Emulated);
      CHECK(gdestroy.code.stack_check);
      // goexit0 is only a call to gdestroy and then schedule.
      size_t to_gdestroy = 0;
      for (const auto& c : goexit0.code.calls) to_gdestroy += c.target == gdestroy.function.entry;
      CHECK(to_gdestroy == 1);
    } else {
      CHECK(gdestroy.symbol.empty());
      CHECK(goexit0.code.entry_site->kind == SiteKind::Emulated);
    }
  }
}
