#include "gotrace/host/uprobe_multi.h"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace gotrace {

namespace {

// The BPF_LINK_CREATE part of union bpf_attr, with the uprobe_multi member
// (linux/bpf.h from 6.6 on; the headers installed here are older).
struct LinkCreateUprobeMulti {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t multi_flags;  // BPF_F_UPROBE_MULTI_RETURN would make them return probes: never
  uint32_t pid;
  uint32_t pad;
};
static_assert(offsetof(LinkCreateUprobeMulti, path) == 16 && offsetof(LinkCreateUprobeMulti, cnt) == 48 &&
                  offsetof(LinkCreateUprobeMulti, pid) == 56,
              "the uapi layout of link_create.uprobe_multi");

}  // namespace

int create_uprobe_multi_link(int prog_fd, const char* path, std::span<const uint64_t> offsets,
                             std::span<const uint64_t> cookies, pid_t pid) {
  if (offsets.empty() || (!cookies.empty() && cookies.size() != offsets.size())) return -EINVAL;
  union {
    LinkCreateUprobeMulti a;
    bpf_attr whole;  // the kernel checks that the bytes past what it knows are zero
  } attr{};
  attr.a.prog_fd = static_cast<uint32_t>(prog_fd);
  attr.a.attach_type = kUprobeMultiAttachType;
  attr.a.path = reinterpret_cast<uint64_t>(path);
  attr.a.offsets = reinterpret_cast<uint64_t>(offsets.data());
  attr.a.cookies = cookies.empty() ? 0 : reinterpret_cast<uint64_t>(cookies.data());
  attr.a.cnt = static_cast<uint32_t>(offsets.size());
  attr.a.pid = static_cast<uint32_t>(pid);
  long fd = syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof attr);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

}  // namespace gotrace
