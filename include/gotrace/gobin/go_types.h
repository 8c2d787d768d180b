// Go type names from the binary alone: given the address of a runtime type
// descriptor (a `*_type`, what mallocgc and the map functions receive), the
// name reflect.Type.String() would print ("map[string]*main.Small",
// "[]uint8", "*int"). Read from the file's bytes, so addresses are link-time
// ones: callers subtract a PIE's load bias first.
//
// Layout (the same 48-byte header in Go 1.16–1.26: runtime._type up to 1.20,
// internal/abi.Type from 1.21): Size_ at 0, TFlag (u8) at 0x14, Kind_ (u8,
// low 5 bits) at 0x17, Str (int32 name offset) at 0x28. The name lives at
// types_base + Str: one flag byte, a uvarint length, the bytes. TFlag bit 1
// (ExtraStar) means the stored name has a '*' the type's own name does not.
// A map type continues with Key at 0x30 and Elem at 0x38 (every layout of
// runtime.maptype / abi.MapType / abi.SwissMapType / abi.OldMapType).
//
// types_base is moduledata.types: the ELF symbol runtime.types when there is
// one, else the types field of runtime.firstmoduledata, which Pclntab finds
// without symbols by scanning the data for the moduledata whose first word
// points at the pclntab header (see pclntab_locate.cpp). Types made at run
// time (reflect.StructOf …) are not in the file and do not resolve.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "gotrace/util/result.h"

namespace gotrace {

class ElfImage;
class Pclntab;

inline constexpr uint8_t kGoKindMap = 21;

struct GoTypeInfo {
  std::string name;
  uint64_t size = 0;
  uint8_t kind = 0;  // Kind_ & 0x1f (reflect.Kind numbering)
};

class GoTypes {
 public:
  // Fails when neither runtime.types nor moduledata can be found.
  static Result<GoTypes> load(const ElfImage& image, const Pclntab& pclntab);

  uint64_t types_base() const { return base_; }
  uint64_t types_end() const { return end_; }
  const std::string& base_source() const { return source_; }  // "runtime.types symbol" | "moduledata"

  // The type at a link-time address: its name, size and kind. Fails for an
  // address outside the module's type data or bytes that do not decode.
  Result<GoTypeInfo> type_at(uint64_t vaddr) const;
  Result<std::string> name(uint64_t vaddr) const;  // type_at(vaddr)->name, cached

  struct MapTypeNames {
    std::string map;  // "map[string]*main.Small"
    std::string key;
    std::string elem;
  };
  // A map type descriptor's own name and its key and element names.
  Result<MapTypeNames> map_names(uint64_t maptype_vaddr) const;

  GoTypes(GoTypes&& o) noexcept
      : image_(o.image_), base_(o.base_), end_(o.end_), source_(std::move(o.source_)) {}

 private:
  GoTypes(const ElfImage& image, uint64_t base, uint64_t end, std::string source)
      : image_(&image), base_(base), end_(end), source_(std::move(source)) {}
  // A pointer stored in the file at vaddr; for PIE and externally linked
  // binaries whose stored word is 0, the R_*_RELATIVE addend of .rela.dyn.
  std::optional<uint64_t> pointer_at(uint64_t vaddr) const;

  const ElfImage* image_;
  uint64_t base_ = 0;
  uint64_t end_ = 0;
  std::string source_;
  mutable std::mutex mu_;
  mutable std::unordered_map<uint64_t, std::string> names_;
  mutable std::optional<std::unordered_map<uint64_t, uint64_t>> relative_;  // vaddr -> addend
};

}  // namespace gotrace
