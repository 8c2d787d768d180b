#include "gotrace/util/child_call.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <vector>

namespace gotrace {

bool call_in_child_raw(const std::function<void(void* out)>& fn, void* out, size_t size) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  // No stop signal may reach the child's copy of gotrace's handler (a
  // terminal's Ctrl-C goes to the whole process group): blocked across the
  // fork, ignored in the child before it unblocks them.
  sigset_t stop, old;
  sigemptyset(&stop);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, sig);
  sigprocmask(SIG_BLOCK, &stop, &old);
  const pid_t pid = fork();
  if (pid == 0) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, SIG_IGN);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    close(fds[0]);
    std::vector<char> buf(size);
    fn(buf.data());
    size_t done = 0;
    while (done < size) {
      ssize_t n = write(fds[1], buf.data() + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // nobody reads any more (gotrace was interrupted)
      done += static_cast<size_t>(n);
    }
    _exit(done == size ? 0 : 1);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);  // what came meanwhile is taken here
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return false;
  }
  size_t got = 0;
  auto* p = static_cast<char*>(out);
  while (got < size) {
    ssize_t n = read(fds[0], p + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  // It exits right after answering (or has died).
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return got == size;
}

}  // namespace gotrace
