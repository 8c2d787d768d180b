// The CPU controller of a process's cgroup (cpu_cgroup.h).
#include "gotrace/host/cpu_cgroup.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace gotrace {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

std::optional<uint64_t> to_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A view into s: what split returns of it stays valid with s.
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// The parent of a cgroup path ("/a/b" -> "/a"; "/" has none).
std::optional<std::string> parent_of(const std::string& p) {
  if (p.empty() || p == "/") return std::nullopt;
  size_t at = p.find_last_of('/');
  if (at == 0 || at == std::string::npos) return std::string("/");
  return p.substr(0, at);
}

}  // namespace

std::vector<ProcCgroupLine> parse_proc_cgroup(std::string_view text) {
  std::vector<ProcCgroupLine> out;
  for (std::string_view line : split(text, '\n')) {
    if (line.empty()) continue;
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    ProcCgroupLine l;
    auto h = to_u64(line.substr(0, a));
    if (!h) continue;
    l.hierarchy = static_cast<int>(*h);
    l.controllers = std::string(line.substr(a + 1, b - a - 1));
    l.path = std::string(line.substr(b + 1));
    out.push_back(std::move(l));
  }
  return out;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  // "36 35 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:1 - cgroup cgroup rw,cpu,cpuacct"
  std::vector<CgroupMount> out;
  for (std::string_view line : split(mountinfo, '\n')) {
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    auto pre = split(line.substr(0, dash), ' ');
    auto post = split(line.substr(dash + 3), ' ');
    if (pre.size() < 5 || post.size() < 3) continue;
    CgroupMount m;
    if (post[0] == "cgroup2")
      m.version = 2;
    else if (post[0] == "cgroup")
      m.version = 1;
    else
      continue;
    m.root = std::string(pre[3]);
    m.mount_point = std::string(pre[4]);
    if (m.version == 1)
      for (std::string_view opt : split(post[2], ',')) m.controllers.emplace_back(opt);
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<std::pair<int64_t, uint64_t>> parse_cpu_max(std::string_view text) {
  auto parts = split(trim(text), ' ');
  if (parts.size() != 2) return std::nullopt;
  auto period = to_u64(parts[1]);
  if (!period || *period == 0) return std::nullopt;
  if (parts[0] == "max") return std::pair<int64_t, uint64_t>{-1, *period};
  auto quota = to_u64(parts[0]);
  if (!quota) return std::nullopt;
  return std::pair<int64_t, uint64_t>{static_cast<int64_t>(*quota), *period};
}

CpuStat parse_cpu_stat(std::string_view text) {
  CpuStat s;
  for (std::string_view line : split(text, '\n')) {
    auto kv = split(trim(line), ' ');
    if (kv.size() != 2) continue;
    auto v = to_u64(kv[1]);
    if (!v) continue;
    if (kv[0] == "nr_periods") s.nr_periods = *v;
    if (kv[0] == "nr_throttled") s.nr_throttled = *v;
    if (kv[0] == "throttled_time") s.throttled_ns = *v;         // v1: ns
    if (kv[0] == "throttled_usec") s.throttled_ns = *v * 1000;  // v2: µs
  }
  return s;
}

std::optional<CpuCgroup> resolve_cpu_cgroup(
    std::string_view proc_cgroup, std::string_view mountinfo,
    const std::function<std::optional<std::string>(const std::string&)>& read, std::string* why) {
  auto fail = [why](std::string reason) -> std::optional<CpuCgroup> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  auto lines = parse_proc_cgroup(proc_cgroup);
  auto mounts = parse_cgroup_mounts(mountinfo);
  // v1's cpu controller first (where both exist, as on hybrid hosts, it is
  // the one that holds the controller); else the unified hierarchy.
  const ProcCgroupLine* v1 = nullptr;
  const ProcCgroupLine* v2 = nullptr;
  for (const auto& l : lines) {
    if (l.hierarchy == 0 && l.controllers.empty()) v2 = &l;
    for (std::string_view c : split(l.controllers, ','))
      if (c == "cpu") v1 = &l;
  }
  const CgroupMount* mount = nullptr;
  CpuCgroup cg;
  std::string rel;
  if (v1) {
    for (const auto& m : mounts)
      if (m.version == 1)
        for (const auto& c : m.controllers)
          if (c == "cpu") mount = &m;
    if (!mount) return fail("its cgroup v1 cpu controller is not mounted here");
    cg.version = 1;
    rel = v1->path;
  } else if (v2) {
    for (const auto& m : mounts)
      if (m.version == 2) mount = &m;
    if (!mount) return fail("the cgroup v2 hierarchy is not mounted here");
    cg.version = 2;
    rel = v2->path;
  } else {
    return fail("it is in no cgroup with a CPU controller");
  }
  // The path as seen from the mount's root.
  if (mount->root != "/" && rel.starts_with(mount->root)) rel = rel.substr(mount->root.size());
  if (rel.empty()) rel = "/";
  auto dir_of = [&](const std::string& r) { return mount->mount_point + (r == "/" ? "" : r); };
  cg.path = dir_of(rel);
  // The smallest quota up the tree.
  std::optional<std::string> at = rel;
  while (at) {
    const std::string dir = dir_of(*at);
    std::optional<std::pair<int64_t, uint64_t>> q;
    if (cg.version == 2) {
      if (auto t = read(dir + "/cpu.max")) q = parse_cpu_max(*t);
    } else {
      auto quota = read(dir + "/cpu.cfs_quota_us");
      auto period = read(dir + "/cpu.cfs_period_us");
      if (quota && period) {
        std::string_view qs = trim(*quota);
        auto p = to_u64(trim(*period));
        if (p && *p) {
          if (qs == "-1")
            q = std::pair<int64_t, uint64_t>{-1, *p};
          else if (auto qv = to_u64(qs))
            q = std::pair<int64_t, uint64_t>{static_cast<int64_t>(*qv), *p};
        }
      }
    }
    if (q && q->first > 0) {
      double cpus = static_cast<double>(q->first) / static_cast<double>(q->second);
      if (!cg.quota_cpus || cpus < *cg.quota_cpus) {
        cg.quota_cpus = cpus;
        cg.quota_us = q->first;
        cg.period_us = q->second;
        cg.limit_path = dir;
      }
    }
    at = parent_of(*at);
  }
  return cg;
}

std::optional<CpuCgroup> find_cpu_cgroup(pid_t pid, std::string* why) {
  auto proc = read_text(fmt::format("/proc/{}/cgroup", pid));
  if (!proc) {
    if (why) *why = fmt::format("/proc/{}/cgroup cannot be read", pid);
    return std::nullopt;
  }
  auto mountinfo = read_text("/proc/self/mountinfo");
  if (!mountinfo) {
    if (why) *why = "/proc/self/mountinfo cannot be read";
    return std::nullopt;
  }
  return resolve_cpu_cgroup(*proc, *mountinfo, read_text, why);
}

std::optional<CpuStat> read_cpu_stat(const CpuCgroup& cg) {
  auto t = read_text((cg.limit_path.empty() ? cg.path : cg.limit_path) + "/cpu.stat");
  if (!t) return std::nullopt;
  return parse_cpu_stat(*t);
}

}  // namespace gotrace
