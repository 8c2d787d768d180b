// The CPU controller of a process's cgroup: its quota (CFS bandwidth) and how
// often it throttled, on cgroup v1 (cpu.cfs_quota_us, cpu.cfs_period_us,
// cpu.stat throttled_time in ns) and v2 (cpu.max, cpu.stat throttled_usec).
// The quota that binds is the smallest along the path up to the mount's
// root; its cgroup is the one whose throttling counts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gotrace {

struct CpuStat {
  uint64_t nr_periods = 0;
  uint64_t nr_throttled = 0;
  uint64_t throttled_ns = 0;
};

struct CpuCgroup {
  int version = 0;                   // 1 or 2
  std::string path;                  // the process's cgroup directory
  std::string limit_path;            // the directory whose quota binds ("" when none does)
  std::optional<double> quota_cpus;  // quota / period of limit_path (nullopt: no quota)
  int64_t quota_us = -1;
  uint64_t period_us = 0;
};

// One line of /proc/PID/cgroup: "hierarchy-ID:controller-list:path".
struct ProcCgroupLine {
  int hierarchy = 0;
  std::string controllers;  // "cpu,cpuacct" (v1), "" (v2)
  std::string path;
};
std::vector<ProcCgroupLine> parse_proc_cgroup(std::string_view text);

// A cgroup mount from /proc/self/mountinfo: where, which version, and for
// v1 its controllers (from the super options).
struct CgroupMount {
  std::string mount_point;
  std::string root;  // the cgroup path mounted there ("/" usually)
  int version = 0;
  std::vector<std::string> controllers;
};
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

// cpu.max: "max 100000" or "50000 100000" -> (quota_us or -1, period_us).
std::optional<std::pair<int64_t, uint64_t>> parse_cpu_max(std::string_view text);
// cpu.stat of either version.
CpuStat parse_cpu_stat(std::string_view text);

// The process's CPU cgroup, read from /proc; nullopt (with why) when it has
// none gotrace can read.
std::optional<CpuCgroup> find_cpu_cgroup(pid_t pid, std::string* why = nullptr);
// The same from the texts and a file reader (for tests): proc_cgroup and
// mountinfo as read, read(path) a file's contents or nullopt.
std::optional<CpuCgroup> resolve_cpu_cgroup(
    std::string_view proc_cgroup, std::string_view mountinfo,
    const std::function<std::optional<std::string>(const std::string&)>& read, std::string* why = nullptr);
// cpu.stat of the cgroup whose quota binds (else of the process's own).
std::optional<CpuStat> read_cpu_stat(const CpuCgroup& cg);

}  // namespace gotrace
