// .go.buildinfo: version, module information and build settings.
#include "fuzz_input.h"
#include "gotrace/gobin/buildinfo.h"

using namespace gotrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto img = fuzz::image_of(data, size);
  if (!img) return 0;
  auto bi = read_buildinfo(*img);
  if (bi)
    fuzz::keep(bi->settings.size() + bi->version_string.size() + bi->main_path.size());
  else
    fuzz::keep(bi.error().message.size());
  return 0;
}
