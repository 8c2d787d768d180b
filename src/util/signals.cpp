#include "gotrace/util/signals.h"

#include <fmt/format.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <string>

namespace gotrace {

namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

std::atomic<int> g_signal{0};

// The lines the handler writes when it ends gotrace at once, one per stop
// signal. Two slots: the one being filled is never the one published, so
// the handler (which can interrupt the filling) reads a whole one.
struct ExitLines {
  char line[3][512];
  size_t len[3];
};
ExitLines g_lines[2];
std::atomic<int> g_armed{-1};  // the published slot, -1: only set the flag

int index_of(int sig) {
  for (int i = 0; i < 3; ++i)
    if (kStopSignals[i] == sig) return i;
  return -1;
}

void on_stop_signal(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);
  const int slot = g_armed.load();
  const int i = index_of(sig);
  if (slot < 0 || i < 0) return;
  const ExitLines& l = g_lines[slot];
  ssize_t n = write(STDERR_FILENO, l.line[i], l.len[i]);
  (void)n;
  _exit(130);  // kExitInterrupted (trace_config.h; main.cpp checks they agree)
}

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kStopSignals) sigaddset(&set, sig);
  return set;
}

}  // namespace

std::string interrupted_line(std::string_view what, int sig) {
  return fmt::format("gotrace: interrupted {} ({})\n", what, strsignal(sig));
}

void block_ignored_stop_signals() {
  // Raw system calls: this runs before the sanitizer runtime is set up,
  // whose interceptors (sigaction, sigprocmask) are not usable yet. The
  // kernel's struct sigaction: handler, flags, restorer, mask.
  uint64_t mask = 0;
  for (int sig : kStopSignals) {
    struct {
      void (*handler)(int);
      unsigned long flags;
      void (*restorer)();
      uint64_t mask;
    } k{};
    if (syscall(SYS_rt_sigaction, sig, nullptr, &k, sizeof k.mask) == 0 && k.handler == SIG_IGN)
      mask |= uint64_t{1} << (sig - 1);
  }
  if (mask) syscall(SYS_rt_sigprocmask, SIG_BLOCK, &mask, nullptr, sizeof mask);
}

void exit_on_stop_signal(std::string_view what) {
  const int slot = g_armed.load() == 0 ? 1 : 0;
  ExitLines& l = g_lines[slot];
  for (int i = 0; i < 3; ++i) {
    std::string s = interrupted_line(what, kStopSignals[i]);
    if (s.size() >= sizeof l.line[i]) s = s.substr(0, sizeof l.line[i] - 2) + "\n";
    std::memcpy(l.line[i], s.data(), s.size());
    l.len[i] = s.size();
  }
  g_armed.store(slot);
  // One came while only the flag was set: it ends gotrace now.
  if (int sig = g_signal.load(); sig && index_of(sig) >= 0) {
    ssize_t n = write(STDERR_FILENO, l.line[index_of(sig)], l.len[index_of(sig)]);
    (void)n;
    _exit(130);
  }
}

void defer_stop_signals() { g_armed.store(-1); }

void install_stop_signals() {
  exit_on_stop_signal("before tracing began");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : kStopSignals) sigaddset(&sa.sa_mask, sig);  // one handler at a time
  sa.sa_flags = SA_RESTART;
  for (int sig : kStopSignals) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // What arrived since the exec (or was pending, blocked, before it) is
  // delivered here.
  sigset_t set = stop_set();
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

int stop_signal() { return g_signal.load(); }

}  // namespace gotrace
