// DWARF helpers shared by the readers of runtime struct offsets
// (runtime_offsets.cpp, gc_offsets.cpp): a private libdw session over an
// ElfImage, and lookups of runtime struct types and their members.
// Internal to src/gobin.
#pragma once

#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

#include "gotrace/elf/elf_image.h"
#include "gotrace/util/result.h"

namespace gotrace::detail {

// The sections type lookups need (DIEs, abbreviations, string tables).
bool needed_debug_section(std::string_view name);

// libdw decompresses SHF_COMPRESSED sections through elf_compress, which
// rewrites the section header in the ELF image it was given. The image's own
// bytes may be a read-only file mapping, and other modules read them, so
// libdw gets a private, sparse copy instead: an anonymous mapping the size of
// the file holding only the ELF header, the program and section header
// tables, the section name table and the debug sections it needs. Pages never written
// cost nothing.
class DwarfSession {
 public:
  ~DwarfSession() {
    if (dwarf_) dwarf_end(dwarf_);
    if (elf_) elf_end(elf_);
    if (map_) munmap(map_, size_);
  }
  DwarfSession() = default;
  DwarfSession(const DwarfSession&) = delete;
  DwarfSession& operator=(const DwarfSession&) = delete;

  Result<void> open(const ElfImage& image) {
    auto file = image.file_bytes();
    GElf_Ehdr eh;
    if (file.empty() || !gelf_getehdr(image.elf(), &eh))
      return make_error("{}: bad ELF header", image.path());
    size_ = file.size();
    void* m =
        mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return make_error("{}: cannot map {} bytes for DWARF reading", image.path(), size_);
    map_ = m;
    auto* dst = static_cast<uint8_t*>(map_);
    auto copy = [&](uint64_t off, uint64_t n) {
      if (off >= size_) return;
      n = std::min<uint64_t>(n, size_ - off);
      std::memcpy(dst + off, file.data() + off, n);
    };
    copy(0, std::max<uint64_t>(eh.e_ehsize, sizeof(Elf64_Ehdr)));
    size_t phnum = 0, shnum = 0, shstrndx = 0;
    if (elf_getphdrnum(image.elf(), &phnum) == 0) copy(eh.e_phoff, uint64_t{eh.e_phentsize} * phnum);
    if (elf_getshdrnum(image.elf(), &shnum) == 0)
      copy(eh.e_shoff, uint64_t{eh.e_shentsize} * std::max<size_t>(shnum, 1));
    bool names = elf_getshdrstrndx(image.elf(), &shstrndx) == 0;
    size_t index = 0;
    for (Elf_Scn* scn = elf_nextscn(image.elf(), nullptr); scn; scn = elf_nextscn(image.elf(), scn)) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS) continue;
      index = elf_ndxscn(scn);
      const char* n = names ? elf_strptr(image.elf(), shstrndx, sh.sh_name) : nullptr;
      bool wanted = index == shstrndx || (n && needed_debug_section(n));
      if (wanted) copy(sh.sh_offset, sh.sh_size);
    }
    elf_ = elf_memory(static_cast<char*>(map_), size_);
    if (!elf_) return make_error("{}: cannot read the ELF file for DWARF: {}", image.path(), elf_errmsg(-1));
    dwarf_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
    if (!dwarf_) return make_error("{}: cannot read DWARF: {}", image.path(), dwarf_errmsg(-1));
    return {};
  }
  Dwarf* get() const { return dwarf_; }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
  Elf* elf_ = nullptr;
  Dwarf* dwarf_ = nullptr;
};

// A member's constant DW_AT_data_member_location (or the DWARF 2 form
// DW_OP_plus_uconst N); -1 when it has neither.
int64_t member_location(Dwarf_Die* member);
// The member `name` of struct `st`: its offset and, if `type_out` is given,
// its type with typedefs and qualifiers peeled off. -1 when absent.
int64_t find_member(Dwarf_Die* st, std::string_view name, Dwarf_Die* type_out = nullptr);
// nested.field inside st: offset(st.outer) + offset(outer's type.inner).
int64_t find_nested(Dwarf_Die* st, std::string_view outer, std::string_view inner);

struct Wanted {
  const char* name;
  bool found = false;
  Dwarf_Die die{};
};

// Finds the wanted "runtime.*" struct types: first in the compile unit named
// "runtime" (where the Go linker puts the runtime's types, so a big binary
// costs one unit's DIEs), then in every other unit unless `enough()` says
// what was found already suffices.
void find_runtime_structs(Dwarf* dwarf, std::vector<Wanted>& wanted, const std::function<bool()>& enough);

}  // namespace gotrace::detail
