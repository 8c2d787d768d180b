// The probe keeper: a small child process that attaches every uprobe of a
// trace on gotrace's behalf, holds it, and takes it off again.
//
// Why a process of its own: taking a uprobe off writes the original
// instruction back into the target's page through get_user_pages(), which
// gives up with EINTR when the task doing it has a fatal signal pending. The
// kernel then logs "failed to unregister, leaking uprobe" and the int3 stays
// in the target's code for the rest of its life: every hit still traps. A
// `kill -9` after a slow Ctrl-C, or `timeout -k`, lands exactly there, and a
// process killed that way also closes its own fds (so its links) as the
// dying task. Hence gotrace never holds a link itself: the keeper attaches
// (its own task, so a SIGKILL of gotrace cannot interrupt an attach half
// way either), and detaches when asked or, once gotrace is gone (its socket
// reads EOF), everything it still holds, in a task with no signal pending.
// It runs in its own session, ignores the terminal's signals, and is named
// gt-keeper (so `pkill gotrace` does not take it along).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>

#include "gotrace/util/result.h"

namespace gotrace {

class ProbeKeeper {
 public:
  // This process's keeper, started on first use. Fails when no process can
  // be forked. Call it early, while gotrace has one thread (a fork copies
  // only the calling thread, and whatever locks the others held).
  static Result<ProbeKeeper*> get();

  // One multi-uprobe link of prog_fd at these file offsets of the file open
  // as exe_fd (attached through that fd, so the file it names, whatever
  // pid runs by then), for process pid: the link's id, or the kernel's
  // error.
  struct Attached {
    uint32_t id = 0;
    int err = 0;  // 0, or the kernel's -errno
  };
  Attached attach_multi(int prog_fd, int exe_fd, pid_t pid, std::span<const uint64_t> offsets,
                        std::span<const uint64_t> cookies);
  // One perf-event uprobe (for kernels without multi-uprobe links).
  Attached attach_one(int prog_fd, int exe_fd, pid_t pid, uint64_t offset, uint64_t cookie);
  // Takes these links off, side by side, and returns when the kernel has
  // (each uprobe waits for every CPU to leave it). Returns how many the
  // keeper held.
  size_t release(std::span<const uint32_t> ids);

  pid_t pid() const { return pid_; }

 private:
  ProbeKeeper(pid_t pid, int sock) : pid_(pid), sock_(sock) {}
  Attached attach(uint32_t op, int prog_fd, int exe_fd, pid_t pid, std::span<const uint64_t> offsets,
                  std::span<const uint64_t> cookies);
  pid_t pid_;
  int sock_;
};

}  // namespace gotrace
