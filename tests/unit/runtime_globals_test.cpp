// Runtime globals without a symbol table: the recipes that read them out of
// the runtime's code must name the same address as the symbol table, on every
// fixture (Go release × build × architecture), and stripped builds must
// resolve every global to where the same release's unstripped build has it
// (the same offset in the same section). The goroutines runtime test reads
// live processes of stripped builds through these addresses.
#include "gotrace/gobin/runtime_globals.h"

#include <catch2/catch.hpp>
#include <map>

#include "gotrace/disasm/data_refs.h"
#include "gotrace/gobin/go_binary.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

TEST_CASE("data references: RIP-relative operands and ADRP pairs", "[globals]") {
  // mov rax, [rip+0x10]; lea rcx, [rip+0x100]; mov byte [rip+0x20], 1; cmp qword [rip+0x8], rbx
  const std::vector<uint8_t> x86 = {0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x0d,
                                    0x00, 0x01, 0x00, 0x00, 0xc6, 0x05, 0x20, 0x00, 0x00, 0x00,
                                    0x01, 0x48, 0x39, 0x1d, 0x08, 0x00, 0x00, 0x00};
  auto r = data_references(Arch::X86_64, x86, 0x1000);
  REQUIRE(r.size() == 4);
  CHECK((r[0].target == 0x1017 && r[0].access == DataAccess::Read && r[0].size == 8));
  CHECK((r[1].target == 0x100e + 0x100 && r[1].access == DataAccess::Address && r[1].size == 0));
  CHECK((r[2].target == 0x1015 + 0x20 && r[2].access == DataAccess::Write && r[2].size == 1));
  CHECK((r[3].target == 0x101c + 0x8 && r[3].access == DataAccess::Read && r[3].size == 8));
  // adrp x0, +1 page; add x0, x0, #0x10; adrp x0, +1 page; ldr x1, [x0, #0x18]; ldrb w2, [x3] (no pair)
  const std::vector<uint32_t> words = {0xb0000000, 0x91004000, 0xb0000000, 0xf9400c01, 0x39400062};
  std::vector<uint8_t> arm;
  for (uint32_t w : words)
    for (int i = 0; i < 4; ++i) arm.push_back(static_cast<uint8_t>(w >> (8 * i)));
  auto a = data_references(Arch::Arm64, arm, 0x400000);
  REQUIRE(a.size() == 2);
  CHECK((a[0].target == 0x401010 && a[0].access == DataAccess::Address && a[0].insn_address == 0x400000));
  CHECK((a[1].target == 0x401018 && a[1].access == DataAccess::Read && a[1].size == 8));
}

TEST_CASE("runtime globals found in code equal the symbol table, on every fixture", "[globals]") {
  int compared = 0;
  for (const auto& f : fixtures()) {
    if (f.variant == "stripped") continue;
    INFO(f.label());
    auto bin = GoBinary::open(f.path);
    REQUIRE(bin);
    for (size_t i = 0; i < kRtGlobalCount; ++i) {
      auto g = static_cast<RtGlobal>(i);
      INFO(global_symbol(g));
      const ElfSymbol* s = (*bin)->elf().symbol(global_symbol(g));
      REQUIRE(s);  // every fixture links the runtime's memory profiler and GC
      auto code = find_global_in_code(**bin, g);
      INFO((code ? code->source : code.error().message));
      REQUIRE(code);
      CHECK(code->vaddr == s->value);
      CHECK(code->source != "symtab");
      auto any = find_global(**bin, g);
      REQUIRE(any);
      CHECK(any->source == "symtab");
      ++compared;
    }
  }
  CHECK(compared > 0);
}

TEST_CASE("stripped builds find every runtime global where the unstripped build has it", "[globals]") {
  int compared = 0;
  std::map<std::string, const Fixture*> plain;  // "minor/arch/program" -> default build
  for (const auto& f : fixtures())
    if (f.variant == "default") plain[f.version + "/" + f.arch + "/" + f.program] = &f;
  for (const auto& f : fixtures()) {
    if (f.variant != "stripped") continue;
    INFO(f.label());
    auto bin = GoBinary::open(f.path);
    REQUIRE(bin);
    REQUIRE_FALSE((*bin)->elf().has_symtab());
    auto it = plain.find(f.version + "/" + f.arch + "/" + f.program);
    REQUIRE(it != plain.end());
    auto ref = GoBinary::open(it->second->path);
    REQUIRE(ref);
    for (size_t i = 0; i < kRtGlobalCount; ++i) {
      auto g = static_cast<RtGlobal>(i);
      INFO(global_symbol(g));
      auto got = find_global(**bin, g);
      INFO((got ? got->source : got.error().message));
      REQUIRE(got);
      CHECK(got->source != "symtab");
      // Without symbols the linker lays data out the same way, but sections
      // can start elsewhere (Go 1.19 moves them by 32 bytes): the global must
      // sit at the same offset in the same-named section.
      const ElfSymbol* s = (*ref)->elf().symbol(global_symbol(g));
      REQUIRE(s);
      const ElfSection* in_ref = nullptr;
      for (const auto& sec : (*ref)->elf().sections())
        if (sec.addr && s->value >= sec.addr && s->value < sec.addr + sec.size) in_ref = &sec;
      REQUIRE(in_ref);
      const ElfSection* in_stripped = (*bin)->elf().section(in_ref->name);
      INFO(in_ref->name);
      REQUIRE(in_stripped);
      CHECK(got->vaddr - in_stripped->addr == s->value - in_ref->addr);
      ++compared;
    }
  }
  CHECK(compared > 0);
}
