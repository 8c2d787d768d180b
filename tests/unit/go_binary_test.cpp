// GoBinary over the whole fixture matrix: the build facts gotrace reports
// (PIE, stripped, DWARF, external linking, cgo, arch) must match how each
// fixture was actually built, and `gotrace info` must say so, in text and JSON.
#include "gotrace/gobin/go_binary.h"

#include <catch2/catch.hpp>

#include "commands/block/block_command.h"
#include "commands/lock/lock_command.h"
#include "gotrace/probes/probe_plan.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

TEST_CASE("build facts match how each fixture was built", "[gobinary]") {
  for (const auto& f : fixtures_of("analyze")) {
    INFO(f.label());
    auto bin = GoBinary::open(f.path);
    REQUIRE(bin);
    const BuildFacts& facts = (*bin)->facts();
    CHECK(facts.pie == (f.variant == "pie"));
    CHECK(facts.stripped == (f.variant == "stripped"));
    CHECK(facts.dwarf == (f.variant != "stripped"));
    CHECK(facts.external_linking == (f.variant == "cgo"));
    CHECK(facts.cgo == (f.variant == "cgo"));
    CHECK(arch_name((*bin)->arch()) == f.arch);
    CHECK((*bin)->buildinfo().version_string == f.version);
    CHECK((*bin)->offsets());
    CHECK((*bin)->offsets()->complete_for_tracing());
    CHECK((*bin)->wait_reasons());
  }
}

TEST_CASE("the block command's probes plan on every amd64 fixture", "[gobinary]") {
  HostFeatures host;  // a host that can trace, so only the binary decides
  host.root = host.cap_bpf = host.cap_perfmon = host.cap_sys_admin = true;
  host.btf = host.uprobes = true;
  host.ringbuf = true;
  for (const auto& f : fixtures_of("analyze")) {
    INFO(f.label());
    auto bin = GoBinary::open(f.path);
    REQUIRE(bin);
    auto sites = plan_all_sites(**bin);
    for (const ProbeTable* t : {&block_probe_table(), &lock_probe_table()}) {
      Verdict v = check_command(*t, **bin, host, sites);
      INFO(v.command);
      for (const auto& r : v.reasons) INFO(r);
      if (f.arch == "amd64") {
        CHECK(v.can_run);
      } else {
        CHECK_FALSE(v.can_run);  // arm64: static analysis only
      }
    }
    const PlannedSite* gopark = nullptr;
    for (const auto& s : sites)
      if (s.role == ProbeRole::Gopark) gopark = &s;
    REQUIRE(gopark);
    REQUIRE(gopark->usable());
    CHECK(gopark->code.entry_site->kind == SiteKind::Emulated);
    CHECK(gopark->code.entry_site->address != gopark->function.entry);
    // The file offset maps back to the same bytes as the address.
    auto by_addr = (*bin)->elf().bytes_at_vaddr(gopark->code.entry_site->address, 2);
    REQUIRE(by_addr);
    auto file = (*bin)->elf().file_bytes();
    REQUIRE(*gopark->site_file_offset + 2 <= file.size());
    CHECK(std::equal(by_addr->begin(), by_addr->end(), file.begin() + *gopark->site_file_offset));
  }
}

TEST_CASE("a non-Go executable is refused with a clear reason", "[gobinary]") {
  auto bin = GoBinary::open("/bin/ls");
  REQUIRE_FALSE(bin);
  CHECK(bin.error().message.find("not a Go program") != std::string::npos);
  auto missing = GoBinary::open("/nonexistent/gotrace-test");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("No such file") != std::string::npos);
}
