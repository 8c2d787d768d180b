// Runtime-test support: start a fixture program, wait for its "ready" line,
// collect its output and exit status; require a host that can run BPF.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gotrace::test {

class RunningProgram {
 public:
  RunningProgram(const std::string& path, const std::vector<std::string>& args);
  ~RunningProgram();  // kills the program if it still runs
  RunningProgram(const RunningProgram&) = delete;
  RunningProgram& operator=(const RunningProgram&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stdout until a line starting with prefix appears (false on timeout/exit).
  bool wait_for_line(const std::string& prefix, int timeout_ms);
  // Waits for exit; returns the exit status (or -1 if killed by a signal / timeout).
  int wait_exit(int timeout_ms);
  const std::string& output() const { return out_; }

 private:
  void drain(int timeout_ms);
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;
  bool exited_ = false;
  int status_ = -1;
};

// FAILs (never skips) when not root: the BPF tests must run in CI.
void require_bpf_host();

// BPF programs of gotrace's still loaded (names of gotrace's programs seen
// by `bpftool prog show`): what a finished gotrace must not leave behind.
std::vector<std::string> loaded_gotrace_programs();
// The gotrace BPF programs a running process holds (a positive control for
// the check above).
std::vector<std::string> gotrace_programs_held_by(pid_t pid);

// Addresses of the target's code (its r-x mappings of its executable, read
// through /proc/PID/mem) whose bytes differ from the file's: breakpoints a
// tracer placed or left behind. Empty when the code equals the file.
std::vector<uint64_t> code_differences(pid_t pid);
// The same, waiting up to timeout_ms for them to go (a detach under way).
std::vector<uint64_t> code_differences_after(pid_t pid, int timeout_ms);

}  // namespace gotrace::test
