#include "gotrace/util/duration.h"

#include <cmath>
#include <cstdlib>

namespace gotrace {

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  std::string unit(end);
  double scale;
  if (unit.empty() || unit == "s")
    scale = 1e9;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "us" || unit == "µs")
    scale = 1e3;
  else if (unit == "ns")
    scale = 1;
  else if (unit == "m")
    scale = 60e9;
  else if (unit == "h")
    scale = 3600e9;
  else
    return std::nullopt;
  double ns = v * scale;
  constexpr double kMax = 1000.0 * 86400e9;  // far beyond any trace; keeps the cast defined
  if (!std::isfinite(ns) || ns > kMax) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<long long>(ns));
}

}  // namespace gotrace
