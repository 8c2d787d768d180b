#include "gotrace/host/features.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>

namespace gotrace {

namespace {
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool has_cap(const __user_cap_data_struct (&data)[2], int cap) {
  return data[cap / 32].effective & (1u << (cap % 32));
}

int silent_libbpf_print(enum libbpf_print_level, const char*, va_list) { return 0; }
}  // namespace

HostFeatures probe_host() {
  HostFeatures h;
  struct utsname u {};
  if (uname(&u) == 0) h.kernel_release = u.release;
  h.root = geteuid() == 0;

  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) == 0) {
    h.cap_sys_admin = has_cap(data, kCapSysAdmin);
    h.cap_perfmon = has_cap(data, kCapPerfmon);
    h.cap_bpf = has_cap(data, kCapBpf);
  }

  namespace fs = std::filesystem;
  std::error_code ec;
  h.btf = fs::exists("/sys/kernel/btf/vmlinux", ec);
  h.uprobes = fs::exists("/sys/bus/event_source/devices/uprobe/type", ec);
  h.kprobes = fs::exists("/sys/bus/event_source/devices/kprobe/type", ec);

  if (h.privileged()) {
    auto old = libbpf_set_print(silent_libbpf_print);
    h.ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
    h.bpf_prog_load = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, nullptr) == 1;
    // What the programs call: bpf_loop (stack walks, chain scans; Linux
    // 5.17) and bpf_get_attach_cookie (which site fired; Linux 5.15).
    h.bpf_loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, nullptr) == 1;
    h.attach_cookie = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie, nullptr) == 1;
    libbpf_set_print(old);
  }
  return h;
}

std::vector<std::string> HostFeatures::problems() const {
  std::vector<std::string> p;
  if (!privileged()) p.push_back("needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): run as root");
  if (!uprobes) p.push_back("the kernel has no uprobe support (CONFIG_UPROBE_EVENTS)");
  if (!btf) p.push_back("the kernel exposes no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)");
  if (ringbuf && !*ringbuf) p.push_back("the kernel has no BPF ring buffer (needs Linux 5.8+)");
  if (bpf_prog_load && !*bpf_prog_load) p.push_back("BPF programs cannot be loaded here (check kernel.unprivileged_bpf_disabled, lockdown)");
  else if (bpf_loop && !*bpf_loop) p.push_back("the kernel has no bpf_loop helper (needs Linux 5.17+)");
  else if (attach_cookie && !*attach_cookie) p.push_back("the kernel has no BPF attach cookies (needs Linux 5.15+)");
  return p;
}

}  // namespace gotrace
