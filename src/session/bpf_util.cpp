#include "gotrace/session/bpf_util.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include "gotrace/host/features.h"

namespace gotrace {

namespace {
int libbpf_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
  char buf[8192];
  int n = vsnprintf(buf, sizeof buf, format, args);
  std::string_view msg(buf, n > 0 ? std::min<size_t>(n, sizeof buf - 1) : 0);
  while (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
  if (level == LIBBPF_DEBUG)
    spdlog::trace("libbpf: {}", msg);
  else
    spdlog::debug("libbpf: {}", msg);
  return n;
}
}  // namespace

void install_libbpf_logging() { libbpf_set_print(libbpf_to_spdlog); }

void LinkSet::clear() {
  // Each uprobe comes off in its own system call, and the kernel takes up to
  // most of a second for one (it waits for every CPU to leave the probe):
  // one after another, a dozen probes kept the target's breakpoints in for
  // seconds. They come off side by side instead; counting already stopped.
  if (links_.size() <= 1) {
    for (auto* l : links_) bpf_link__destroy(l);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(links_.size());
    for (auto* l : links_) {
      try {
        threads.emplace_back([l] { bpf_link__destroy(l); });
      } catch (const std::system_error&) {
        bpf_link__destroy(l);  // no thread to be had: here and now
      }
    }
    for (auto& t : threads) t.join();
  }
  links_.clear();
}

// Which capabilities to add, from the ones this process lacks. Uprobes
// through perf events want CAP_SYS_ADMIN on the kernels measured here (6.18
// refuses them with CAP_BPF and CAP_PERFMON alone); CAP_SYS_PTRACE is for a
// target that holds more capabilities than gotrace.
std::string missing_capabilities_hint() {
  HostFeatures h = probe_host();
  std::vector<std::string> missing;
  if (!h.cap_sys_admin) missing.push_back("CAP_SYS_ADMIN");
  if (!h.cap_sys_ptrace) missing.push_back("CAP_SYS_PTRACE");
  if (missing.empty()) return "refused by the kernel despite CAP_SYS_ADMIN: check lockdown and LSM policy";
  return fmt::format("needs {}; root has them", fmt::join(missing, " and "));
}

std::string explain_bpf_error(int err, const std::string& what) {
  err = err < 0 ? -err : err;
  if (err == EPERM || err == EACCES)
    return fmt::format("{}: {} ({})", what, std::strerror(err), missing_capabilities_hint());
  if (err == ENOENT)
    return fmt::format("{}: {} (the target binary or process is gone)", what, std::strerror(err));
  if (err == ESRCH) return fmt::format("{}: the target process exited", what);
  return fmt::format("{}: {}", what, std::strerror(err));
}

Result<void> attach_uprobe(bpf_program* prog, pid_t pid, const std::string& binary, uint64_t file_offset,
                           const std::string& what, LinkSet& links, uint64_t cookie) {
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie, .retprobe = false);
  bpf_link* link = bpf_program__attach_uprobe_opts(prog, pid, binary.c_str(), file_offset, &opts);
  if (!link) {
    int err = errno;
    return Error{explain_bpf_error(
        err, fmt::format("attaching a uprobe to {} (file offset {:#x})", what, file_offset))};
  }
  spdlog::debug("attached {} at {}+{:#x} (pid {})", what, binary, file_offset, pid);
  links.add(link);
  return {};
}

}  // namespace gotrace
