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

uint64_t Log2Histogram::percentile(double q, uint64_t min_ns, uint64_t max_ns) const {
  uint64_t n = total();
  if (n == 0) return 0;
  if (max_ns && min_ns > max_ns) min_ns = 0;  // racy extremes that disagree: keep only the max
  auto inside = [&](uint64_t v) { return std::max(max_ns ? std::min(v, max_ns) : v, min_ns); };
  double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(n);
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    if (!buckets[b]) continue;
    if (static_cast<double>(seen + buckets[b]) >= rank) {
      double lo = b == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(b));
      double hi = std::ldexp(1.0, static_cast<int>(b) + 1);
      // The exact extremes bound the first and the last bucket: interpolate between them.
      if (static_cast<double>(min_ns) > lo && static_cast<double>(min_ns) < hi)
        lo = static_cast<double>(min_ns);
      if (max_ns && static_cast<double>(max_ns) < hi && static_cast<double>(max_ns) >= lo)
        hi = static_cast<double>(max_ns);
      double frac = (rank - static_cast<double>(seen)) / static_cast<double>(buckets[b]);
      return inside(static_cast<uint64_t>(lo + (hi - lo) * std::clamp(frac, 0.0, 1.0)));
    }
    seen += buckets[b];
  }
  return inside(max_ns);
}

}  // namespace gotrace
