// Where a thread's current goroutine lives, relative to its FS base
// (linux/amd64): Go code reaches g through the TLS slot the linker fixes.
//   - No PT_TLS segment (a static, internally linked Go binary): Go sets FS
//     itself (settls: arch_prctl to &m.tls[0]+8), so g is at FS-8.
//   - A PT_TLS segment (cgo, PIE, external linking: glibc's TCB): g is the
//     runtime.tlsg variable, at tlsg's value minus the segment's size rounded
//     up to its alignment (x86-64's variant II TLS layout). With only Go's
//     own 8-byte slot that is FS-8 too; C __thread variables move it (FS-0x50
//     was seen with an externally linked program that has some).
//   - Without runtime.tlsg in the symbol table (stripped) and more TLS than
//     Go's slot: unknown; callers read g from R14 instead and check it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gotrace/elf/elf_image.h"

namespace gotrace {

struct TlsGOffset {
  int64_t offset = -8;  // g = *(u64*)(fsbase + offset)
  std::string how;      // "no PT_TLS: Go's own TLS", "runtime.tlsg in PT_TLS", …
};

// amd64 only (nullopt elsewhere and when unknown, with the reason in why).
std::optional<TlsGOffset> tls_g_offset(const ElfImage& image, std::string* why = nullptr);

}  // namespace gotrace
