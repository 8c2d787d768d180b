// Go 1.27's size-specialized mallocs (see size_specialized.h).
#include "gotrace/gobin/size_specialized.h"

#include "gotrace/disasm/data_refs.h"

namespace gotrace {

bool is_size_specialized_malloc(std::string_view name) {
  constexpr std::string_view prefix = "runtime.mallocgc";
  if (!name.starts_with(prefix)) return false;
  name.remove_prefix(prefix.size());
  if (name.ends_with("SlowPath")) return name.size() > 8;
  // <Kind>SC<digits>
  size_t digits = 0;
  while (digits < name.size() && name[name.size() - 1 - digits] >= '0' &&
         name[name.size() - 1 - digits] <= '9')
    ++digits;
  if (digits == 0 || name.size() < digits + 3) return false;
  return name.substr(name.size() - digits - 2, 2) == "SC";
}

Result<std::optional<SizeSpecializedRange>> find_size_specialized_mallocs(const Pclntab& pclntab) {
  std::optional<size_t> first, last;
  size_t count = 0;
  for (size_t i = 0; i < pclntab.function_count(); ++i) {
    if (!is_size_specialized_malloc(pclntab.function_by_index(i).name)) continue;
    if (!first) first = i;
    last = i;
    ++count;
  }
  if (!first) return std::optional<SizeSpecializedRange>{};
  if (*last - *first + 1 != count) {
    GoFunc other{};
    for (size_t i = *first; i <= *last; ++i)
      if (!is_size_specialized_malloc(pclntab.function_by_index(i).name)) {
        other = pclntab.function_by_index(i);
        break;
      }
    return make_error("the size-specialized mallocs are not laid out together ({} lies among them)",
                      other.name);
  }
  SizeSpecializedRange r;
  r.lo = pclntab.function_by_index(*first).entry;
  r.hi = pclntab.function_by_index(*last).end;
  r.functions = count;
  return std::optional<SizeSpecializedRange>{r};
}

std::vector<uint64_t> fold_size_specialized_frames(const std::vector<uint64_t>& pcs,
                                                   const SizeSpecializedRange& range, const Pclntab& pclntab,
                                                   uint64_t bias) {
  // (pcs[0] is the probed instruction, the rest return addresses.)
  size_t first = 1;
  while (first < pcs.size() && !range.contains(pcs[first] - bias)) ++first;
  if (first >= pcs.size()) return pcs;
  size_t last = first;
  while (last + 1 < pcs.size() && range.contains(pcs[last + 1] - bias)) ++last;
  auto fn = pclntab.function_at(pcs[last] - bias - 1);
  if (!fn) return pcs;
  std::vector<uint64_t> out(pcs.begin(), pcs.begin() + static_cast<std::ptrdiff_t>(first));
  out.push_back(fn->entry + bias + 1);
  out.insert(out.end(), pcs.begin() + static_cast<std::ptrdiff_t>(last) + 1, pcs.end());
  return out;
}

std::optional<unsigned> mallocgc_type_argument(std::string_view function) {
  if (function == "runtime.newobject" || function == "runtime.makeslice") return 0u;
  return std::nullopt;
}

std::optional<uint64_t> call_site_type(const ElfImage& image, const Pclntab& pclntab, uint64_t ret,
                                       unsigned arg) {
  auto fn = pclntab.function_at(ret - 1);
  if (!fn || fn->end <= fn->entry) return std::nullopt;
  auto code = image.bytes_at_vaddr(fn->entry, fn->end - fn->entry);
  if (!code) return std::nullopt;
  return constant_address_argument(image.arch(), *code, fn->entry, ret, arg);
}

}  // namespace gotrace
