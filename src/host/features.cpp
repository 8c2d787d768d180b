#include "gotrace/host/features.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <elf.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>

#include "gotrace/host/trap_cost.h"
#include "gotrace/host/uprobe_multi.h"
#include "gotrace/util/child_call.h"
#include "gotrace/util/privilege.h"

namespace gotrace {

namespace {
constexpr int kCapSysPtrace = 19;
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool has_cap(const __user_cap_data_struct (&data)[2], int cap) {
  return data[cap / 32].effective & (1u << (cap % 32));
}

int silent_libbpf_print(enum libbpf_print_level, const char*, va_list) { return 0; }

// The file offset of this executable's entry point: an instruction boundary
// a uprobe can be created at (it is never hit: the event is closed at once).
std::optional<uint64_t> own_entry_offset() {
  std::ifstream f("/proc/self/exe", std::ios::binary);
  Elf64_Ehdr eh{};
  if (!f.read(reinterpret_cast<char*>(&eh), sizeof eh) || eh.e_ident[EI_CLASS] != ELFCLASS64)
    return std::nullopt;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    f.seekg(static_cast<std::streamoff>(eh.e_phoff + i * eh.e_phentsize));
    if (!f.read(reinterpret_cast<char*>(&ph), sizeof ph)) return std::nullopt;
    if (ph.p_type == PT_LOAD && eh.e_entry >= ph.p_vaddr && eh.e_entry < ph.p_vaddr + ph.p_filesz)
      return eh.e_entry - ph.p_vaddr + ph.p_offset;
  }
  return std::nullopt;
}

// Whether the kernel lets this process create a uprobe perf event (what
// every tracing command attaches through): errno, or 0 when it does.
int try_uprobe_event() {
  std::ifstream t("/sys/bus/event_source/devices/uprobe/type");
  int type = -1;
  auto offset = own_entry_offset();
  if (!(t >> type) || !offset) return ENOENT;
  static const char path[] = "/proc/self/exe";
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = static_cast<uint32_t>(type);
  attr.config1 = reinterpret_cast<uint64_t>(path);  // uprobe_path
  attr.config2 = *offset;                           // probe_offset
  int fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, getpid(), -1, -1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

// Whether a multi-uprobe link can be made: a trivial program loaded for it,
// linked at this executable's entry point (never hit: closed at once).
bool try_uprobe_multi() {
  auto offset = own_entry_offset();
  if (!offset) return false;
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts,
              .expected_attach_type = static_cast<bpf_attach_type>(kUprobeMultiAttachType));
  int prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "gt_probe_multi", "GPL", insns, 2, &opts);
  if (prog < 0) return false;
  const uint64_t offsets[] = {*offset};
  int link = create_uprobe_multi_link(prog, "/proc/self/exe", offsets, {}, getpid());
  close(prog);
  if (link < 0) return false;
  close(link);
  return true;
}

// The host self-test: what only creating uprobes and loading programs can
// tell. Run in a child process (util/child_call.h): on a loaded host one
// uprobe perf_event_open took 9 s and a close 2 s, none of which a Ctrl-C
// can cut short; gotrace itself only waits on a pipe, which it can.
struct SelfTest {
  int8_t uprobe_events = -1, ringbuf = -1, bpf_prog_load = -1, bpf_loop = -1, attach_cookie = -1,
         uprobe_multi = -1;  // -1: not known
  double trap_ns_per_hit = -1;
};
int8_t pack(const std::optional<bool>& v) { return v ? static_cast<int8_t>(*v) : int8_t{-1}; }
std::optional<bool> unpack(int8_t v) { return v < 0 ? std::nullopt : std::optional<bool>(v != 0); }

