// The traced process: its executable (read through /proc/PID/exe, so deleted
// files and other mount namespaces work), where it is mapped (the load bias
// of a PIE), and whether it is still alive.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gotrace/util/result.h"
#include "gotrace/util/text.h"

namespace gotrace {

class ElfImage;

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t offset = 0;
  std::string perms;  // "r-xp"
  std::string path;
};

class Process {
 public:
  // Fails with a one-line reason: no such process, not permitted, kernel thread.
  static Result<Process> open(pid_t pid);

  pid_t pid() const { return pid_; }
  // The name it set (prctl, any process can): as set, for JSON and reports
  // whose writers escape it; comm() escaped (util/text.h), for messages.
  const std::string& comm_exact() const { return comm_; }
  std::string comm() const { return printable(comm_); }
  // Path usable to read and to attach uprobes: /proc/PID/exe.
  std::string exe_link() const;
  // What /proc/PID/exe points at ("(deleted)" suffix kept).
  const std::string& exe_target() const { return exe_target_; }
  bool alive() const;
  // CPU time the process has used so far, user + system, all threads: from
  // its CPU-time clock (ns), else /proc/PID/stat in clock ticks; 0 when gone.
  uint64_t cpu_time_ns() const;

  Result<std::vector<Mapping>> mappings() const;
  // Runtime address = link-time address + bias. 0 for non-PIE executables.
  Result<uint64_t> load_bias(const ElfImage& image) const;

 private:
  pid_t pid_ = 0;
  std::string comm_;
  std::string exe_target_;
  uint64_t start_time_ = 0;  // /proc/PID/stat field 22: detects PID reuse
};

bool process_alive(pid_t pid);

}  // namespace gotrace
