#include "gotrace/util/privilege.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace gotrace {

namespace {

constexpr int kCapSysPtrace = 19;

constexpr const char* kCapNames[] = {"CAP_CHOWN",
                                     "CAP_DAC_OVERRIDE",
                                     "CAP_DAC_READ_SEARCH",
                                     "CAP_FOWNER",
                                     "CAP_FSETID",
                                     "CAP_KILL",
                                     "CAP_SETGID",
                                     "CAP_SETUID",
                                     "CAP_SETPCAP",
                                     "CAP_LINUX_IMMUTABLE",
                                     "CAP_NET_BIND_SERVICE",
                                     "CAP_NET_BROADCAST",
                                     "CAP_NET_ADMIN",
                                     "CAP_NET_RAW",
                                     "CAP_IPC_LOCK",
                                     "CAP_IPC_OWNER",
                                     "CAP_SYS_MODULE",
                                     "CAP_SYS_RAWIO",
                                     "CAP_SYS_CHROOT",
                                     "CAP_SYS_PTRACE",
                                     "CAP_SYS_PACCT",
                                     "CAP_SYS_ADMIN",
                                     "CAP_SYS_BOOT",
                                     "CAP_SYS_NICE",
                                     "CAP_SYS_RESOURCE",
                                     "CAP_SYS_TIME",
                                     "CAP_SYS_TTY_CONFIG",
                                     "CAP_MKNOD",
                                     "CAP_LEASE",
                                     "CAP_AUDIT_WRITE",
                                     "CAP_AUDIT_CONTROL",
                                     "CAP_SETFCAP",
                                     "CAP_MAC_OVERRIDE",
                                     "CAP_MAC_ADMIN",
                                     "CAP_SYSLOG",
                                     "CAP_WAKE_ALARM",
                                     "CAP_BLOCK_SUSPEND",
                                     "CAP_AUDIT_READ",
                                     "CAP_PERFMON",
                                     "CAP_BPF",
                                     "CAP_CHECKPOINT_RESTORE"};

bool same_user(const ProcCredentials& self, const ProcCredentials& t) {
  // The kernel compares gotrace's filesystem IDs with the target's real,
  // effective and saved ones (__ptrace_may_access).
  for (int i = 0; i < 3; ++i)
    if (self.uid[3] != t.uid[i] || self.gid[3] != t.gid[i]) return false;
  return true;
}

int read_yama_scope() {
  std::ifstream in("/proc/sys/kernel/yama/ptrace_scope");
  int v = -1;
  if (in) in >> v;
  return in ? v : -1;
}

}  // namespace

std::optional<ProcCredentials> parse_proc_status(const std::string& text) {
  ProcCredentials c;
  bool uid = false, gid = false, prm = false, eff = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string key;
    l >> key;
    if (key == "Uid:") {
      uid = static_cast<bool>(l >> c.uid[0] >> c.uid[1] >> c.uid[2] >> c.uid[3]);
    } else if (key == "Gid:") {
      gid = static_cast<bool>(l >> c.gid[0] >> c.gid[1] >> c.gid[2] >> c.gid[3]);
    } else if (key == "CapPrm:") {
      prm = static_cast<bool>(l >> std::hex >> c.cap_prm);
    } else if (key == "CapEff:") {
      eff = static_cast<bool>(l >> std::hex >> c.cap_eff);
    }
  }
  if (!uid || !gid || !prm || !eff) return std::nullopt;
  return c;
}

