// ElfImage: one ELF file, mapped read-only and parsed with libelf. Gives the
// sections, PT_LOAD segments and symbols, and bounds-checked access to the
// bytes at a file offset or a link-time virtual address. Owns the libelf
// handle that libdw reads DWARF through.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gotrace/util/result.h"

typedef struct Elf Elf;  // libelf

namespace gotrace {

enum class Arch { X86_64, Arm64, Other };
std::string_view arch_name(Arch arch);  // "amd64", "arm64", "other" (Go's names)
// Go's GOARCH name of an ELF e_machine ("386", "arm", "riscv64" …), or
// "unknown machine 0xNN".
std::string go_arch_name(uint16_t e_machine, bool is_64bit);

struct ElfSection {
  std::string name;
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t addr = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  bool has_file_bytes() const;  // not SHT_NOBITS
};

struct ElfSegment {
  uint32_t type = 0;
  uint32_t flags = 0;  // PF_X | PF_W | PF_R
  uint64_t vaddr = 0;
  uint64_t offset = 0;
  uint64_t filesz = 0;
  uint64_t memsz = 0;
  uint64_t align = 0;
};

struct ElfSymbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  uint8_t type = 0;  // STT_*
  uint8_t bind = 0;  // STB_*
  uint16_t shndx = 0;
};

class ElfImage {
 public:
  // Maps and parses a file (a path or /proc/PID/exe).
  static Result<std::unique_ptr<ElfImage>> open(const std::string& path);
  // Parses bytes held in memory (tests, fuzzing). The image owns them.
  static Result<std::unique_ptr<ElfImage>> from_bytes(std::vector<uint8_t> bytes,
                                                      std::string name = "<memory>");
  ~ElfImage();
  ElfImage(const ElfImage&) = delete;
  ElfImage& operator=(const ElfImage&) = delete;

  const std::string& path() const { return path_; }
  Arch arch() const { return arch_; }
  std::string arch_label() const { return go_arch_name(machine_, is_64_); }  // Go's name, any machine
  uint16_t machine() const { return machine_; }
  uint16_t elf_type() const { return elf_type_; }  // ET_EXEC, ET_DYN …
  bool is_64bit() const { return is_64_; }
  bool big_endian() const { return big_endian_; }
  unsigned ptr_size() const { return is_64_ ? 8 : 4; }
  uint64_t entry() const { return entry_; }

  // The whole file.
  std::span<const uint8_t> file_bytes() const { return {data_, size_}; }

  const std::vector<ElfSection>& sections() const { return sections_; }
  const ElfSection* section(std::string_view name) const;
  // A section's bytes in the file (empty for SHT_NOBITS or out-of-file headers).
  std::span<const uint8_t> section_bytes(const ElfSection& s) const;

  const std::vector<ElfSegment>& segments() const { return segments_; }
  const ElfSegment* segment_of_vaddr(uint64_t vaddr) const;  // PT_LOAD containing vaddr
  bool has_interp() const;                                   // PT_INTERP present
  // PT_LOAD file offset of a virtual address (what a uprobe is attached at).
  std::optional<uint64_t> vaddr_to_file_offset(uint64_t vaddr) const;
  // Bytes at a virtual address, as stored in the file (link-time values).
  // Fails if any part lies outside the file-backed part of a PT_LOAD segment.
  std::optional<std::span<const uint8_t>> bytes_at_vaddr(uint64_t vaddr, uint64_t n) const;
  // Bytes from vaddr to the end of the file-backed part of its segment.
  std::span<const uint8_t> bytes_from_vaddr(uint64_t vaddr) const;

  // .symtab and .dynsym together (loaded on first use). Empty when stripped.
  const std::vector<ElfSymbol>& symbols() const;
  const ElfSymbol* symbol(std::string_view name) const;
  bool has_symtab() const;  // a .symtab section exists
  bool has_dwarf() const;   // a .debug_info (or .zdebug_info) section exists

  // libelf handle (for libdw). Valid for the image's lifetime.
  Elf* elf() const { return elf_; }

 private:
  ElfImage() = default;
  Result<void> parse();
  void load_symbols() const;

  std::string path_;
  std::vector<uint8_t> owned_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;
  Elf* elf_ = nullptr;

  Arch arch_ = Arch::Other;
  uint16_t machine_ = 0;
  uint16_t elf_type_ = 0;
  bool is_64_ = true;
  bool big_endian_ = false;
  uint64_t entry_ = 0;
  std::vector<ElfSection> sections_;
  std::vector<ElfSegment> segments_;

  mutable bool symbols_loaded_ = false;
  mutable std::vector<ElfSymbol> symbols_;
  mutable std::unordered_map<std::string_view, size_t> symbol_index_;
};

}  // namespace gotrace
