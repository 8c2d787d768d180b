// ELF headers, sections, segments and symbols of arbitrary bytes.
#include "fuzz_input.h"

using namespace gotrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto img = fuzz::image_of(data, size);
  if (!img) return 0;
  size_t sum = img->arch_label().size();
  for (const ElfSection& s : img->sections()) {
    auto b = img->section_bytes(s);
    if (!b.empty()) sum += b[0] + b[b.size() - 1];
    if (auto v = img->bytes_at_vaddr(s.addr, 16)) sum += v->size();
  }
  for (const ElfSegment& s : img->segments())
    if (auto v = img->bytes_at_vaddr(s.vaddr + s.memsz / 2, 8)) sum += v->size();
  if (const ElfSymbol* sym = img->symbol("runtime.main")) sum += sym->size;
  fuzz::keep(sum);
  return 0;
}
