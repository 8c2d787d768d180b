// symbolize_bench: how fast Pclntab loads and answers, on real Go binaries.
//
//   symbolize_bench [--pcs N] BINARY...
//
// For each binary: the time to map it, to load the table (best of 5), to
// build the name index, and the rate of function_at, line_of and symbolize
// (with inline expansion) over N deterministic random PCs, spread over the
// whole text (cold) or drawn from 4096 distinct PCs (hot). Times are thread CPU time. Suggested inputs: $(go
// env GOROOT)/bin/go and
// $(go env GOROOT)/pkg/tool/linux_amd64/compile.
#include <fmt/format.h>

#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "gotrace/gobin/pclntab.h"

using namespace gotrace;

// CPU time of this thread: the numbers hold up on a busy machine.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  }
};

namespace {

double seconds_since(Clock::time_point t0) { return Clock::now() - t0; }

template <typename F>
double best_of(int runs, F&& f) {
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

int bench(const std::string& path, size_t npcs) {
  auto t0 = Clock::now();
  auto image = ElfImage::open(path);
  double open_s = seconds_since(t0);
  if (!image) {
    fmt::print(stderr, "{}: {}\n", path, image.error().message);
    return 1;
  }
  std::unique_ptr<Pclntab> table;
  double load_s = best_of(5, [&] {
    auto t = Pclntab::load(**image);
    if (!t) {
      fmt::print(stderr, "{}: {}\n", path, t.error().message);
      std::exit(1);
    }
    table = std::move(*t);
  });
  const Pclntab& t = *table;
  t0 = Clock::now();
  auto main_fn = t.function_by_name("main.main");
  double index_s = seconds_since(t0);

  fmt::print("{}\n  {} functions, {} table ({}), {} bytes of file\n", path, t.function_count(),
             format_name(t.format()), t.source(), (*image)->file_bytes().size());
  fmt::print("  open {:.2f} ms, load {:.3f} ms (best of 5), name index {:.2f} ms (main.main {})\n",
             open_s * 1e3, load_s * 1e3, index_s * 1e3, main_fn ? "found" : "missing");

  const uint64_t lo = t.function_by_index(0).entry;
  const uint64_t hi = t.function_by_index(t.function_count() - 1).end;
  std::mt19937_64 rng(12345);
  std::vector<uint64_t> pcs(npcs);
  for (auto& pc : pcs) pc = lo + rng() % (hi - lo);

  // Cold: PCs spread uniformly over the whole text (every query misses the
  // caches). Hot: the same number of queries over 4096 distinct PCs, as the
  // stacks of a traced program repeat.
  std::vector<uint64_t> hot(npcs);
  for (auto& pc : hot) pc = pcs[rng() % std::min<size_t>(4096, pcs.size())];
  for (const auto* set : {&pcs, &hot}) {
    size_t sink = 0;
    double at_s = best_of(3, [&] {
      for (uint64_t pc : *set) sink += t.function_at(pc).has_value();
    });
    double line_s = best_of(3, [&] {
      for (uint64_t pc : *set)
        if (auto f = t.line_of(pc)) sink += f->line;
    });
    std::vector<GoFrame> frames;
    size_t nframes = 0, inlined_pcs = 0;
    double sym_s = best_of(3, [&] {
      nframes = inlined_pcs = 0;
      for (uint64_t pc : *set) {
        t.symbolize(pc, frames);
        nframes += frames.size();
        inlined_pcs += frames.size() > 1;
      }
    });
    fmt::print(
        "  {}: function_at {:.1f} M PCs/s, line_of {:.1f} M PCs/s, symbolize {:.2f} M PCs/s "
        "({:.0f} ns/PC; {:.2f} frames/PC, {:.0f}% inlined; checksum {})\n",
        set == &pcs ? "cold" : "hot ", npcs / at_s / 1e6, npcs / line_s / 1e6, npcs / sym_s / 1e6,
        sym_s / npcs * 1e9, double(nframes) / npcs, 100.0 * inlined_pcs / npcs, sink % 1000);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  size_t npcs = 2'000'000;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--pcs" && i + 1 < argc)
      npcs = std::stoull(argv[++i]);
    else
      paths.push_back(a);
  }
  if (paths.empty()) {
    fmt::print(stderr, "usage: symbolize_bench [--pcs N] GO_BINARY...\n");
    return 2;
  }
  int rc = 0;
  for (const auto& p : paths) rc |= bench(p, npcs);
  return rc;
}
