// Plain configuration of `gotrace info`, parsed from the command line.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace gotrace {

struct InfoConfig {
  std::optional<pid_t> pid;
  std::string binary;  // --binary PATH (static analysis only)
  bool json = false;
};

}  // namespace gotrace
