// Durations as users type them on the command line.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace gotrace {

// Parses "10s", "500ms", "100us", "2m", "1h", "1.5s", or a plain number of
// seconds. Rejects negative, non-finite and absurd values (over 1000 days),
// and anything that is not entirely a number with one unit.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);

}  // namespace gotrace
