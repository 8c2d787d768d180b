// Entry points of the commands; each returns the process exit code.
#pragma once

#include "gotrace/cli/config.h"

namespace gotrace {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the target or host cannot be traced, or tracing failed
inline constexpr int kExitUsage = 2;

int run_info(const InfoConfig& config);
int run_block(const BlockConfig& config);
int run_lock(const LockConfig& config);

}  // namespace gotrace
