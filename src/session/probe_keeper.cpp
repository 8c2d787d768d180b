#include "gotrace/session/probe_keeper.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "gotrace/host/uprobe_multi.h"
#include "gotrace/util/signals.h"

namespace gotrace {

namespace {

// The messages between gotrace and its keeper (one SOCK_SEQPACKET message
// each). An attach carries the program's and the executable's fds.
enum KeeperOp : uint32_t { kAttachMulti = 1, kAttachOne = 2, kRelease = 3 };
struct Request {
  uint32_t op;
  int32_t pid;
  uint32_t count;  // sites of an attach (offsets, then cookies follow), ids of a release
  uint32_t seq;    // echoed in the reply
};
struct Reply {
  int32_t err;  // 0 or -errno
  uint32_t id;  // attach: the link's id; release: how many were held
  uint32_t seq;
  uint32_t pad;
};
constexpr size_t kMaxSites = 8192;
constexpr size_t kMaxMessage = sizeof(Request) + 2 * kMaxSites * sizeof(uint64_t);

ssize_t send_message(int sock, const void* data, size_t size, std::span<const int> fds) {
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

// Receives one message; the fds that came with it go to fds (at most 2).
ssize_t recv_message(int sock, void* data, size_t size, std::vector<int>* fds) {
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (fds)
        fds->push_back(fd);
      else
        ::close(fd);
    }
  }
  return n;
}

// The uprobe PMU's type, for perf_event_open.
int uprobe_pmu_type() {
  std::ifstream in("/sys/bus/event_source/devices/uprobe/type");
  int t = -1;
  in >> t;
  return t;
}

// In the keeper: one perf-event uprobe with prog_fd on it. Returns the fds
// to hold (link, perf event) or -errno.
int attach_perf_uprobe(int prog_fd, const char* path, pid_t pid, uint64_t offset, uint64_t cookie,
                       std::vector<int>& hold) {
  const int type = uprobe_pmu_type();
  if (type < 0) return -ENOENT;
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = static_cast<uint32_t>(type);
  attr.config1 = reinterpret_cast<uint64_t>(path);  // uprobe_path
  attr.config2 = offset;                            // probe_offset
  long pfd = syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (pfd < 0) return -errno;
  LIBBPF_OPTS(bpf_link_create_opts, opts, .perf_event = {.bpf_cookie = cookie});
  int link = bpf_link_create(prog_fd, static_cast<int>(pfd), BPF_PERF_EVENT, &opts);
  if (link >= 0) {
    hold = {link, static_cast<int>(pfd)};
    return 0;
  }
  // Kernels before BPF links for perf events (no cookie there).
  if (ioctl(static_cast<int>(pfd), PERF_EVENT_IOC_SET_BPF, prog_fd) != 0 ||
      ioctl(static_cast<int>(pfd), PERF_EVENT_IOC_ENABLE, 0) != 0) {
    int err = errno;
    ::close(static_cast<int>(pfd));
    return -err;
  }
  hold = {static_cast<int>(pfd)};
  return 0;
}

// Closes each link's fds, the links side by side: each uprobe's removal
// waits for every CPU to leave it, and one after another a dozen probes
// kept the target's breakpoints in for seconds.
void close_all(std::vector<std::vector<int>> sets) {
  std::vector<std::thread> threads;
  for (auto& s : sets) {
    auto job = [s] {
      for (int fd : s) ::close(fd);
    };
    try {
      threads.emplace_back(job);
    } catch (const std::system_error&) {
      job();
    }
  }
  for (auto& t : threads) t.join();
}

[[noreturn]] void keeper_main(int sock) {
  // Nothing of gotrace's but the socket: a pipe held here would keep a
  // reader of gotrace's output waiting for the keeper.
  int null = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd)
    if (null >= 0) dup2(null, fd);
  if (null > 2) ::close(null);
  if (sock > 3) syscall(SYS_close_range, 3u, static_cast<unsigned>(sock - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(sock + 1), ~0u, 0u);
  setsid();  // out of gotrace's process group: a group's or terminal's signal stays there
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2})
    signal(s, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_NAME, "gt-keeper", 0, 0, 0);

  std::map<uint32_t, std::vector<int>> held;
  uint32_t next_id = 1;
  std::vector<unsigned char> buf(kMaxMessage);
  for (;;) {
    std::vector<int> fds;
    ssize_t n = recv_message(sock, buf.data(), buf.size(), &fds);
    if (n <= 0) break;  // gotrace is gone (or the socket broke): take everything off
    Request rq{};
    Reply rp{};
    if (static_cast<size_t>(n) < sizeof rq) {
      rp.err = -EINVAL;
    } else {
      std::memcpy(&rq, buf.data(), sizeof rq);
      rp.seq = rq.seq;
      const unsigned char* body = buf.data() + sizeof rq;
      const size_t body_size = static_cast<size_t>(n) - sizeof rq;
      if (rq.op == kRelease && body_size == rq.count * sizeof(uint32_t)) {
        std::vector<std::vector<int>> sets;
        for (uint32_t i = 0; i < rq.count; ++i) {
          uint32_t id;
          std::memcpy(&id, body + i * sizeof id, sizeof id);
          if (auto it = held.find(id); it != held.end()) {
            sets.push_back(std::move(it->second));
            held.erase(it);
          }
        }
        rp.id = static_cast<uint32_t>(sets.size());
        close_all(std::move(sets));
      } else if ((rq.op == kAttachMulti || rq.op == kAttachOne) && fds.size() == 2 &&
                 body_size == 2 * rq.count * sizeof(uint64_t) && rq.count > 0 &&
                 (rq.op == kAttachMulti || rq.count == 1)) {
        std::vector<uint64_t> offsets(rq.count), cookies(rq.count);
        std::memcpy(offsets.data(), body, rq.count * sizeof(uint64_t));
        std::memcpy(cookies.data(), body + rq.count * sizeof(uint64_t), rq.count * sizeof(uint64_t));
        // Through the fd gotrace opened: the very file it analysed.
        const std::string path = fmt::format("/proc/self/fd/{}", fds[1]);
        std::vector<int> hold;
        if (rq.op == kAttachMulti) {
          int link = create_uprobe_multi_link(fds[0], path.c_str(), offsets, cookies, rq.pid);
          if (link >= 0)
            hold = {link};
          else
            rp.err = link;
        } else {
          rp.err = attach_perf_uprobe(fds[0], path.c_str(), rq.pid, offsets[0], cookies[0], hold);
        }
        if (rp.err == 0) {
          rp.id = next_id++;
          held[rp.id] = std::move(hold);
        }
      } else {
        rp.err = -EINVAL;
      }
    }
    for (int fd : fds) ::close(fd);  // (a link holds its program)
    send_message(sock, &rp, sizeof rp, {});
  }
  std::vector<std::vector<int>> sets;
  for (auto& [id, s] : held) sets.push_back(std::move(s));
  close_all(std::move(sets));
  _exit(0);
}

