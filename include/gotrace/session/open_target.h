// The target, opened once for every way of tracing: the process (pinned:
// its executable held open, its start time kept, process.h), its Go binary
// analysed from that executable, and its load bias. Every command opens it
// here, so the one-line errors read the same whichever command fails.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "gotrace/gobin/go_binary.h"
#include "gotrace/target/process.h"
#include "gotrace/util/result.h"

namespace gotrace {

struct OpenTarget {
  Process process;
  std::unique_ptr<GoBinary> binary;
  uint64_t load_bias = 0;
  bool has_load_bias = false;  // false only when opened with NeedBias::No and it could not be found
};

enum class NeedBias { Yes, No };

// The error is one line, to print after "gotrace: ": the process's own
// ("no process with PID N", "permission denied …"), or "PID N (comm):
// what failed", or, when the target exited meanwhile, "PID N (comm) exited
// while gotrace was starting (what failed)".
Result<OpenTarget> open_target(pid_t pid, NeedBias need = NeedBias::Yes);

// "PID N (comm) exited while gotrace was starting (detail)".
std::string exited_while_starting(const Process& p, std::string_view detail);
// A startup step's failure as the one line to print: "PID N (comm):
// message", or, when the target has exited meanwhile, the line above.
std::string target_failure(const Process& p, std::string_view message);

}  // namespace gotrace
