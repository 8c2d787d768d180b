// Runtime struct offsets from DWARF (compressed or not), and the choice
// between DWARF and the per-version table.
#include "fuzz_input.h"
#include "gotrace/gobin/runtime_offsets.h"

using namespace gotrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto img = fuzz::image_of(data, size);
  if (!img) return 0;
  auto d = offsets_from_dwarf(*img);
  fuzz::keep(d.ok() ? sizeof(*d) : d.error().message.size());
  auto r = resolve_offsets(*img, GoVersion::parse("go1.22.0"));
  fuzz::keep(r.ok());
  return 0;
}
