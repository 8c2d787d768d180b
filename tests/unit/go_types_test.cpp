// Type names decoded from the fixture binaries must be what reflect prints,
// in every release and variant; a stripped binary (no runtime.types symbol,
// the base found through moduledata) gives the same names as its default
// sibling at the same addresses.
#include "gotrace/gobin/go_types.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/pclntab.h"
#include "support/fixtures.h"

using namespace gotrace;
using gotrace::test::Fixture;

namespace {

const char* kPkg = "gotrace.test/fixtures/internal/allocwork.";

// The linker keeps no per-type symbols, but the DWARF of a default build
// says where each type's runtime descriptor is (DW_AT_go_runtime_type, a
// Go extension): an independent source of the descriptors to decode.
constexpr unsigned kDwAtGoRuntimeType = 0x2904;

std::map<std::string, uint64_t> runtime_type_addresses(const std::string& path,
                                                       const std::vector<std::string>& names) {
  std::map<std::string, uint64_t> out;
  int fd = open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  Dwarf* dw = dwarf_begin(fd, DWARF_C_READ);
  REQUIRE(dw);
  Dwarf_Off off = 0, next = 0;
  size_t hsize = 0;
  while (out.size() < names.size() && dwarf_nextcu(dw, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die cu, die;
    if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
      do {
        const char* n = dwarf_diename(&die);
        if (!n || std::find(names.begin(), names.end(), n) == names.end() || out.count(n)) continue;
        Dwarf_Attribute a;
        Dwarf_Addr addr = 0;
        if (dwarf_attr(&die, kDwAtGoRuntimeType, &a) && dwarf_formaddr(&a, &addr) == 0 && addr) out[n] = addr;
      } while (dwarf_siblingof(&die, &die) == 0);
    }
    off = next;
  }
  dwarf_end(dw);
  close(fd);
  return out;
}

struct Expected {
  std::string symbol_name;   // as the linker spells the type (full package path)
  std::string reflect_name;  // what reflect.Type.String() prints
  uint8_t kind;
  uint64_t size;
};

std::vector<Expected> expected_types() {
  std::string p = kPkg;
  return {
      {p + "Small", "allocwork.Small", 25, 32},
      {p + "Big", "allocwork.Big", 25, 800},
      {"*" + p + "Small", "*allocwork.Small", 22, 8},
      {"[64]uint8", "[64]uint8", 17, 64},
      {"[]int64", "[]int64", 23, 24},
      {"int64", "int64", 6, 8},
      {"*int", "*int", 22, 8},
      {"map[int64]int", "map[int64]int", kGoKindMap, 8},
      {"map[string]*" + p + "Small", "map[string]*allocwork.Small", kGoKindMap, 8},
  };
}

const Fixture* default_sibling(const Fixture& f) {
  for (const auto& g : test::fixtures())
    if (g.version == f.version && g.arch == f.arch && g.program == f.program && g.variant == "default")
      return &g;
  return nullptr;
}

}  // namespace

TEST_CASE("type names decode as reflect prints them, in every fixture build", "[gotypes]") {
  for (const auto& f : test::fixtures_of("allocprof")) {
    INFO(f.label());
    const Fixture* sib = default_sibling(f);
    REQUIRE(sib);
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    auto tab = Pclntab::load(**img);
    REQUIRE(tab.ok());
    auto types = GoTypes::load(**img, **tab);
    INFO((types.ok() ? "" : types.error().message));
    REQUIRE(types.ok());
    if (f.variant == "stripped") {
      CHECK(types->base_source() == "moduledata");
    } else {
      CHECK(types->base_source() == "runtime.types symbol");
      // Both ways of finding the base agree.
      REQUIRE((*tab)->moduledata());
      CHECK((*tab)->moduledata()->types == types->types_base());
    }
    // Where the descriptors are, from the build's own DWARF; a stripped
    // build has none, so from its default sibling's: -s -w drops only
    // unloaded sections, so the type data is the same (checked here).
    const Fixture& source = f.variant == "stripped" ? *sib : f;
    std::vector<std::string> names;
    for (const auto& e : expected_types()) names.push_back(e.symbol_name);
    auto addr = runtime_type_addresses(source.path, names);
    auto src_img = ElfImage::open(source.path);
    REQUIRE(src_img.ok());
    const ElfSymbol* src_types = (*src_img)->symbol("runtime.types");
    REQUIRE(src_types);
    // The attribute holds the offset from runtime.types in these releases
    // (an absolute address in older ones).
    for (auto& [name, a] : addr) a = (a < src_types->value ? a : a - src_types->value) + types->types_base();
    for (const auto& e : expected_types()) {
      INFO(e.symbol_name);
      REQUIRE(addr.count(e.symbol_name));
      auto t = types->type_at(addr[e.symbol_name]);
      INFO((t.ok() ? "" : t.error().message));
      REQUIRE(t.ok());
      CHECK(t->name == e.reflect_name);
      CHECK(t->kind == e.kind);
      CHECK(t->size == e.size);
      CHECK(*types->name(addr[e.symbol_name]) == e.reflect_name);
    }
    // A map type's key and element, through its pointers (relocated in PIE).
    auto m = types->map_names(addr[std::string("map[string]*") + kPkg + "Small"]);
    INFO((m.ok() ? "" : m.error().message));
    REQUIRE(m.ok());
    CHECK(m->map == "map[string]*allocwork.Small");
    CHECK(m->key == "string");
    CHECK(m->elem == "*allocwork.Small");
    // Not a type: rejected, never garbage.
    CHECK(!types->type_at(types->types_base() - 8).ok());
    CHECK(!types->type_at(types->types_end()).ok());
    CHECK(!types->map_names(addr["int64"]).ok());
  }
}
