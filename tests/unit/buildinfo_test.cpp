// .go.buildinfo: every fixture's version and build settings against what
// `go version -m` prints for it; the pre-1.18 pointer format and the
// segment-scan fallback on rewritten copies of real fixtures; non-Go files;
// and truncated / mutated inputs.
#include "gotrace/gobin/buildinfo.h"

#include <elf.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/gobin/runtime_offsets.h"
#include "gotrace/gobin/wait_reasons.h"
#include "gotrace/util/byte_reader.h"
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

struct GoVersionM {
  std::string version;
  std::string path;
  std::map<std::string, std::string> settings;
};

// `go version -m`'s quoting of a build setting is Go's strconv.Quote; the
// fixtures only need \" and \\ undone.
std::string go_unquote(const std::string& v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return v;
  std::string out;
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

// One `go version -m` run over every fixture, parsed per file.
const std::map<std::string, GoVersionM>& go_version_m() {
  static std::map<std::string, GoVersionM> all = [] {
    std::map<std::string, GoVersionM> out;
    std::string cmd = go_command() + " version -m";
    for (const auto& f : fixtures()) cmd += " " + shell_quote(f.path);
    auto r = run_command(cmd);
    REQUIRE(r.status == 0);
    std::istringstream in(r.out);
    std::string line;
    GoVersionM* cur = nullptr;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (line[0] != '\t') {
        auto colon = line.rfind(": ");
        REQUIRE(colon != std::string::npos);
        cur = &out[line.substr(0, colon)];
        cur->version = line.substr(colon + 2);
        continue;
      }
      REQUIRE(cur != nullptr);
      std::istringstream ls(line.substr(1));
      std::string kind, rest;
      std::getline(ls, kind, '\t');
      std::getline(ls, rest);
      if (kind == "path") cur->path = rest;
      if (kind == "build") {
        auto eq = rest.find('=');
        REQUIRE(eq != std::string::npos);
        cur->settings[rest.substr(0, eq)] = go_unquote(rest.substr(eq + 1));
      }
    }
    return out;
  }();
  return all;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  REQUIRE(in.good());
  std::vector<uint8_t> out(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  REQUIRE(in.good());
  return out;
}

std::unique_ptr<ElfImage> open_image(const std::string& path) {
  auto img = ElfImage::open(path);
  INFO(path);
  REQUIRE(img.ok());
  return std::move(*img);
}

void put_u64(std::vector<uint8_t>& b, uint64_t off, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

void require_same(const BuildInfo& a, const BuildInfo& b) {
  CHECK(a.version_string == b.version_string);
  CHECK(a.version == b.version);
  CHECK(a.main_path == b.main_path);
  CHECK(a.settings == b.settings);
  CHECK(a.modinfo == b.modinfo);
}

}  // namespace

TEST_CASE("buildinfo matches go version -m for every fixture", "[buildinfo]") {
  const auto& truth = go_version_m();
  for (const auto& f : fixtures()) {
    INFO(f.label());
    auto it = truth.find(f.path);
    REQUIRE(it != truth.end());
    auto img = open_image(f.path);
    auto bi = read_buildinfo(*img);
    REQUIRE(bi.ok());
    CHECK(bi->version_string == it->second.version);
    CHECK(bi->version_string == f.version);
    CHECK(bi->version.major == 1);
    CHECK(bi->version.minor == minor_of(f));
    CHECK(bi->inline_strings);  // every fixture is 1.18+
    CHECK(bi->main_path == it->second.path);
    CHECK(bi->settings == it->second.settings);
    CHECK(bi->setting("GOARCH") == f.arch);
    CHECK(bi->setting("GOOS") == "linux");
    CHECK(bi->setting("no such key").empty());
    CHECK(bi->setting("CGO_ENABLED") == (f.variant == "cgo" ? "1" : "0"));
  }
}

TEST_CASE("GoVersion parses the version strings Go writes", "[buildinfo]") {
  auto v = GoVersion::parse("go1.22.12");
  REQUIRE(v);
  CHECK((v->major == 1 && v->minor == 22 && v->patch == 12));
  CHECK(v->short_name() == "go1.22");
  CHECK(v->raw == "go1.22.12");

  v = GoVersion::parse("go1.21.0 X:loopvar");
  REQUIRE(v);
  CHECK((v->minor == 21 && v->patch == 0));
  CHECK(v->raw == "go1.21.0 X:loopvar");

  v = GoVersion::parse("devel go1.24-abcdef0123 Tue Jan 1 00:00:00 2025 +0000");
  REQUIRE(v);
  CHECK((v->major == 1 && v->minor == 24 && v->patch == 0));

  v = GoVersion::parse("go1.26rc1");
  REQUIRE(v);
  CHECK((v->minor == 26 && v->patch == 0));

  v = GoVersion::parse("go1.17");
  REQUIRE(v);
  CHECK((v->minor == 17 && v->patch == 0));
  CHECK(classify(*v) == VersionSupport::Supported);
  CHECK(classify(*GoVersion::parse("go1.16.15")) == VersionSupport::TooOld);
  CHECK(classify(*GoVersion::parse("go1.27.1")) == VersionSupport::Supported);
  CHECK(classify(*GoVersion::parse("go1.28.0")) == VersionSupport::Newer);
  CHECK(*GoVersion::parse("go1.22.3") < *GoVersion::parse("go1.22.12"));
  CHECK(GoVersion::parse("go1.22.3")->at_least(1, 22));
  CHECK_FALSE(GoVersion::parse("go1.21.9")->at_least(1, 22));

  CHECK_FALSE(GoVersion::parse(""));
  CHECK_FALSE(GoVersion::parse("go"));
  CHECK_FALSE(GoVersion::parse("go1."));
  CHECK_FALSE(GoVersion::parse("gox.y"));
  CHECK_FALSE(GoVersion::parse("1.22.1"));
}

TEST_CASE("a non-Go ELF file is reported as not a Go program", "[buildinfo]") {
  for (const char* path : {"/bin/ls", "/bin/sh"}) {
    INFO(path);
    // Ground truth: the Go toolchain agrees it is not a Go executable.
    CHECK(run_command(go_command() + " version -m " + path + " >/dev/null 2>&1").status != 0);
    auto img = open_image(path);
    auto bi = read_buildinfo(*img);
    REQUIRE_FALSE(bi.ok());
    CHECK(bi.error().message == std::string(path) + " is not a Go program (no Go build information found)");
  }
}

TEST_CASE("buildinfo is found by scanning segments when there are no section headers", "[buildinfo]") {
  for (const auto& f : fixtures()) {
    INFO(f.label());
    auto img = open_image(f.path);
    auto want = read_buildinfo(*img);
    REQUIRE(want.ok());
    auto bytes = read_file(f.path);
    // Drop the section header table from the ELF header.
    put_u64(bytes, offsetof(Elf64_Ehdr, e_shoff), 0);
    bytes[offsetof(Elf64_Ehdr, e_shnum)] = bytes[offsetof(Elf64_Ehdr, e_shnum) + 1] = 0;
    bytes[offsetof(Elf64_Ehdr, e_shstrndx)] = bytes[offsetof(Elf64_Ehdr, e_shstrndx) + 1] = 0;
    auto copy = ElfImage::from_bytes(std::move(bytes), f.path);
    REQUIRE(copy.ok());
    REQUIRE((*copy)->section(".go.buildinfo") == nullptr);
    auto got = read_buildinfo(**copy);
    REQUIRE(got.ok());
    require_same(*got, *want);
  }
}

// Go 1.17 and older store pointers to Go string headers instead of the
// strings. Rewriting a real fixture's header that way (pointing at
// runtime.buildVersion and runtime.modinfo, which is what those linkers did)
// must give the same answer as the inline form.
TEST_CASE("the pre-1.18 pointer format is read through string headers", "[buildinfo]") {
  int rewritten = 0;
  for (const auto& f : fixtures()) {
    if (f.variant == "stripped") continue;  // needs the two symbols
    INFO(f.label());
    auto img = open_image(f.path);
    auto want = read_buildinfo(*img);
    REQUIRE(want.ok());
    const ElfSymbol* vers = img->symbol("runtime.buildVersion");
    const ElfSymbol* mod = img->symbol("runtime.modinfo");
    REQUIRE(vers);
    REQUIRE(mod);
    const ElfSection* sec = img->section(".go.buildinfo");
    REQUIRE(sec);
    auto bytes = read_file(f.path);
    REQUIRE(sec->offset + 32 <= bytes.size());
    bytes[sec->offset + 15] = 0;  // little endian, pointers
    put_u64(bytes, sec->offset + 16, vers->value);
    put_u64(bytes, sec->offset + 24, mod->value);
    auto copy = ElfImage::from_bytes(std::move(bytes), f.path);
    REQUIRE(copy.ok());
    auto got = read_buildinfo(**copy);
    REQUIRE(got.ok());
    CHECK_FALSE(got->inline_strings);
    CHECK(got->ptr_size == 8);
    require_same(*got, *want);
    ++rewritten;

    // A pointer outside the file is an error, not a crash.
    auto bad = read_file(f.path);
    bad[sec->offset + 15] = 0;
    put_u64(bad, sec->offset + 16, 0xdead00000000ull);
    put_u64(bad, sec->offset + 24, mod->value);
    auto bad_img = ElfImage::from_bytes(std::move(bad), f.path);
    REQUIRE(bad_img.ok());
    auto err = read_buildinfo(**bad_img);
    REQUIRE_FALSE(err.ok());
    CHECK(err.error().message.find("outside the file") != std::string::npos);
  }
  CHECK(rewritten > 0);
}

TEST_CASE("truncated and mutated buildinfo never crashes the reader", "[buildinfo]") {
  std::mt19937_64 rng(0x60b11d1f0);
  int accepted = 0, rejected = 0;
  for (const auto& f : fixtures_of("analyze")) {
    if (f.variant != "stripped" || (minor_of(f) != 19 && minor_of(f) != 26)) continue;  // 4 fixtures
    INFO(f.label());
    auto img = open_image(f.path);
    const ElfSection* sec = img->section(".go.buildinfo");
    REQUIRE(sec);
    auto pristine = read_file(f.path);
    const uint64_t start = sec->offset;
    const uint64_t region = std::min<uint64_t>(sec->size, 512);
    for (int iter = 0; iter < 500; ++iter) {
      auto bytes = pristine;
      switch (iter % 3) {
        case 0: {  // flip a few bytes of the header and strings
          int n = 1 + static_cast<int>(rng() % 6);
          for (int k = 0; k < n; ++k) bytes[start + rng() % region] = static_cast<uint8_t>(rng());
          break;
        }
        case 1: {  // overwrite the length varints / flags with extreme values
          bytes[start + 14 + rng() % 2] = static_cast<uint8_t>(rng());
          bytes[start + 32 + rng() % 12] = static_cast<uint8_t>(0x80 | rng());
          break;
        }
        case 2: {  // cut the file inside or just after the block
          bytes.resize(start + rng() % (region + 64));
          break;
        }
      }
      auto copy = ElfImage::from_bytes(std::move(bytes), "mutated");
      if (!copy.ok()) {
        ++rejected;
        continue;
      }
      auto bi = read_buildinfo(**copy);
      if (bi.ok()) {
        ++accepted;
        CHECK_FALSE(bi->version_string.empty());
        CHECK(bi->version.major >= 1);
      } else {
        ++rejected;
        CHECK_FALSE(bi.error().message.empty());
      }
    }
  }
  CHECK(accepted > 0);
  CHECK(rejected > 0);
}

// Whole files mutated where it hurts most (ELF header, program and section
// header tables) or anywhere, or cut short: ElfImage::from_bytes and the
// readers of this module must fail cleanly or return sane values.
TEST_CASE("mutated and truncated whole fixture files never crash the readers",
          "[buildinfo][offsets][waitreasons]") {
  std::mt19937_64 rng(0xe1f5eed);
  int images = 0, parsed = 0;
  for (const auto& f : fixtures_of("analyze")) {
    if (f.arch != "amd64" || (f.variant != "default" && f.variant != "stripped") ||
        (minor_of(f) != 19 && minor_of(f) != 26))
      continue;  // 4 fixtures
    INFO(f.label());
    auto pristine = read_file(f.path);
    Elf64_Ehdr eh;
    std::memcpy(&eh, pristine.data(), sizeof eh);
    const uint64_t shtab = eh.e_shoff, shtab_size = uint64_t{eh.e_shentsize} * eh.e_shnum;
    REQUIRE(shtab + shtab_size <= pristine.size());
    for (int iter = 0; iter < 200; ++iter) {
      auto bytes = pristine;
      int n = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < n; ++k) {
        uint64_t at;
        switch (rng() % 3) {
          case 0:
            at = rng() % 4096;
            break;  // ELF header, program headers
          case 1:
            at = shtab + rng() % std::max<uint64_t>(shtab_size, 1);
            break;  // section headers
          default:
            at = rng() % bytes.size();
            break;
        }
        bytes[at] = static_cast<uint8_t>(rng());
      }
      if (iter % 8 == 7) bytes.resize(rng() % bytes.size());
      auto img = ElfImage::from_bytes(std::move(bytes), "mutated");
      if (!img.ok()) continue;
      ++images;
      auto bi = read_buildinfo(**img);
      if (bi.ok()) {
        ++parsed;
        CHECK_FALSE(bi->version_string.empty());
      }
      auto wr = wait_reasons_from_binary(**img);
      if (wr.ok()) CHECK(wr->names.size() <= 256);
      if (iter % 8 == 0) {  // DWARF decompression is the slow part
        auto off = offsets_from_dwarf(**img);
        if (off.ok())
          for (const auto& fo : off->fields) CHECK(fo.value < (1 << 30));
      }
    }
  }
  CHECK(images > 0);
  CHECK(parsed > 0);
}
