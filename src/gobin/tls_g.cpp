// The TLS slot of g (tls_g.h).
#include "gotrace/gobin/tls_g.h"

#include <elf.h>

namespace gotrace {

std::optional<TlsGOffset> tls_g_offset(const ElfImage& image, std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<TlsGOffset> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (image.arch() != Arch::X86_64) return fail("only amd64 keeps g at a fixed FS offset here");
  const ElfSegment* tls = nullptr;
  for (const auto& s : image.segments())
    if (s.type == PT_TLS) tls = &s;
  if (!tls) return TlsGOffset{-8, "no PT_TLS: Go's own TLS at FS-8"};
  const uint64_t align = tls->align ? tls->align : 1;
  const auto block = static_cast<int64_t>((tls->memsz + align - 1) / align * align);
  if (const ElfSymbol* tlsg = image.symbol("runtime.tlsg"); tlsg && tlsg->type == STT_TLS)
    return TlsGOffset{static_cast<int64_t>(tlsg->value) - block, "runtime.tlsg in PT_TLS"};
  if (tls->memsz <= 8) return TlsGOffset{-8, "PT_TLS holds Go's slot only: FS-8"};
  return fail("PT_TLS holds more than Go's slot and runtime.tlsg is not in the symbol table (stripped)");
}

}  // namespace gotrace
