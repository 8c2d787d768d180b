#include "gotrace/util/duration.h"

#include <cmath>
#include <cstdlib>

namespace gotrace {

namespace {

// The length of the decimal number at the start of text (digits with at
// most one point, at least one digit), 0 if there is none.
size_t decimal_prefix(std::string_view text, bool whole_only) {
  size_t i = 0, digits = 0;
  bool point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9')
      ++digits;
    else if (c == '.' && !point && !whole_only)
      point = true;
    else
      break;
  }
  return digits ? i : 0;
}

}  // namespace

std::optional<double> parse_decimal(std::string_view text, bool whole_only) {
  if (text.empty() || decimal_prefix(text, whole_only) != text.size()) return std::nullopt;
  double v = std::strtod(std::string(text).c_str(), nullptr);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  // The number, then the unit: no sign, blank, exponent, hex ("0x10s" was
  // 16 s through strtod), inf or nan.
  const size_t n = decimal_prefix(text, false);
  if (n == 0) return std::nullopt;
  auto number = parse_decimal(std::string_view(text).substr(0, n));
  if (!number || *number < 0) return std::nullopt;
  const double v = *number;
  const std::string unit = text.substr(n);
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
