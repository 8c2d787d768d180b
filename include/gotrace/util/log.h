// Diagnostics on stderr for -v (debug) and -vv (trace), through spdlog.
// spdlog is used header-only, and its header costs a compiler half a minute
// per file under the sanitizers: only src/util/log.cpp includes it, and the
// rest of gotrace logs through these calls (formatted with fmt first).
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace gotrace {

// 0: warnings only; 1: -v, debug; 2: -vv, trace (libbpf's messages).
void setup_logging(int verbosity);
bool log_debug_on();
bool log_trace_on();
void log_debug_line(std::string_view message);
void log_trace_line(std::string_view message);

template <typename... Args>
void log_debug(fmt::format_string<Args...> format, Args&&... args) {
  if (log_debug_on()) log_debug_line(fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void log_trace(fmt::format_string<Args...> format, Args&&... args) {
  if (log_trace_on()) log_trace_line(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace gotrace
