// The CPU cgroup reader against recorded /proc and /sys files: cgroup v1
// (these machines), v2 (most production hosts), a hybrid host, and a quota
// set on a parent.
#include "gotrace/host/cpu_cgroup.h"

#include <catch2/catch.hpp>
#include <map>

using namespace gotrace;

namespace {

auto files(std::map<std::string, std::string> m) {
  return [m = std::move(m)](const std::string& path) -> std::optional<std::string> {
    auto it = m.find(path);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

// /proc/self/mountinfo of this project's VMs (v1 CPU controller, a unified
// hierarchy mounted for systemd only) and of a v2 host.
const char* kMountsV1 =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
const char* kMountsV2 =
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

}  // namespace

TEST_CASE("cgroup v1: the cpu controller's quota and throttling, the smallest quota up the tree",
          "[cgroup]") {
  const char* proc = "9:name=systemd:/\n4:memory:/x\n1:cpu:/svc/web\n0::/\n";
  auto read = files({
      {"/sys/fs/cgroup/cpu/svc/web/cpu.cfs_quota_us", "-1\n"},
      {"/sys/fs/cgroup/cpu/svc/web/cpu.cfs_period_us", "100000\n"},
      {"/sys/fs/cgroup/cpu/svc/cpu.cfs_quota_us", "50000\n"},
      {"/sys/fs/cgroup/cpu/svc/cpu.cfs_period_us", "100000\n"},
      {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n"},
      {"/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"},
  });
  std::string why;
  auto cg = resolve_cpu_cgroup(proc, kMountsV1, read, &why);
  INFO(why);
  REQUIRE(cg);
  CHECK(cg->version == 1);
  CHECK(cg->path == "/sys/fs/cgroup/cpu/svc/web");
  CHECK(cg->limit_path == "/sys/fs/cgroup/cpu/svc");
  REQUIRE(cg->quota_cpus);
  CHECK(*cg->quota_cpus == Approx(0.5));
  CpuStat s = parse_cpu_stat("nr_periods 120\nnr_throttled 30\nthrottled_time 4500000000\nnr_bursts 0\n");
  CHECK(s.nr_periods == 120);
  CHECK(s.nr_throttled == 30);
  CHECK(s.throttled_ns == 4'500'000'000ULL);
}

TEST_CASE("cgroup v2: cpu.max, and throttled_usec in ns", "[cgroup]") {
  const char* proc = "0::/kubepods.slice/kubepods-burstable.slice/pod1/cri-containerd-abc.scope\n";
  const std::string base = "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/pod1";
  auto read = files({
      {base + "/cri-containerd-abc.scope/cpu.max", "max 100000\n"},
      {base + "/cpu.max", "150000 100000\n"},
      {"/sys/fs/cgroup/kubepods.slice/cpu.max", "max 100000\n"},
  });
  auto cg = resolve_cpu_cgroup(proc, kMountsV2, read);
  REQUIRE(cg);
  CHECK(cg->version == 2);
  CHECK(cg->path == base + "/cri-containerd-abc.scope");
  CHECK(cg->limit_path == base);
  REQUIRE(cg->quota_cpus);
  CHECK(*cg->quota_cpus == Approx(1.5));
  CpuStat s = parse_cpu_stat(
      "usage_usec 99\nuser_usec 1\nsystem_usec 2\nnr_periods 10\nnr_throttled 4\n"
      "throttled_usec 2500\n");
  CHECK(s.nr_throttled == 4);
  CHECK(s.throttled_ns == 2'500'000);
}

TEST_CASE("cgroup: no quota, no controller, bad files", "[cgroup]") {
  auto none = resolve_cpu_cgroup("0::/a\n", kMountsV2, files({{"/sys/fs/cgroup/a/cpu.max", "max 100000\n"}}));
  REQUIRE(none);
  CHECK_FALSE(none->quota_cpus);
  CHECK(none->limit_path.empty());
  std::string why;
  CHECK_FALSE(resolve_cpu_cgroup("", kMountsV2, files({}), &why));
  CHECK(why.find("no cgroup") != std::string::npos);
  CHECK_FALSE(resolve_cpu_cgroup("1:cpu:/x\n", kMountsV2, files({}), &why));
  CHECK(why.find("v1 cpu controller is not mounted") != std::string::npos);
  CHECK_FALSE(parse_cpu_max("max"));
  CHECK_FALSE(parse_cpu_max("10 0"));
  CHECK_FALSE(parse_cpu_max("-5 100000"));
  CHECK(parse_cpu_max("max 100000")->first == -1);
  CHECK(parse_cpu_max("25000 50000\n")->first == 25000);
  CpuStat junk = parse_cpu_stat("nr_throttled x\nnr_periods\n\n");
  CHECK(junk.nr_throttled == 0);
}