void run_self_test(HostFeatures& h, HostCheck check) {
  if (h.uprobes && check == HostCheck::Full) {
    int err = try_uprobe_event();
    h.uprobe_events = err == 0;
    if (err && err != EACCES && err != EPERM) h.uprobe_events.reset();  // could not tell
  }
  if (h.privileged()) {
    auto old = libbpf_set_print(silent_libbpf_print);
    h.ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
    h.bpf_prog_load = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, nullptr) == 1;
    // What the programs call: bpf_loop (stack walks, chain scans; Linux
    // 5.17) and bpf_get_attach_cookie (which site fired; Linux 5.15).
    h.bpf_loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, nullptr) == 1;
    h.attach_cookie = libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie, nullptr) == 1;
    if (check == HostCheck::Full) {
      h.uprobe_multi = try_uprobe_multi();
      if (auto t = measure_trap_cost()) h.trap_ns_per_hit = t->ns_per_hit;
    }
    libbpf_set_print(old);
  }
}
}  // namespace

HostFeatures probe_host(HostCheck check) {
  HostFeatures h;
  struct utsname u {};
  if (uname(&u) == 0) h.kernel_release = u.release;
  h.root = geteuid() == 0;

  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) == 0) {
    h.cap_sys_admin = has_cap(data, kCapSysAdmin);
    h.cap_sys_ptrace = has_cap(data, kCapSysPtrace);
    h.cap_perfmon = has_cap(data, kCapPerfmon);
    h.cap_bpf = has_cap(data, kCapBpf);
  }

  namespace fs = std::filesystem;
  std::error_code ec;
  h.btf = fs::exists("/sys/kernel/btf/vmlinux", ec);
  h.uprobes = fs::exists("/sys/bus/event_source/devices/uprobe/type", ec);
  h.kprobes = fs::exists("/sys/bus/event_source/devices/kprobe/type", ec);

  if (check == HostCheck::NoUprobes) {  // (no uprobe: quick, in this process)
    run_self_test(h, check);
    return h;
  }
  auto t = call_in_child<SelfTest>([&] {
    HostFeatures c = h;
    run_self_test(c, check);
    return SelfTest{
        pack(c.uprobe_events), pack(c.ringbuf),      pack(c.bpf_prog_load),         pack(c.bpf_loop),
        pack(c.attach_cookie), pack(c.uprobe_multi), c.trap_ns_per_hit.value_or(-1)};
  });
  if (!t) {  // no child: here then
    run_self_test(h, check);
    return h;
  }
  h.uprobe_events = unpack(t->uprobe_events);
  h.ringbuf = unpack(t->ringbuf);
  h.bpf_prog_load = unpack(t->bpf_prog_load);
  h.bpf_loop = unpack(t->bpf_loop);
  h.attach_cookie = unpack(t->attach_cookie);
  h.uprobe_multi = unpack(t->uprobe_multi);
  if (t->trap_ns_per_hit >= 0) h.trap_ns_per_hit = t->trap_ns_per_hit;
  return h;
}

std::vector<std::string> HostFeatures::problems() const {
  std::vector<std::string> p;
#if !defined(__x86_64__)
  // The BPF programs read Go's amd64 register ABI (cmake/bpf.cmake).
  p.push_back(
      "tracing needs an x86-64 host (the BPF programs read Go's amd64 register ABI); "
      "`gotrace info` analyses arm64 binaries on any host");
#endif
  if (!privileged()) p.push_back(bpf_privilege_problem(cap_sys_admin, cap_bpf, cap_perfmon, uprobe_events));
  if (!uprobes) p.push_back("the kernel has no uprobe support (CONFIG_UPROBE_EVENTS)");
  if (!btf) p.push_back("the kernel exposes no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)");
  if (ringbuf && !*ringbuf) p.push_back("the kernel has no BPF ring buffer (needs Linux 5.8+)");
  if (bpf_prog_load && !*bpf_prog_load)
    p.push_back("BPF programs cannot be loaded here (check kernel.unprivileged_bpf_disabled, lockdown)");
  else if (bpf_loop && !*bpf_loop)
    p.push_back("the kernel has no bpf_loop helper (needs Linux 5.17+)");
  else if (attach_cookie && !*attach_cookie)
    p.push_back("the kernel has no BPF attach cookies (needs Linux 5.15+)");
  return p;
}

}  // namespace gotrace
