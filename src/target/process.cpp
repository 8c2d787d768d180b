#include "gotrace/target/process.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "gotrace/elf/elf_image.h"
#include "gotrace/util/privilege.h"

namespace gotrace {

namespace {
std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Fields 22 (starttime) and 26 (startcode) of /proc/PID/stat; the comm
// field may contain spaces and parentheses, so parse from the last ')'.
struct StatTimes {
  uint64_t start_time = 0, start_code = 0;
};
StatTimes stat_times_of(pid_t pid) {
  StatTimes t;
  std::string stat = read_first_line(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return t;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 26 && rest >> field; ++i) {
    if (i == 22) t.start_time = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 26) t.start_code = std::strtoull(field.c_str(), nullptr, 10);
  }
  return t;
}
uint64_t start_time_of(pid_t pid) { return stat_times_of(pid).start_time; }

std::string exe_path_of(pid_t pid) {
  char buf[PATH_MAX];
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}
}  // namespace

// From the process's CPU-time clock, to the nanosecond (any user may read
// another process's on Linux); where that fails, from /proc/PID/stat's
// utime + stime, in clock ticks (10 ms): a short window of a quiet target
// can read 0 there, which made short traces' cost shares meaningless.
uint64_t Process::cpu_time_ns() const {
  clockid_t clock;
  timespec ts{};
  if (clock_getcpuclockid(pid_, &clock) == 0 && clock_gettime(clock, &ts) == 0)
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
  std::string stat = read_first_line(fmt::format("/proc/{}/stat", pid_));
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  uint64_t ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::strtoull(field.c_str(), nullptr, 10);  // utime, stime
  static const long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? ticks * (1'000'000'000ULL / static_cast<uint64_t>(hz)) : 0;
}

// The state letter of /proc/PID/stat ('Z' for a zombie: exited, not yet reaped).
static char state_of(pid_t pid) {
  std::string stat = read_first_line(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

bool process_alive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  char st = state_of(pid);
  return st != 0 && st != 'Z' && st != 'X';
}

Result<Process> Process::open(pid_t pid) {
  if (pid <= 0) return make_error("invalid PID {}", pid);
  if (!process_alive(pid)) {
    char st = (kill(pid, 0) == 0 || errno == EPERM) ? state_of(pid) : 0;
    if (st == 'Z' || st == 'X')
      return make_error(
          "PID {} ({}) has exited: it is a zombie, waiting for its parent to collect its exit status", pid,
          read_first_line(fmt::format("/proc/{}/comm", pid)));
    return make_error("no process with PID {}", pid);
  }
  Process p;
  p.pid_ = pid;
  p.comm_ = read_first_line(fmt::format("/proc/{}/comm", pid));
  const StatTimes times = stat_times_of(pid);
  p.start_time_ = times.start_time;
  p.start_code_ = times.start_code;
  char buf[PATH_MAX];
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
  if (n < 0) {
    if (errno == EACCES || errno == EPERM) {
      int err = errno;
      return make_error("cannot read /proc/{}/exe: {} ({})", pid, std::strerror(err),
                        ptrace_refusal_reason(pid, false));
    }
    if (errno == ENOENT)
      return make_error("PID {} ({}) has no executable (a kernel thread or a zombie)", pid, p.comm_);
    return make_error("cannot read /proc/{}/exe: {}", pid, std::strerror(errno));
  }
  buf[n] = 0;
  p.exe_target_ = buf;
  // Pin the executable: from here on it is read and probed through this fd.
  int fd = ::open(fmt::format("/proc/{}/exe", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error("PID {} ({}) exited while gotrace was opening it", pid, p.comm_);
    return make_error("cannot open /proc/{}/exe: {}", pid, std::strerror(errno));
  }
  p.exe_fd_ = std::shared_ptr<const int>(new int(fd), [](const int* f) {
    ::close(*f);
    delete f;
  });
  struct stat st {};
  if (fstat(fd, &st) != 0) return make_error("cannot stat /proc/{}/exe: {}", pid, std::strerror(errno));
  p.exe_dev_ = st.st_dev;
  p.exe_ino_ = st.st_ino;
  // Opened while it changed hands (an exec or a PID reuse in between)?
  if (Identity id = p.identity(); id != Identity::Same) return Error{p.identity_text(id)};
  return p;
}

std::string Process::exe_link() const {
  return exe_fd_ ? fmt::format("/proc/self/fd/{}", *exe_fd_) : fmt::format("/proc/{}/exe", pid_);
}

int Process::exe_fd() const { return exe_fd_ ? *exe_fd_ : -1; }

bool Process::alive() const { return process_alive(pid_) && start_time_of(pid_) == start_time_; }

Identity Process::identity() const {
  if (!process_alive(pid_)) return Identity::Exited;
  const StatTimes now = stat_times_of(pid_);
  if (now.start_time == 0) return Identity::Exited;
  if (now.start_time != start_time_) return Identity::Reused;
  struct stat st {};
  if (stat(fmt::format("/proc/{}/exe", pid_).c_str(), &st) != 0)
    return errno == ENOENT ? Identity::Exited : Identity::Same;  // (EACCES: nothing new to tell)
  if (exe_fd_ && (st.st_dev != exe_dev_ || st.st_ino != exe_ino_)) return Identity::Execed;
  if (now.start_code != start_code_) return Identity::Execed;  // the same file, run anew elsewhere
  return Identity::Same;
}

std::string Process::identity_text(Identity id) const {
  switch (id) {
    case Identity::Same:
      return "";
    case Identity::Exited:
      return fmt::format("PID {} ({}) exited", pid_, comm());
    case Identity::Reused:
      return fmt::format("PID {} is another process now ({}): the target ({}) exited and its PID was reused",
                         pid_, printable(read_first_line(fmt::format("/proc/{}/comm", pid_))), comm());
    case Identity::Execed: {
      std::string now = exe_path_of(pid_);
      return fmt::format("PID {} ({}) exec'd a new program{}: it is no longer the program gotrace analysed",
                         pid_, comm(), now.empty() ? "" : fmt::format(" ({})", printable(now)));
    }
  }
  return "";
}

Result<void> Process::check_same() const {
  Identity id = identity();
  if (id == Identity::Same) return {};
  return Error{identity_text(id)};
}

Result<std::vector<Mapping>> Process::mappings() const {
  std::ifstream in(fmt::format("/proc/{}/maps", pid_));
  if (!in) return make_error("cannot read /proc/{}/maps: {}", pid_, std::strerror(errno));
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(in, line)) {
    Mapping m;
    char perms[8] = {};
    unsigned long long start, end, offset;
    int path_pos = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_pos) <
        4)
      continue;
    m.start = start;
    m.end = end;
    m.offset = offset;
    m.perms = perms;
    if (path_pos > 0 && static_cast<size_t>(path_pos) <= line.size()) m.path = line.substr(path_pos);
    out.push_back(std::move(m));
  }
  return out;
}

Result<uint64_t> Process::load_bias(const ElfImage& image) const {
  if (image.elf_type() != ET_DYN) return uint64_t{0};
  // The mapping of the executable's file offset 0 holds the first PT_LOAD.
  uint64_t first_vaddr = UINT64_MAX;
  for (const auto& seg : image.segments())
    if (seg.type == PT_LOAD && seg.offset == 0) first_vaddr = std::min(first_vaddr, seg.vaddr);
  if (first_vaddr == UINT64_MAX) return make_error("{}: no PT_LOAD segment at file offset 0", image.path());
  auto maps = mappings();
  if (!maps) return maps.error();
  for (const auto& m : *maps)
    if (m.offset == 0 && m.path == exe_target_) return m.start - (first_vaddr & ~uint64_t{0xfff});
  return make_error("cannot find the mapping of {} in /proc/{}/maps", exe_target_, pid_);
}

}  // namespace gotrace
