// The traced process: its executable (read through /proc/PID/exe, so deleted
// files and other mount namespaces work), where it is mapped (the load bias
// of a PIE), and whether it is still alive and still the same program.
//
// The executable is pinned: opened once, when the process is opened, and
// kept open. Everything gotrace reads of the binary and every uprobe it
// attaches go through that open file (exe_link()), never through
// /proc/PID/exe again: a target that exec'd another program (or a PID that
// was reused) meanwhile gets no breakpoint at the old program's offsets in
// the new one. identity() tells whether the process is still the one
// opened; the runner asks before every attach and while it traces.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
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

// What became of the process opened: still it, gone, or another program.
enum class Identity {
  Same,
  Exited,  // gone (or a zombie)
  Execed,  // the same process runs another program (or the same one anew)
  Reused,  // the PID now belongs to another process
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
  // Path of the pinned executable, to read it and to attach uprobes to it:
  // /proc/self/fd/N of the file opened with the process (the same file for
  // as long as this object lives, whatever the process execs meanwhile).
  std::string exe_link() const;
  // The pinned executable's fd (-1 when it could not be opened).
  int exe_fd() const;
  // What /proc/PID/exe points at ("(deleted)" suffix kept).
  const std::string& exe_target() const { return exe_target_; }
  bool alive() const;
  // Whether the process is still the one opened (start time, executable
  // file, where its code begins); costs two small /proc reads.
  Identity identity() const;
  // One line for a changed identity: "PID 42 (srv) exec'd a new program
  // (/usr/bin/other)"; empty for Identity::Same.
  std::string identity_text(Identity id) const;
  // Ok while identity() is Same; otherwise the one-line reason.
  Result<void> check_same() const;
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
  uint64_t start_code_ = 0;  // field 26: where the code starts (moves on an exec of a PIE)
  uint64_t exe_dev_ = 0, exe_ino_ = 0;
  std::shared_ptr<const int> exe_fd_;  // the pinned executable, closed with the last copy
};

bool process_alive(pid_t pid);

}  // namespace gotrace
