// A line on stderr when a step that is usually quick is not: attaching
// probes took up to 10 s on a loaded host, with nothing on the screen to say
// gotrace was not hung. Construct before the step, destroy after it:
//
//   SlowStepNotice notice("attaching 42 probes to PID 7 (server)");
//   ... the step ...
//
// After `after` (1 s) without the step done it prints "gotrace: attaching
// 42 probes to PID 7 (server) is taking a while…", and once the step is
// done, how long it took. A quick step prints nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace gotrace {

class SlowStepNotice {
 public:
  explicit SlowStepNotice(std::string what, std::chrono::milliseconds after = std::chrono::seconds(1),
                          std::FILE* out = stderr);
  ~SlowStepNotice();
  SlowStepNotice(const SlowStepNotice&) = delete;
  SlowStepNotice& operator=(const SlowStepNotice&) = delete;

 private:
  std::string what_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  bool printed_ = false;
  std::thread watcher_;
};

}  // namespace gotrace
