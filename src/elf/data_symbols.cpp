#include "gotrace/elf/data_symbols.h"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>

namespace gotrace {

DataSymbols::DataSymbols(const ElfImage& elf, uint64_t bias) : bias_(bias) {
  for (const auto& s : elf.symbols())
    if (s.type == STT_OBJECT && s.size && !s.name.empty()) syms_.push_back(&s);
  std::sort(syms_.begin(), syms_.end(),
            [](const ElfSymbol* a, const ElfSymbol* b) { return a->value < b->value; });
}

std::string DataSymbols::name(uint64_t runtime_addr) const {
  uint64_t a = runtime_addr - bias_;
  auto it = std::upper_bound(syms_.begin(), syms_.end(), a,
                             [](uint64_t v, const ElfSymbol* s) { return v < s->value; });
  if (it == syms_.begin()) return "";
  const ElfSymbol* s = *std::prev(it);
  if (a >= s->value + s->size) return "";
  return a == s->value ? s->name : fmt::format("{}+{:#x}", s->name, a - s->value);
}

}  // namespace gotrace
