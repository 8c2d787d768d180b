// Everything `info` and the tracing commands read from a binary: build
// information, pclntab, offsets, wait reasons, and the disassembly of each
// probe role's function to plan its site.
#include "fuzz_input.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/probes/probe_plan.h"

using namespace gotrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto img = fuzz::image_of(data, size);
  if (!img) return 0;
  auto bin = GoBinary::from_image(std::move(img));
  if (!bin) return 0;
  size_t sum = 0;
  for (const PlannedSite& s : plan_all_sites(**bin)) sum += s.symbol.size();
  if (auto& w = (*bin)->wait_reasons(); w) sum += w->names.size();
  fuzz::keep(sum);
  return 0;
}
