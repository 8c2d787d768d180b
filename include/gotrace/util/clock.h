// CLOCK_MONOTONIC in nanoseconds: the clock bpf_ktime_get_ns and the Go
// runtime's nanotime read, so user-space edges compare with BPF timestamps.
#pragma once

#include <time.h>

#include <cstdint>

namespace gotrace {

inline uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace gotrace
