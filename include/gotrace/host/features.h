// What this host's kernel and our privileges allow, probed once: root and
// capabilities, BTF, uprobes, BPF ring buffers, and the helpers the programs
// call (bpf_loop, attach cookies). `gotrace info` prints it and
// every tracing command checks it before loading anything.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gotrace {

struct HostFeatures {
  std::string kernel_release;
  bool root = false;
  bool cap_bpf = false;
  bool cap_perfmon = false;
  bool cap_sys_admin = false;
  bool btf = false;      // /sys/kernel/btf/vmlinux
  bool uprobes = false;  // the uprobe PMU (/sys/bus/event_source/devices/uprobe)
  std::optional<bool> ringbuf;  // BPF_MAP_TYPE_RINGBUF; nullopt: could not probe (no privileges)
  std::optional<bool> bpf_prog_load;  // a trivial program loads
  std::optional<bool> bpf_loop;       // the bpf_loop helper (5.17+)
  std::optional<bool> attach_cookie;  // bpf_get_attach_cookie for uprobes (5.15+)
  bool kprobes = false;  // informational: gotrace never needs them

  bool privileged() const { return cap_sys_admin || (cap_bpf && cap_perfmon); }
  // Why tracing cannot work here (empty when it can).
  std::vector<std::string> problems() const;
};

// Probes the running kernel; cheap, no side effects beyond loading and
// unloading a trivial BPF program and map when privileged.
HostFeatures probe_host();

}  // namespace gotrace