std::optional<ProcCredentials> read_proc_credentials(const std::string& status_path) {
  std::ifstream in(status_path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return parse_proc_status(text.str());
}

std::string capability_names(uint64_t mask) {
  std::string out;
  for (int bit = 0; bit < 64; ++bit) {
    if (!((mask >> bit) & 1)) continue;
    if (!out.empty()) out += ", ";
    out += bit < static_cast<int>(std::size(kCapNames)) ? std::string(kCapNames[bit])
                                                        : fmt::format("CAP_{}", bit);
  }
  return out;
}

std::string ptrace_refusal_reason(pid_t pid, const ProcCredentials& self,
                                  const std::optional<ProcCredentials>& target, int yama_scope, bool attach) {
  if (self.has(kCapSysPtrace)) {
    // Not a missing capability: something beyond them refused.
    if (attach && yama_scope == 3)
      return "gotrace holds CAP_SYS_PTRACE, but kernel.yama.ptrace_scope is 3: no process may read another's "
             "memory";
    return "gotrace holds CAP_SYS_PTRACE, so a security module (AppArmor, SELinux, Landlock) or a user "
           "namespace in which gotrace holds no rights over the target refused it";
  }
  // Not root: the remedy users reach for first, said last.
  const std::string remedy = self.uid[1] == 0 ? "" : " (run as root)";
  const std::string who = self.uid[1] == 0
                              ? "gotrace runs as root but without CAP_SYS_PTRACE (dropped from its "
                                "capability set)"
                              : fmt::format("gotrace runs as uid {} without CAP_SYS_PTRACE", self.uid[1]);
  if (!target) return fmt::format("{}, and PID {}'s own status cannot be read; run as root", who, pid);
  if (!same_user(self, *target)) {
    if (target->uid[0] != self.uid[3] || target->uid[1] != self.uid[3] || target->uid[2] != self.uid[3])
      return fmt::format("PID {} runs as uid {} and {}: another user's process needs CAP_SYS_PTRACE{}", pid,
                         target->uid[1], who, remedy);
    return fmt::format("PID {} runs with group {} and {}: a process of other groups needs CAP_SYS_PTRACE{}",
                       pid, target->gid[1], who, remedy);
  }
  if (uint64_t extra = target->cap_prm & ~self.cap_prm)
    return fmt::format("PID {} holds capabilities gotrace lacks ({}), and {}: that needs CAP_SYS_PTRACE{}",
                       pid, capability_names(extra), who, remedy);
  if (attach && yama_scope >= 1)
    return fmt::format("kernel.yama.ptrace_scope is {} and {}: {}", yama_scope, who,
                       yama_scope == 1 ? "only a parent may read its child's memory without CAP_SYS_PTRACE"
                                       : "only CAP_SYS_PTRACE may read another process's memory");
  return fmt::format(
      "PID {} is the same user's but not dumpable (a setuid or file-capability program, or it called "
      "prctl(PR_SET_DUMPABLE, 0)), and {}: that needs CAP_SYS_PTRACE",
      pid, who);
}

std::string ptrace_refusal_reason(pid_t pid, bool attach) {
  auto self = read_proc_credentials("/proc/self/status");
  if (!self) return "needs CAP_SYS_PTRACE over it (gotrace's own status cannot be read)";
  return ptrace_refusal_reason(pid, *self, read_proc_credentials(fmt::format("/proc/{}/status", pid)),
                               read_yama_scope(), attach);
}

std::string bpf_privilege_problem(bool cap_sys_admin, bool cap_bpf, bool cap_perfmon,
                                  std::optional<bool> uprobe_events) {
  if (cap_sys_admin)
    return "gotrace holds CAP_SYS_ADMIN but the kernel refused a uprobe: check lockdown and security "
           "module policy";
  if (uprobe_events && !*uprobe_events) {
    if (cap_bpf && cap_perfmon)
      return "needs CAP_SYS_ADMIN: this kernel refuses uprobe perf events with CAP_BPF and CAP_PERFMON alone";
    return "needs CAP_SYS_ADMIN (run as root)";
  }
  // The kernel could not be asked: either way is enough where the kernel
  // takes uprobes with the narrower pair.
  return "needs CAP_SYS_ADMIN (run as root), or both CAP_BPF and CAP_PERFMON on kernels that allow uprobes "
         "with them";
}

}  // namespace gotrace
