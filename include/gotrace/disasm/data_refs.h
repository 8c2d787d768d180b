// The data a function's code refers to by absolute address: RIP-relative
// operands on x86-64 (`MOVQ runtime.allglen(SB), AX` is `mov rax, [rip+d]`)
// and ADRP+ADD / ADRP+LDR/STR pairs on arm64 (the Go linker always emits the
// pair adjacent). Used to find runtime globals in binaries without a symbol
// table: the code that reads a global still says where it is.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gotrace/elf/elf_image.h"

namespace gotrace {

enum class DataAccess : uint8_t {
  Address,  // the address is taken (LEA, ADRP+ADD), no access here
  Read,     // loaded or compared
  Write,    // stored (read-modify-write counts as Write)
};
std::string_view data_access_name(DataAccess a);  // "addr", "read", "write"

struct DataRef {
  uint64_t insn_address = 0;
  uint64_t target = 0;  // the absolute address referred to
  DataAccess access = DataAccess::Read;
  unsigned size = 0;  // bytes accessed (0 for Address)
  std::string text;   // the instruction, for diagnostics
};

// Every absolute data reference in code = bytes of [entry, entry+size), in
// address order. Bytes that do not decode are skipped (as Go's objdump does).
std::vector<DataRef> data_references(Arch arch, std::span<const uint8_t> code, uint64_t entry);

// The constant address a direct call passes in integer argument register
// `arg` (0-based, register ABI: RAX, RBX, RCX, … on x86-64; X0, X1, … on
// arm64), for the call whose return address is `ret`, in the function
// code = bytes of [entry, entry+size): the address an `LEA rip+d` (x86-64)
// or ADRP+ADD (arm64) put in that register, when no later instruction
// before the call writes the register and no branch lands in between.
// nullopt when ret does not follow a direct call or the argument is not
// such a constant. (Compiled `new(T)` passes its type this way.)
std::optional<uint64_t> constant_address_argument(Arch arch, std::span<const uint8_t> code, uint64_t entry,
                                                  uint64_t ret, unsigned arg);

}  // namespace gotrace
