// Names of global variables (the ELF symbol table's data objects), looked up
// by a runtime address: "main.sessionMu", "pkg.cache+0x10". Empty for
// stripped binaries (no .symtab): callers then show the address.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gotrace/elf/elf_image.h"

namespace gotrace {

class DataSymbols {
 public:
  // bias: runtime address = link-time address + bias (PIE).
  DataSymbols(const ElfImage& elf, uint64_t bias);
  // "" when no data symbol covers the address.
  std::string name(uint64_t runtime_addr) const;
  bool empty() const { return syms_.empty(); }

 private:
  uint64_t bias_;
  std::vector<const ElfSymbol*> syms_;  // by address
};

}  // namespace gotrace
