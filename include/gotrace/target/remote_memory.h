// RemoteMemory: reads another process's memory while it runs, without
// stopping it and without ever writing to it (process_vm_readv, batched).
// Needs the same right as a debugger: ptrace access to the target (root, or
// the same user with kernel.yama.ptrace_scope 0). Every read is checked; a
// page that disappears between two reads is an error, never a crash.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "gotrace/util/result.h"

namespace gotrace {

class RemoteMemory {
 public:
  explicit RemoteMemory(pid_t pid) : pid_(pid) {}

  // Reads n bytes at addr into out. Fails (one line, with the OS's reason)
  // if any byte could not be read.
  Result<void> read(uint64_t addr, void* out, size_t n) const;

  template <typename T>
  std::optional<T> read_value(uint64_t addr) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    if (!read(addr, &v, sizeof v)) return std::nullopt;
    return v;
  }

  // Many small reads in as few system calls as possible. Each request says
  // whether it was read completely; returns how many were.
  struct Request {
    uint64_t addr = 0;
    void* dst = nullptr;
    size_t len = 0;
    bool ok = false;
  };
  size_t read_many(std::span<Request> requests) const;

  pid_t pid() const { return pid_; }
  uint64_t syscalls() const { return syscalls_; }
  uint64_t bytes_read() const { return bytes_; }

 private:
  pid_t pid_;
  mutable uint64_t syscalls_ = 0;
  mutable uint64_t bytes_ = 0;
};

}  // namespace gotrace