std::mutex keeper_mutex;
uint32_t next_seq = 1;

// Waits for the reply to request seq (earlier ones, abandoned, are skipped).
// interruptible: a stop signal (Ctrl-C) abandons the wait; the keeper
// finishes and, once gotrace is gone, takes off whatever it attached.
Reply await_reply(int sock, uint32_t seq, bool interruptible) {
  for (;;) {
    pollfd p{sock, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r < 0 && errno != EINTR) return {-errno, 0, seq, 0};
    if (r > 0) {
      Reply rp{};
      ssize_t n = recv_message(sock, &rp, sizeof rp, nullptr);
      if (n != static_cast<ssize_t>(sizeof rp)) return {n < 0 ? -errno : -EPIPE, 0, seq, 0};
      if (rp.seq == seq) return rp;
      continue;  // the reply to an abandoned request
    }
    if (interruptible && stop_signal()) return {-EINTR, 0, seq, 0};
  }
}

}  // namespace

Result<ProbeKeeper*> ProbeKeeper::get() {
  static ProbeKeeper* keeper = nullptr;
  std::lock_guard lock(keeper_mutex);
  if (keeper) return keeper;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return make_error("cannot start the probe keeper: socketpair: {}", std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return make_error("cannot start the probe keeper: fork: {}", std::strerror(err));
  }
  if (pid == 0) {
    ::close(sv[0]);
    keeper_main(sv[1]);
  }
  ::close(sv[1]);
  keeper = new ProbeKeeper(pid, sv[0]);  // lives as long as gotrace: its socket's EOF ends the keeper
  return keeper;
}

ProbeKeeper::Attached ProbeKeeper::attach(uint32_t op, int prog_fd, int exe_fd, pid_t pid,
                                          std::span<const uint64_t> offsets,
                                          std::span<const uint64_t> cookies) {
  if (offsets.empty() || offsets.size() > kMaxSites) return {0, -E2BIG};
  if (prog_fd < 0 || exe_fd < 0) return {0, -EBADF};
  std::vector<unsigned char> msg(sizeof(Request) + 2 * offsets.size() * sizeof(uint64_t));
  std::lock_guard lock(keeper_mutex);
  Request rq{op, pid, static_cast<uint32_t>(offsets.size()), next_seq++};
  std::memcpy(msg.data(), &rq, sizeof rq);
  std::memcpy(msg.data() + sizeof rq, offsets.data(), offsets.size() * sizeof(uint64_t));
  for (size_t i = 0; i < offsets.size(); ++i) {
    uint64_t c = i < cookies.size() ? cookies[i] : 0;
    std::memcpy(msg.data() + sizeof rq + (offsets.size() + i) * sizeof(uint64_t), &c, sizeof c);
  }
  const int fds[2] = {prog_fd, exe_fd};
  if (send_message(sock_, msg.data(), msg.size(), fds) < 0) return {0, -errno};
  Reply rp = await_reply(sock_, rq.seq, true);
  return {rp.id, rp.err};
}

ProbeKeeper::Attached ProbeKeeper::attach_multi(int prog_fd, int exe_fd, pid_t pid,
                                                std::span<const uint64_t> offsets,
                                                std::span<const uint64_t> cookies) {
  return attach(kAttachMulti, prog_fd, exe_fd, pid, offsets, cookies);
}

ProbeKeeper::Attached ProbeKeeper::attach_one(int prog_fd, int exe_fd, pid_t pid, uint64_t offset,
                                              uint64_t cookie) {
  return attach(kAttachOne, prog_fd, exe_fd, pid, std::span(&offset, 1), std::span(&cookie, 1));
}

size_t ProbeKeeper::release(std::span<const uint32_t> ids) {
  if (ids.empty()) return 0;
  std::vector<unsigned char> msg(sizeof(Request) + ids.size() * sizeof(uint32_t));
  std::lock_guard lock(keeper_mutex);
  Request rq{kRelease, 0, static_cast<uint32_t>(ids.size()), next_seq++};
  std::memcpy(msg.data(), &rq, sizeof rq);
  std::memcpy(msg.data() + sizeof rq, ids.data(), ids.size() * sizeof(uint32_t));
  if (send_message(sock_, msg.data(), msg.size(), {}) < 0) return 0;
  // Not abandoned on a signal: the report waits for the probes to be off
  // (a second Ctrl-C or a SIGKILL ends gotrace, and the keeper goes on).
  Reply rp = await_reply(sock_, rq.seq, false);
  return rp.err == 0 ? rp.id : 0;
}

}  // namespace gotrace
