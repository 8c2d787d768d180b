// Runtime struct offsets: DWARF of every fixture against the built-in
// per-version table (which was measured from DWARF with Go's own debug/dwarf
// and checked against runtime2.go); stripped fixtures fall back to the table;
// uncompressed and .zdebug DWARF read the same; mutated DWARF never crashes.
#include <elf.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <set>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/buildinfo.h"
#include "gotrace/gobin/runtime_offsets.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

// Go 1.<minor> of a fixture, from the version `go version` printed for it
// (the manifest's first column is "1.N").
int minor_of(const Fixture& f) {
  auto v = GoVersion::parse(f.version);
  REQUIRE(v);
  return v->minor;
}

std::unique_ptr<ElfImage> open_image(const std::string& path) {
  auto img = ElfImage::open(path);
  INFO(path);
  REQUIRE(img.ok());
  return std::move(*img);
}

GoVersion version_of(const ElfImage& img) {
  auto bi = read_buildinfo(img);
  REQUIRE(bi.ok());
  return bi->version;
}

Arch arch_of(const Fixture& f) { return f.arch == "arm64" ? Arch::Arm64 : Arch::X86_64; }

void require_equal_offsets(const RuntimeOffsets& got, const RuntimeOffsets& want) {
  for (size_t i = 0; i < kRtFieldCount; ++i) {
    INFO(field_name(static_cast<RtField>(i)));
    CHECK(got.fields[i].value == want.fields[i].value);
  }
}

std::string scratch_dir() {
  static char dir[] = "/tmp/gotrace-offsets-XXXXXX";
  static const bool made = [] {
    if (mkdtemp(dir) == nullptr) return false;
    std::atexit([] { rmdir(dir); });  // the tests remove their files
    return true;
  }();
  REQUIRE(made);
  return dir;
}

}  // namespace

TEST_CASE("DWARF offsets equal the version table for every fixture with DWARF", "[offsets]") {
  int with_dwarf = 0;
  for (const auto& f : fixtures()) {
    INFO(f.label());
    auto img = open_image(f.path);
    REQUIRE(img->arch() == arch_of(f));
    if (f.variant == "stripped") {
      REQUIRE_FALSE(img->has_dwarf());
      continue;
    }
    REQUIRE(img->has_dwarf());
    ++with_dwarf;
    auto dw = offsets_from_dwarf(*img);
    REQUIRE(dw.ok());
    auto table = offsets_from_table(version_of(*img), img->arch());
    REQUIRE(table.ok());
    require_equal_offsets(*dw, *table);
    for (size_t i = 0; i < kRtFieldCount; ++i) {
      INFO(field_name(static_cast<RtField>(i)));
      CHECK(dw->fields[i].source == (dw->fields[i].known() ? OffsetSource::Dwarf : OffsetSource::None));
      CHECK(table->fields[i].source ==
            (table->fields[i].known() ? OffsetSource::VersionTable : OffsetSource::None));
    }
    CHECK(dw->complete_for_tracing());
    CHECK((*dw)[RtField::GParentGoid].known() == (minor_of(f) >= 21));
    CHECK((*dw)[RtField::GLabels].known());
    // What the goroutine snapshot reads besides the tracing fields.
    CHECK((*dw)[RtField::GSyscallbp].known() == (minor_of(f) >= 23));
    CHECK((*dw)[RtField::GSyscallsp].known());
    CHECK((*dw)[RtField::GSyscallpc].value == (*dw)[RtField::GSyscallsp].value + 8);
    CHECK((*dw)[RtField::GLockedm].known());

    // With DWARF, resolve takes everything from it (checked on one program,
    // as it reads the same DWARF again).
    if (f.program != "analyze") continue;
    auto resolved = resolve_offsets(*img, version_of(*img));
    REQUIRE(resolved.ok());
    require_equal_offsets(*resolved, *dw);
    for (const auto& fo : resolved->fields)
      if (fo.known()) CHECK(fo.source == OffsetSource::Dwarf);
  }
  CHECK(with_dwarf > 0);
}

