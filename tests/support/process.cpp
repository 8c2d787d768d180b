#include "support/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "support/fixtures.h"
#include "support/json.h"

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

namespace {

// Program ids a process holds, from /proc/PID/fdinfo ("prog_id:" of BPF
// program and link descriptors). bpftool's own owner listing needs a
// feature Debian's build lacks.
std::set<uint64_t> prog_ids_held_by(pid_t pid) {
  std::set<uint64_t> ids;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator(fmt::format("/proc/{}/fdinfo", pid), ec)) {
    std::ifstream in(fd.path());
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("prog_id:", 0) == 0) ids.insert(std::stoull(line.substr(8)));
  }
  return ids;
}

// The names of gotrace's BPF programs, read from the sources (every
// `SEC("uprobe…") int name(` of bpf/ and src/commands/*/), cut to the 15
// characters the kernel keeps: a new command's programs are found without a
// list to update.
const std::set<std::string>& our_program_names() {
  static const std::set<std::string> names = [] {
    std::set<std::string> out;
    const std::regex prog(R"re(SEC\("uprobe[^"]*"\)\s*int\s+(\w+)\s*\()re");
    const std::string root = GOTRACE_SOURCE_DIR;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root + "/src/commands")) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file() || !(name.ends_with(".bpf.c") || name.ends_with(".bpf.h"))) continue;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (std::sregex_iterator it(text.begin(), text.end(), prog), end; it != end; ++it)
        out.insert((*it)[1].str().substr(0, 15));
    }
    for (const auto& e : std::filesystem::directory_iterator(root + "/bpf")) {
      if (!e.is_regular_file()) continue;  // (bpf/include; reading a directory throws)
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (std::sregex_iterator it(text.begin(), text.end(), prog), end; it != end; ++it)
        out.insert((*it)[1].str().substr(0, 15));
    }
    return out;
  }();
  return names;
}

// Every loaded program of gotrace's BPF sources: id -> name.
std::map<uint64_t, std::string> gotrace_programs() {
  const auto& ours = our_program_names();
  REQUIRE(ours.size() >= 10);  // block, lock and alloc programs at least
  auto r = run_command("bpftool -j prog show 2>/dev/null");
  std::map<uint64_t, std::string> out;
  Json progs = parse_json(r.out.empty() ? "[]" : r.out);
  for (const auto& p : progs.arr)
    if (ours.count(p["name"].str)) out[p["id"].u] = p["name"].str;
  return out;
}

}  // namespace

std::vector<std::string> loaded_gotrace_programs() {
  // Held by a gotrace that is still running (another trace on this machine)
  // is not left behind; left behind = no live process holds it.
  auto progs = gotrace_programs();
  if (progs.empty()) return {};
  std::set<uint64_t> held;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    for (uint64_t id : prog_ids_held_by(static_cast<pid_t>(std::stol(name)))) held.insert(id);
  }
  std::vector<std::string> found;
  for (const auto& [id, name] : progs)
    if (!held.count(id)) found.push_back(name);
  return found;
}

std::vector<std::string> gotrace_programs_held_by(pid_t pid) {
  auto held = prog_ids_held_by(pid);
  std::vector<std::string> found;
  for (const auto& [id, name] : gotrace_programs())
    if (held.count(id)) found.push_back(name);
  return found;
}

std::vector<uint64_t> code_differences(pid_t pid) {
  std::vector<uint64_t> out;
  char buf[4096];
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return out;
  const std::string exe(buf, static_cast<size_t>(n));
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  int mem = ::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDONLY | O_CLOEXEC);
  int file = ::open(fmt::format("/proc/{}/exe", pid).c_str(), O_RDONLY | O_CLOEXEC);
  std::string line;
  while (mem >= 0 && file >= 0 && std::getline(maps, line)) {
    unsigned long long start, end, off;
    char perms[8] = {};
    int path_pos = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &path_pos) < 4)
      continue;
    if (std::string(perms) != "r-xp" || path_pos <= 0 || line.substr(static_cast<size_t>(path_pos)) != exe)
      continue;
    std::vector<unsigned char> a(end - start), b(end - start);
    ssize_t ra = pread(mem, a.data(), a.size(), static_cast<off_t>(start));
    ssize_t rb = pread(file, b.data(), b.size(), static_cast<off_t>(off));
    const size_t len = static_cast<size_t>(std::max<ssize_t>(0, std::min(ra, rb)));
    for (size_t i = 0; i < len; ++i)
      if (a[i] != b[i]) out.push_back(start + i);
  }
  if (mem >= 0) ::close(mem);
  if (file >= 0) ::close(file);
  return out;
}

std::vector<uint64_t> code_differences_after(pid_t pid, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto d = code_differences(pid);
    if (d.empty() || std::chrono::steady_clock::now() >= deadline) return d;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace gotrace::test
