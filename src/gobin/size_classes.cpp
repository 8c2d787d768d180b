#include "gotrace/gobin/size_classes.h"

namespace gotrace {

uint64_t SizeClasses::slot_size(uint32_t span_class) const {
  uint32_t c = span_class >> 1;
  return c < kNumSizeClasses ? size[c] : 0;
}

uint64_t SizeClasses::span_objects(uint32_t span_class) const {
  uint32_t c = span_class >> 1;
  if (c == 0 || c >= kNumSizeClasses || !size[c]) return 0;
  return npages[c] * kGoPageSize / size[c];
}

const SizeClasses& builtin_size_classes() {
  static const SizeClasses t = {
      {0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,  160,   176,
       192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,   480,  512,   576,
       640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304, 2688,  3072,
       3200,  3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,  8192,  9472,  9728, 10240, 10880,
       12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768},
      {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1, 1, 1,
       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2,  3, 1, 3,
       2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4}};
  return t;
}

Result<SizeClasses> size_classes_from_binary(const ElfImage& image) {
  const ElfSymbol* sz = image.symbol("runtime.class_to_size");
  const ElfSymbol* np = image.symbol("runtime.class_to_allocnpages");
  if (!sz || !np) {
    sz = image.symbol("internal/runtime/gc.SizeClassToSize");
    np = image.symbol("internal/runtime/gc.SizeClassToNPages");
  }
  if (!sz || !np) return make_error("{}: no size-class tables in the symbol table", image.path());
  auto sb = image.bytes_at_vaddr(sz->value, kNumSizeClasses * 2);
  auto nb = image.bytes_at_vaddr(np->value, kNumSizeClasses);
  if (!sb || !nb) return make_error("{}: size-class tables outside the file's data", image.path());
  SizeClasses out;
  for (size_t i = 0; i < kNumSizeClasses; ++i) {
    out.size[i] = static_cast<uint16_t>((*sb)[2 * i] | (*sb)[2 * i + 1] << 8);
    out.npages[i] = (*nb)[i];
  }
  return out;
}

}  // namespace gotrace
