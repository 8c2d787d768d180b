#include "gotrace/session/bpf_util.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "gotrace/host/features.h"
#include "gotrace/host/uprobe_multi.h"
#include "gotrace/session/probe_keeper.h"
#include "gotrace/util/log.h"

namespace gotrace {

namespace {
int libbpf_to_log(enum libbpf_print_level level, const char* format, va_list args) {
  // Whole: a verifier log runs to hundreds of KiB, and its end says why.
  va_list again;
  va_copy(again, args);
  const int n = vsnprintf(nullptr, 0, format, again);
  va_end(again);
  std::string buf(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) vsnprintf(buf.data(), buf.size() + 1, format, args);
  std::string_view msg(buf);
  while (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
  if (level == LIBBPF_DEBUG)
    log_trace("libbpf: {}", msg);
  else
    log_debug("libbpf: {}", msg);
  return n;
}
}  // namespace

void install_libbpf_logging() { libbpf_set_print(libbpf_to_log); }

void LinkSet::clear() {
  if (!ids_.empty()) {
    if (auto keeper = ProbeKeeper::get()) (*keeper)->release(ids_);
  }
  ids_.clear();
  probes_ = 0;
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

ProgramRunStats program_run_stats(bpf_object* obj) {
  ProgramRunStats s;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    bpf_prog_info info{};
    __u32 len = sizeof info;
    int fd = bpf_program__fd(prog);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
    s.runs += info.run_cnt;
    s.run_ns += info.run_time_ns;
  }
  return s;
}

bool use_uprobe_multi(bool host_supports) {
  const char* env = std::getenv("GOTRACE_UPROBE_MULTI");
  return host_supports && !(env && std::string_view(env) == "0");
}

void prepare_uprobe_multi(bpf_object* obj) {
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    if (bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE)
      bpf_program__set_expected_attach_type(prog, static_cast<bpf_attach_type>(kUprobeMultiAttachType));
  }
}

Result<void> attach_uprobe_multi(bpf_program* prog, pid_t pid, int exe_fd,
                                 const std::vector<uint64_t>& file_offsets,
                                 const std::vector<uint64_t>& cookies, const std::string& what,
                                 LinkSet& links) {
  auto keeper = ProbeKeeper::get();
  if (!keeper) return keeper.error();
  auto r = (*keeper)->attach_multi(bpf_program__fd(prog), exe_fd, pid, file_offsets, cookies);
  if (r.err < 0)
    return Error{explain_bpf_error(
        -r.err, file_offsets.size() == 1
                    ? fmt::format("attaching a uprobe to {} (file offset {:#x})", what, file_offsets[0])
                    : fmt::format("attaching {} uprobes ({})", file_offsets.size(), what))};
  log_debug("attached {} ({} sites, one link) (pid {})", what, file_offsets.size(), pid);
  links.add(r.id, file_offsets.size());
  return {};
}

Result<void> attach_uprobe(bpf_program* prog, pid_t pid, int exe_fd, uint64_t file_offset,
                           const std::string& what, LinkSet& links, uint64_t cookie) {
  auto keeper = ProbeKeeper::get();
  if (!keeper) return keeper.error();
  auto r = (*keeper)->attach_one(bpf_program__fd(prog), exe_fd, pid, file_offset, cookie);
  if (r.err < 0)
    return Error{explain_bpf_error(
        -r.err, fmt::format("attaching a uprobe to {} (file offset {:#x})", what, file_offset))};
  log_debug("attached {} at file offset {:#x} (pid {})", what, file_offset, pid);
  links.add(r.id, 1);
  return {};
}

size_t clear_map(int fd) {
  if (fd < 0) return 0;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.key_size == 0) return 0;
  // All keys first (one walk), then the deletes: nothing writes the map
  // meanwhile (its programs are detached), so each key is seen once.
  const size_t ks = info.key_size;
  std::vector<unsigned char> keys, next(ks);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    keys.insert(keys.end(), next.begin(), next.end());
    prev = keys.data() + keys.size() - ks;
  }
  size_t n = 0;
  for (size_t off = 0; off < keys.size(); off += ks)
    if (bpf_map_delete_elem(fd, keys.data() + off) == 0) ++n;
  return n;
}

}  // namespace gotrace
