// The one file that includes spdlog (see log.h).
#include "gotrace/util/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace gotrace {

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_color_st("gotrace");
  logger->set_pattern("gotrace: %^%l%$: %v");
  logger->set_level(verbosity >= 2   ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

bool log_debug_on() { return spdlog::should_log(spdlog::level::debug); }
bool log_trace_on() { return spdlog::should_log(spdlog::level::trace); }
void log_debug_line(std::string_view message) { spdlog::debug("{}", message); }
void log_trace_line(std::string_view message) { spdlog::trace("{}", message); }

}  // namespace gotrace