TEST_CASE("stripped fixtures take their offsets from the table", "[offsets]") {
  int stripped = 0;
  for (const auto& f : fixtures()) {
    if (f.variant != "stripped") continue;
    INFO(f.label());
    ++stripped;
    auto img = open_image(f.path);
    auto dw = offsets_from_dwarf(*img);
    REQUIRE_FALSE(dw.ok());
    CHECK(dw.error().message ==
          f.path + " has no DWARF debug information (built with -ldflags=-w or stripped)");

    auto version = version_of(*img);
    auto resolved = resolve_offsets(*img, version);
    REQUIRE(resolved.ok());
    CHECK(resolved->complete_for_tracing());
    for (const auto& fo : resolved->fields)
      CHECK(fo.source == (fo.known() ? OffsetSource::VersionTable : OffsetSource::None));
    require_equal_offsets(*resolved, *offsets_from_table(version, img->arch()));

    // And the table row is the one the same version's DWARF build agrees with.
    for (const auto& g : fixtures()) {
      if (minor_of(g) != minor_of(f) || g.arch != f.arch || g.program != f.program || g.variant != "default")
        continue;
      auto dimg = open_image(g.path);
      auto ddw = offsets_from_dwarf(*dimg);
      REQUIRE(ddw.ok());
      require_equal_offsets(*resolved, *ddw);
    }

    auto unknown = resolve_offsets(*img, std::nullopt);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message.find("Go version is unknown") != std::string::npos);
  }
  CHECK(stripped > 0);
}

TEST_CASE("the offset table covers exactly go1.17 to go1.27 on amd64 and arm64", "[offsets]") {
  for (int minor = 17; minor <= 27; ++minor) {
    INFO(minor);
    GoVersion v{1, minor, 0, ""};
    auto amd = offsets_from_table(v, Arch::X86_64);
    auto arm = offsets_from_table(v, Arch::Arm64);
    REQUIRE(amd.ok());
    REQUIRE(arm.ok());
    require_equal_offsets(*amd, *arm);
    CHECK(amd->complete_for_tracing());
    CHECK((*amd)[RtField::GParentGoid].known() == (minor >= 21));
  }
  auto old = offsets_from_table(GoVersion{1, 16, 15, ""}, Arch::X86_64);
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().message ==
        "no runtime offset table for go1.16 (gotrace has tables for go1.17 to go1.27)");
  CHECK_FALSE(offsets_from_table(GoVersion{1, 28, 0, ""}, Arch::X86_64).ok());
  auto other = offsets_from_table(GoVersion{1, 22, 0, ""}, Arch::Other);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message.find("architecture other") != std::string::npos);

  std::set<std::string_view> names;
  for (size_t i = 0; i < kRtFieldCount; ++i) names.insert(field_name(static_cast<RtField>(i)));
  CHECK(names.size() == kRtFieldCount);
  CHECK(names.count("?") == 0);
  CHECK(source_name(OffsetSource::Dwarf) == "dwarf");
  CHECK(source_name(OffsetSource::VersionTable) == "table");
  CHECK(source_name(OffsetSource::None) == "none");

  RuntimeOffsets partial = *offsets_from_table(GoVersion{1, 19, 0, ""}, Arch::X86_64);
  CHECK(partial.complete_for_tracing());  // no parentGoid before 1.21
  partial[RtField::GLabels] = {};
  CHECK(partial.complete_for_tracing());
  partial[RtField::MCurg] = {};
  CHECK_FALSE(partial.complete_for_tracing());
}

