// Where a thread's g lives relative to its FS base, against the runtime's own
// code: runtime.mcall stores g with `MOVQ R14, FS:disp` (or, in PIE builds,
// `MOVQ $disp, CX; MOVQ R14, FS:(CX)`), as go tool objdump / binutils show it.
#include "gotrace/gobin/tls_g.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <regex>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/pclntab.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

// The FS displacement runtime.mcall stores g at, from objdump (the
// function's range from .gopclntab: stripped builds have no symbol for it).
std::optional<int64_t> mcall_fs_displacement(const ElfImage& img, const std::string& path) {
  auto tab = Pclntab::load(img);
  REQUIRE(tab.ok());
  auto fn = (*tab)->function_by_name("runtime.mcall");
  REQUIRE(fn);
  auto r = run_command(
      fmt::format("objdump -d --no-show-raw-insn --start-address={:#x} --stop-address={:#x} {} 2>/dev/null",
                  fn->entry, fn->end, shell_quote(path)));
  static const std::regex direct(R"(mov\s+%r14,%fs:(0x[0-9a-f]+))");
  static const std::regex via(R"(mov\s+\$(0x[0-9a-f]+),%(\w+)\n[^\n]*mov\s+%r14,%fs:\(%(\w+)\))");
  std::smatch m;
  if (std::regex_search(r.out, m, direct)) return static_cast<int64_t>(std::stoull(m[1].str(), nullptr, 16));
  if (std::regex_search(r.out, m, via) && m[2] == m[3])
    return static_cast<int64_t>(std::stoull(m[1].str(), nullptr, 16));
  return std::nullopt;
}

}  // namespace

TEST_CASE("the TLS slot of g agrees with where runtime.mcall stores it", "[tls]") {
  size_t checked = 0;
  for (const auto& f : fixtures_of("hotpark", "amd64")) {
    INFO(f.label());
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    std::string why;
    auto tls = tls_g_offset(**img, &why);
    INFO(why);
    REQUIRE(tls);
    auto disp = mcall_fs_displacement(**img, f.path);
    REQUIRE(disp);
    CHECK(tls->offset == *disp);
    ++checked;
  }
  CHECK(checked >= 9 * 4);
  // arm64 keeps g in a register, not at an FS offset.
  for (const auto& f : fixtures_of("hotpark", "arm64")) {
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    CHECK_FALSE(tls_g_offset(**img));
  }
}
