#include "gotrace/util/slow_notice.h"

#include <fmt/format.h>
#include <pthread.h>

#include <csignal>

namespace gotrace {

SlowStepNotice::SlowStepNotice(std::string what, std::chrono::milliseconds after, std::FILE* out)
    : what_(std::move(what)), out_(out), start_(std::chrono::steady_clock::now()) {
  // The stop signals stay with the main thread (util/signals.h): blocked in
  // the watcher from its first instruction on.
  sigset_t stop, old;
  sigemptyset(&stop);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, sig);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  watcher_ = std::thread([this, after] {
    std::unique_lock lock(m_);
    if (cv_.wait_for(lock, after, [this] { return done_; })) return;
    fmt::print(out_, "gotrace: {} is taking a while (the host is busy?)…\n", what_);
    std::fflush(out_);
    printed_ = true;
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

SlowStepNotice::~SlowStepNotice() {
  {
    std::lock_guard lock(m_);
    done_ = true;
  }
  cv_.notify_all();
  watcher_.join();
  if (printed_) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    fmt::print(out_, "gotrace: {}: done in {:.1f}s\n", what_, s);
    std::fflush(out_);
  }
}

}  // namespace gotrace