TEST_CASE("uncompressed and .zdebug DWARF give the same offsets", "[offsets]") {
  // Host objcopy rewrites the debug sections of the amd64 fixtures.
  if (run_command("objcopy --version >/dev/null 2>&1").status != 0) FAIL("objcopy (binutils) is needed");
  for (const auto& f : fixtures_of("analyze")) {
    if (f.arch != "amd64" || f.variant != "default") continue;
    INFO(f.label());
    auto img = open_image(f.path);
    auto want = offsets_from_dwarf(*img);
    REQUIRE(want.ok());
    const ElfSection* info = img->section(".debug_info");
    REQUIRE(info);
    CHECK((info->flags & SHF_COMPRESSED) != 0);  // how the Go linker writes it

    for (const char* mode : {"--decompress-debug-sections", "--compress-debug-sections=zlib-gnu"}) {
      INFO(mode);
      std::string out =
          scratch_dir() + "/go1." + std::to_string(minor_of(f)) + (mode[2] == 'd' ? ".plain" : ".zdebug");
      REQUIRE(run_command("objcopy " + std::string(mode) + " " + shell_quote(f.path) + " " + shell_quote(out))
                  .status == 0);
      auto copy = open_image(out);
      REQUIRE(copy->has_dwarf());
      if (mode[2] == 'd') {
        REQUIRE(copy->section(".debug_info"));
        CHECK((copy->section(".debug_info")->flags & SHF_COMPRESSED) == 0);
      } else {
        CHECK(copy->section(".zdebug_info") != nullptr);
      }
      auto got = offsets_from_dwarf(*copy);
      REQUIRE(got.ok());
      require_equal_offsets(*got, *want);
      std::remove(out.c_str());
    }
  }
}

TEST_CASE("reading offsets from DWARF stops early and is fast", "[offsets]") {
  // The largest fixture with DWARF; the runtime unit is found without
  // walking the rest of .debug_info.
  const Fixture* biggest = nullptr;
  size_t biggest_size = 0;
  for (const auto& f : fixtures()) {
    if (f.variant == "stripped") continue;
    auto img = open_image(f.path);
    if (img->file_bytes().size() > biggest_size) {
      biggest_size = img->file_bytes().size();
      biggest = &f;
    }
  }
  REQUIRE(biggest);
  auto img = open_image(biggest->path);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) REQUIRE(offsets_from_dwarf(*img).ok());
  auto per_call = (std::chrono::steady_clock::now() - t0) / 5;
  double ms = std::chrono::duration<double, std::milli>(per_call).count();
  INFO(biggest->label() << ": " << ms << " ms");
  CHECK(per_call < std::chrono::milliseconds(250));
}

TEST_CASE("mutated DWARF never crashes the offset reader", "[offsets]") {
  if (run_command("objcopy --version >/dev/null 2>&1").status != 0) FAIL("objcopy (binutils) is needed");
  std::mt19937_64 rng(0x0ff5e75);
  int ok = 0, failed = 0;
  for (const auto& f : fixtures_of("analyze")) {
    if (f.arch != "amd64" || f.variant != "default" || (minor_of(f) != 19 && minor_of(f) != 26)) continue;
    INFO(f.label());
    // Uncompressed, so that the mutations reach the DWARF parser rather than zlib.
    std::string plain = scratch_dir() + "/mut-go1." + std::to_string(minor_of(f));
    REQUIRE(
        run_command("objcopy --decompress-debug-sections " + shell_quote(f.path) + " " + shell_quote(plain))
            .status == 0);
    auto base = open_image(plain);
    const ElfSection* info = base->section(".debug_info");
    const ElfSection* abbrev = base->section(".debug_abbrev");
    REQUIRE(info);
    REQUIRE(abbrev);
    auto pristine_span = base->file_bytes();
    std::vector<uint8_t> pristine(pristine_span.begin(), pristine_span.end());
    std::remove(plain.c_str());
    for (int iter = 0; iter < 150; ++iter) {
      auto bytes = pristine;
      const ElfSection* target = (iter % 4 == 0) ? abbrev : info;
      int n = 1 + static_cast<int>(rng() % 16);
      for (int k = 0; k < n; ++k) bytes[target->offset + rng() % target->size] = static_cast<uint8_t>(rng());
      if (iter % 10 == 9) bytes.resize(info->offset + rng() % info->size);  // cut inside .debug_info
      auto copy = ElfImage::from_bytes(std::move(bytes), "mutated");
      if (!copy.ok()) {
        ++failed;
        continue;
      }
      auto r = offsets_from_dwarf(**copy);
      if (r.ok()) {
        ++ok;
        for (const auto& fo : r->fields) CHECK(fo.value < (1 << 30));
      } else {
        ++failed;
        CHECK_FALSE(r.error().message.empty());
      }
    }
  }
  CHECK(ok > 0);
  CHECK(ok + failed == 2 * 150);  // go1.19 and go1.26
}
