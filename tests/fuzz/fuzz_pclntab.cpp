// The pclntab: locating it, its header and moduledata, and every lookup a
// trace makes (function, file:line with inlining, SP delta, by name).
#include "fuzz_input.h"
#include "gotrace/gobin/pclntab.h"

using namespace gotrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto img = fuzz::image_of(data, size);
  if (!img) return 0;
  auto tab = Pclntab::load(*img);
  if (!tab) return 0;
  const Pclntab& t = **tab;
  std::vector<GoFrame> frames;
  size_t n = t.function_count();
  size_t sum = 0;
  // A bounded sample of functions, and PCs inside and around each.
  for (size_t i = 0; i < n && i < 64; ++i) {
    GoFunc f = t.function_by_index(i * (n / 64 + 1) % n);
    for (uint64_t pc : {f.entry, f.entry + 1, f.end > f.entry ? f.end - 1 : f.entry, f.end}) {
      t.symbolize(pc, frames);
      for (const auto& fr : frames) sum += fr.function.size() + fr.file.size();
      if (auto l = t.line_of(pc)) sum += static_cast<size_t>(l->line);
      sum += static_cast<size_t>(t.sp_delta(pc).value_or(0) & 0xff);
      if (auto g = t.function_at(pc)) sum += g->name.size();
    }
  }
  if (auto f = t.function_by_name("runtime.gopark")) sum += f->entry;
  fuzz::keep(sum);
  return 0;
}
