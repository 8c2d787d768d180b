// Log2 latency histograms as the BPF programs keep them (bucket b counts
// values in [2^b, 2^(b+1)) ns; bucket 0 also holds 0 and 1), with percentile
// estimates that interpolate inside a bucket and stay within the observed
// minimum and maximum.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace gotrace {

inline constexpr size_t kHistBuckets = 40;

// The bucket of v, as the BPF programs pick it (log2_bucket).
inline size_t log2_bucket(uint64_t v) {
  size_t b = 0;
  while (v > 1) {
    v >>= 1;
    ++b;
  }
  return b < kHistBuckets ? b : kHistBuckets - 1;
}

struct Log2Histogram {
  std::array<uint64_t, kHistBuckets> buckets{};
  void add(std::span<const uint64_t> other);
  uint64_t total() const;
  // q in [0,1]. The estimate is clamped to [min_ns, max_ns], the exact
  // extremes the kernel kept (0: unknown); without them, a few values high in
  // a wide bucket would get a percentile below all of them.
  uint64_t percentile(double q, uint64_t min_ns, uint64_t max_ns) const;
};

}  // namespace gotrace
