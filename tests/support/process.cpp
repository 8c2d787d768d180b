#include "support/process.h"

#include "support/fixtures.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gotrace::test {

RunningProgram::RunningProgram(const std::string& path, const std::vector<std::string>& args) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  fd_ = fds[0];
}

RunningProgram::~RunningProgram() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (fd_ >= 0) close(fd_);
}

void RunningProgram::drain(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  ssize_t n = read(fd_, buf, sizeof buf);
  if (n > 0) out_.append(buf, static_cast<size_t>(n));
}

bool RunningProgram::wait_for_line(const std::string& prefix, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    size_t pos = 0;
    while (pos < out_.size()) {
      size_t eol = out_.find('\n', pos);
      if (eol == std::string::npos) break;
      if (out_.compare(pos, prefix.size(), prefix) == 0) return true;
      pos = eol + 1;
    }
    drain(50);
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      drain(0);
      return out_.find(prefix) != std::string::npos;
    }
  }
  return false;
}

int RunningProgram::wait_exit(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!exited_ && std::chrono::steady_clock::now() < deadline) {
    drain(50);
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
  }
  while (exited_) {  // the rest of its output
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    out_.append(buf, static_cast<size_t>(n));
  }
  return exited_ ? status_ : -1;
}

void require_bpf_host() {
  if (geteuid() != 0)
    FAIL("this test attaches BPF programs and must run as root (it never skips: CI must run it)");
}

std::vector<std::string> loaded_gotrace_programs() {
  auto r = run_command("bpftool prog show 2>/dev/null");
  std::vector<std::string> found;
  for (const char* name : {"gopark_entry", "ready_entry", "netpollready_en", "injectglist_ent"})
    if (r.out.find(name) != std::string::npos) found.emplace_back(name);
  return found;
}

}  // namespace gotrace::test
