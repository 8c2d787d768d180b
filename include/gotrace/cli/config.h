// Plain configuration parsed from the command line. Nothing happens in cli/
// beyond filling this in and dispatching.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>

namespace gotrace {

struct TargetConfig {
  std::optional<pid_t> pid;
  std::string binary;  // --binary PATH (static analysis only)
};

struct InfoConfig {
  TargetConfig target;
  bool json = false;
};

}  // namespace gotrace
