// Why the kernel refused: the wording of every message about rights, from
// what gotrace really holds (/proc/self/status) and what the target is
// (/proc/PID/status), so that a message never asks for a capability gotrace
// holds or says the target holds capabilities it does not.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace gotrace {

// Users, groups and capabilities of a process, from /proc/PID/status.
struct ProcCredentials {
  uint32_t uid[4] = {};  // real, effective, saved, filesystem
  uint32_t gid[4] = {};
  uint64_t cap_prm = 0;
  uint64_t cap_eff = 0;
  bool has(int cap) const { return (cap_eff >> cap) & 1; }  // in effect (linux/capability.h numbers)
};
// Parses the text of a /proc/PID/status file (nullopt without Uid/Gid/Cap lines).
std::optional<ProcCredentials> parse_proc_status(const std::string& text);
std::optional<ProcCredentials> read_proc_credentials(const std::string& status_path);

// "CAP_SYS_ADMIN, CAP_NET_RAW" (CAP_<n> for unnamed bits).
std::string capability_names(uint64_t mask);

// Why gotrace, as self, was refused access to process pid's executable
// (attach false: /proc/PID/exe, a read-mode check) or memory (attach true:
// process_vm_readv, an attach-mode check), as one clause for a message. The
// kernel lets a process in when it is the same user (fs uid and gid equal
// to the target's real, effective and saved ones) or holds CAP_SYS_PTRACE,
// the target holds no capability gotrace lacks, the target is dumpable, and
// Yama (ptrace_scope, for attach mode) and other security modules agree.
// yama_scope: -1 when there is no Yama. target: nullopt when unreadable.
std::string ptrace_refusal_reason(pid_t pid, const ProcCredentials& self,
                                  const std::optional<ProcCredentials>& target, int yama_scope, bool attach);
// The same, read from /proc/self/status, /proc/PID/status and Yama's sysctl.
std::string ptrace_refusal_reason(pid_t pid, bool attach);

// What is missing for BPF uprobes, as one clause, when the host check found
// they cannot be used: CAP_SYS_ADMIN is enough; CAP_BPF with CAP_PERFMON is
// enough only on kernels that take uprobe perf events with them
// (uprobe_events: the kernel was asked; nullopt: could not tell).
std::string bpf_privilege_problem(bool cap_sys_admin, bool cap_bpf, bool cap_perfmon,
                                  std::optional<bool> uprobe_events);

}  // namespace gotrace
