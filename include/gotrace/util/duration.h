// Durations as users type them on the command line.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gotrace {

// Parses "10s", "500ms", "100us", "2m", "1h", "1.5s", ".5s", or a plain
// number of seconds: decimal digits with at most one point, then one unit.
// Rejects anything else (signs, blanks, exponents, hex, inf, nan, "") and
// absurd values (over 1000 days).
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);

// The whole of text as a plain decimal number: digits with at most one point
// (whole_only: no point), at least one digit. Nothing else: no sign, blank,
// exponent, hex, inf or nan (what strtod and CLI11 would also take).
std::optional<double> parse_decimal(std::string_view text, bool whole_only = false);

}  // namespace gotrace
