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
  bool cap_sys_ptrace = false;        // read a target that holds capabilities gotrace lacks
  bool btf = false;                   // /sys/kernel/btf/vmlinux
  bool uprobes = false;               // the uprobe PMU (/sys/bus/event_source/devices/uprobe)
  std::optional<bool> ringbuf;        // BPF_MAP_TYPE_RINGBUF; nullopt: could not probe (no privileges)
  std::optional<bool> bpf_prog_load;  // a trivial program loads
  std::optional<bool> bpf_loop;       // the bpf_loop helper (5.17+)
  std::optional<bool> attach_cookie;  // bpf_get_attach_cookie for uprobes (5.15+)
  bool kprobes = false;               // informational: gotrace never needs them
  // Multi-uprobe links (6.6+): probes come off together, fast (uprobe_multi.h).
  std::optional<bool> uprobe_multi;
  // What one probe hit costs here: a trap at an emulated instruction plus an
  // empty program, measured on gotrace itself (host/trap_cost.h), in ns.
  std::optional<double> trap_ns_per_hit;

  // A uprobe perf event could be created on gotrace itself (nullopt: could
  // not tell). CAP_BPF + CAP_PERFMON are documented as enough for uprobes,
  // but the kernel this was measured on (6.18) refuses them without
  // CAP_SYS_ADMIN, so the kernel is asked, not the documentation.
  std::optional<bool> uprobe_events;
  bool privileged() const {
    return uprobe_events ? *uprobe_events && (cap_sys_admin || (cap_bpf && cap_perfmon))
                         : cap_sys_admin || (cap_bpf && cap_perfmon);
  }
  // Why tracing cannot work here (empty when it can).
  std::vector<std::string> problems() const;
};

// Full: everything, with the uprobe self-test (a uprobe on gotrace itself,
// multi-uprobe links, the trap cost), in a child process (features.cpp).
// NoUprobes: what needs no uprobe, for a static analysis (`info --binary`):
// uprobe_events, uprobe_multi and trap_ns_per_hit stay unknown.
enum class HostCheck { Full, NoUprobes };

// Probes the running kernel; no side effects beyond loading and unloading
// trivial BPF programs, a map and (Full) uprobes on gotrace when privileged.
HostFeatures probe_host(HostCheck check = HostCheck::Full);

}  // namespace gotrace
