// Decoding runtime type descriptors from the file (see go_types.h).
#include "gotrace/gobin/go_types.h"

#include <elf.h>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/pclntab.h"
#include "gotrace/util/byte_reader.h"

namespace gotrace {
namespace {

constexpr uint64_t kTypeHeaderSize = 48;
constexpr uint64_t kOffTFlag = 0x14;
constexpr uint64_t kOffKind = 0x17;
constexpr uint64_t kOffStr = 0x28;
constexpr uint64_t kOffMapKey = 0x30;
constexpr uint64_t kOffMapElem = 0x38;
constexpr uint8_t kTFlagExtraStar = 1 << 1;
constexpr uint8_t kKindMask = 0x1f;
constexpr uint64_t kMaxNameLen = 1 << 16;  // Go type names are far shorter; anything longer is garbage

}  // namespace

Result<GoTypes> GoTypes::load(const ElfImage& image, const Pclntab& pclntab) {
  if (image.ptr_size() != 8)
    return make_error("{}: type names are decoded for 64-bit binaries only", image.path());
  const auto& md = pclntab.moduledata();
  if (const ElfSymbol* sym = image.symbol("runtime.types"); sym && sym->value) {
    uint64_t end = md && md->types == sym->value ? md->etypes : 0;
    if (!end)
      if (const ElfSymbol* e = image.symbol("runtime.etypes")) end = e->value;
    if (end > sym->value) return GoTypes(image, sym->value, end, "runtime.types symbol");
  }
  if (md && md->types && md->etypes > md->types) return GoTypes(image, md->types, md->etypes, "moduledata");
  return make_error(
      "{}: cannot find the Go type data (no runtime.types symbol and no runtime.firstmoduledata found); "
      "type names will be missing",
      image.path());
}

std::optional<uint64_t> GoTypes::pointer_at(uint64_t vaddr) const {
  auto b = image_->bytes_at_vaddr(vaddr, 8);
  if (!b) return std::nullopt;
  uint64_t v = ByteReader(*b, image_->big_endian()).u64(0).value_or(0);
  if (v) return v;
  // Position-independent builds may leave the word 0 in the file and put
  // the target in a relative relocation's addend.
  std::lock_guard lock(mu_);
  if (!relative_) {
    relative_.emplace();
    for (const auto& s : image_->sections()) {
      if (s.type != SHT_RELA || !s.has_file_bytes()) continue;
      ByteReader r(image_->section_bytes(s), image_->big_endian());
      for (uint64_t off = 0; r.in_range(off, 24); off += 24) {
        uint64_t info = r.u64(off + 8).value_or(0);
        uint32_t type = static_cast<uint32_t>(info & 0xffffffff);
        if (type == R_X86_64_RELATIVE || type == R_AARCH64_RELATIVE)
          (*relative_)[r.u64(off).value_or(0)] = r.u64(off + 16).value_or(0);
      }
    }
  }
  if (auto it = relative_->find(vaddr); it != relative_->end()) return it->second;
  return std::nullopt;
}

Result<GoTypeInfo> GoTypes::type_at(uint64_t vaddr) const {
  if (vaddr < base_ || vaddr >= end_ || end_ - vaddr < kTypeHeaderSize)
    return make_error("{:#x} is not a type descriptor of this module (types are at {:#x}..{:#x})", vaddr,
                      base_, end_);
  auto hdr = image_->bytes_at_vaddr(vaddr, kTypeHeaderSize);
  if (!hdr) return make_error("type descriptor at {:#x} is outside the file's data", vaddr);
  ByteReader r(*hdr, image_->big_endian());
  GoTypeInfo info;
  info.size = *r.u64(0);
  const uint8_t tflag = *r.u8(kOffTFlag);
  info.kind = *r.u8(kOffKind) & kKindMask;
  const int32_t str = *r.i32(kOffStr);
  if (str <= 0 || static_cast<uint64_t>(str) >= end_ - base_)
    return make_error("type descriptor at {:#x} has no name (name offset {})", vaddr, str);
  const uint64_t name_addr = base_ + static_cast<uint64_t>(str);
  auto rest = image_->bytes_from_vaddr(name_addr);
  // byte 0: flags; then a uvarint length; then the bytes.
  uint64_t len = 0;
  size_t i = 1;
  for (int shift = 0; i < rest.size() && shift < 64; shift += 7, ++i) {
    len |= uint64_t{rest[i] & 0x7fu} << shift;
    if (!(rest[i] & 0x80)) break;
  }
  ++i;
  if (i > rest.size() || len > kMaxNameLen || len > rest.size() - i)
    return make_error("type name at {:#x} (of the type at {:#x}) does not decode", name_addr, vaddr);
  std::string_view name(reinterpret_cast<const char*>(rest.data() + i), len);
  if ((tflag & kTFlagExtraStar) && name.starts_with('*')) name.remove_prefix(1);
  info.name = std::string(name);
  return info;
}

Result<std::string> GoTypes::name(uint64_t vaddr) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = names_.find(vaddr); it != names_.end()) return it->second;
  }
  auto t = type_at(vaddr);
  if (!t) return t.error();
  std::lock_guard lock(mu_);
  names_.emplace(vaddr, t->name);
  return std::move(t->name);
}

Result<GoTypes::MapTypeNames> GoTypes::map_names(uint64_t maptype_vaddr) const {
  auto t = type_at(maptype_vaddr);
  if (!t) return t.error();
  if (t->kind != kGoKindMap)
    return make_error("the type at {:#x} ({}) is not a map type (kind {})", maptype_vaddr, t->name, t->kind);
  auto key = pointer_at(maptype_vaddr + kOffMapKey);
  auto elem = pointer_at(maptype_vaddr + kOffMapElem);
  if (!key || !elem)
    return make_error("map type {} at {:#x}: key or element pointer unreadable", t->name, maptype_vaddr);
  auto kn = name(*key);
  if (!kn) return kn.error();
  auto en = name(*elem);
  if (!en) return en.error();
  return MapTypeNames{std::move(t->name), std::move(*kn), std::move(*en)};
}

}  // namespace gotrace
