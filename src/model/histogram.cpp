#include "gotrace/model/histogram.h"

#include <algorithm>
#include <cmath>

namespace gotrace {

void Log2Histogram::add(std::span<const uint64_t> other) {
  for (size_t i = 0; i < std::min(other.size(), buckets.size()); ++i) buckets[i] += other[i];
}

uint64_t Log2Histogram::total() const {
  uint64_t t = 0;
  for (auto b : buckets) t += b;
  return t;
}

uint64_t Log2Histogram::percentile(double q, uint64_t max_ns) const {
  uint64_t n = total();
  if (n == 0) return 0;
  double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(n);
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    if (!buckets[b]) continue;
    if (static_cast<double>(seen + buckets[b]) >= rank) {
      double lo = b == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(b));
      double hi = std::ldexp(1.0, static_cast<int>(b) + 1);
      // The exact maximum bounds the last bucket: interpolate below it.
      if (max_ns && static_cast<double>(max_ns) < hi && static_cast<double>(max_ns) >= lo) hi = static_cast<double>(max_ns);
      double frac = (rank - static_cast<double>(seen)) / static_cast<double>(buckets[b]);
      auto est = static_cast<uint64_t>(lo + (hi - lo) * std::clamp(frac, 0.0, 1.0));
      return max_ns ? std::min(est, max_ns) : est;
    }
    seen += buckets[b];
  }
  return max_ns;
}

}  // namespace gotrace
