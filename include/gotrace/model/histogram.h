// Log2 latency histograms as the BPF programs keep them (bucket b counts
// values in [2^b, 2^(b+1)) ns; bucket 0 also holds 0 and 1), with percentile
// estimates that interpolate inside a bucket and never exceed the true max.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace gotrace {

inline constexpr size_t kHistBuckets = 40;

struct Log2Histogram {
  std::array<uint64_t, kHistBuckets> buckets{};
  void add(std::span<const uint64_t> other);
  uint64_t total() const;
  // q in [0,1]; max_ns caps the estimate (the true maximum is known exactly).
  uint64_t percentile(double q, uint64_t max_ns) const;
};

}  // namespace gotrace
