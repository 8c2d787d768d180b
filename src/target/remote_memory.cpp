#include "gotrace/target/remote_memory.h"

#include <sys/uio.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "gotrace/util/privilege.h"

namespace gotrace {

Result<void> RemoteMemory::read(uint64_t addr, void* out, size_t n) const {
  auto* dst = static_cast<char*>(out);
  size_t done = 0;
  while (done < n) {
    iovec local{dst + done, n - done};
    iovec remote{reinterpret_cast<void*>(addr + done), n - done};
    ++syscalls_;
    ssize_t got = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
    if (got <= 0) {
      int err = got < 0 ? errno : EFAULT;
      if (err == EPERM)
        return make_error("reading PID {}'s memory: not permitted ({})", pid_,
                          ptrace_refusal_reason(pid_, true));
      if (err == ESRCH) return make_error("reading PID {}'s memory: the process is gone", pid_);
      return make_error("reading {} bytes of PID {} at {:#x}: {}", n, pid_, addr + done, std::strerror(err));
    }
    done += static_cast<size_t>(got);
    bytes_ += static_cast<uint64_t>(got);
  }
  return {};
}

size_t RemoteMemory::read_many(std::span<Request> requests) const {
  // process_vm_readv stops at the first remote iovec it cannot read: send
  // batches, and retry the rest after the one that failed. Destinations
  // that follow each other are one local iovec: the kernel's copy walks
  // both lists, and 100,000 four-byte pieces cost more in that walk than in
  // the reads themselves.
  constexpr size_t kBatch = IOV_MAX;
  size_t ok = 0;
  size_t i = 0;
  std::vector<iovec> local, remote;
  while (i < requests.size()) {
    size_t end = std::min(requests.size(), i + kBatch);
    local.clear();
    remote.clear();
    for (size_t k = i; k < end; ++k) {
      requests[k].ok = false;
      auto* dst = static_cast<uint8_t*>(requests[k].dst);
      if (!local.empty() && static_cast<uint8_t*>(local.back().iov_base) + local.back().iov_len == dst)
        local.back().iov_len += requests[k].len;
      else
        local.push_back({dst, requests[k].len});
      remote.push_back({reinterpret_cast<void*>(requests[k].addr), requests[k].len});
    }
    ++syscalls_;
    ssize_t got = process_vm_readv(pid_, local.data(), local.size(), remote.data(), remote.size(), 0);
    size_t left = got > 0 ? static_cast<size_t>(got) : 0;
    bytes_ += left;
    size_t k = i;
    for (; k < end && left >= requests[k].len; ++k) {
      left -= requests[k].len;
      requests[k].ok = true;
      ++ok;
    }
    if (k < end) {
      // requests[k] was cut short or unreadable: read it alone, go on after it.
      if (read(requests[k].addr, requests[k].dst, requests[k].len)) {
        requests[k].ok = true;
        ++ok;
      }
      ++k;
    }
    i = k;
  }
  return ok;
}

}  // namespace gotrace
