// The runtime's global variables gotrace reads from a live process (the
// goroutine list, the allocator's and the GC's state, the type data), by
// link-time address. From the symbol table when there is one; in stripped
// binaries from the runtime code that references them (RIP-relative operands
// of a known function, found through .gopclntab). Tests check that both ways
// agree on every build that has symbols.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gotrace/util/result.h"

namespace gotrace {

class GoBinary;

enum class RtGlobal : uint8_t {
  Allglen,                 // runtime.allglen (uintptr)
  Allgptr,                 // runtime.allgptr (**g)
  Allgs,                   // runtime.allgs ([]*g)
  MemProfileRate,          // runtime.MemProfileRate (int)
  DisableMemoryProfiling,  // runtime.disableMemoryProfiling (bool)
  Memstats,                // runtime.memstats
  GcController,            // runtime.gcController
  Work,                    // runtime.work
  Firstmoduledata,         // runtime.firstmoduledata
  WaitReasonStrings,       // runtime.waitReasonStrings
  Count
};
inline constexpr size_t kRtGlobalCount = static_cast<size_t>(RtGlobal::Count);
std::string_view global_symbol(RtGlobal g);  // "runtime.allglen"

struct GlobalAddress {
  uint64_t vaddr = 0;  // link-time; add the load bias for a PIE process
  std::string source;  // "symtab", "code: runtime.xxx" or "pclntab: moduledata" for stripped binaries
};

// Where the global lives in this binary, or why it cannot be found.
Result<GlobalAddress> find_global(const GoBinary& binary, RtGlobal g);
// The stripped-binary way alone, even when there are symbols (tests compare
// it with the symbol table).
Result<GlobalAddress> find_global_in_code(const GoBinary& binary, RtGlobal g);

}  // namespace gotrace
