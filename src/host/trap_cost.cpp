#include "gotrace/host/trap_cost.h"

#include <bpf/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#if defined(__x86_64__)
// A function whose first instruction is a short JMP, one the kernel emulates
// (no single-step), as at the sites gotrace plans in Go code.
extern "C" void gotrace_calibration_site();
asm(R"(
  .text
  .globl gotrace_calibration_site
  .type gotrace_calibration_site, @function
gotrace_calibration_site:
  jmp 1f
1:
  ret
  .size gotrace_calibration_site, .-gotrace_calibration_site
)");
#endif

namespace gotrace {

namespace {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// The offset in /proc/self/exe of an address of this process's code.
std::optional<uint64_t> own_file_offset(uint64_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long start = 0, end = 0, off = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx", &start, &end, perms, &off) != 4) continue;
    if (addr >= start && addr < end && perms[2] == 'x') return addr - start + off;
  }
  return std::nullopt;
}

uint64_t time_calls(uint32_t n) {
  uint64_t t0 = now_ns();
  for (uint32_t i = 0; i < n; ++i) {
#if defined(__x86_64__)
    gotrace_calibration_site();
#endif
    asm volatile("" ::: "memory");
  }
  return now_ns() - t0;
}

}  // namespace

Result<TrapCost> measure_trap_cost() {
#if !defined(__x86_64__)
  return make_error("trap cost: measured on amd64 only");
#else
  auto offset = own_file_offset(reinterpret_cast<uint64_t>(&gotrace_calibration_site));
  if (!offset) return make_error("trap cost: gotrace's own code is not in /proc/self/maps");
  std::ifstream t("/sys/bus/event_source/devices/uprobe/type");
  int type = -1;
  if (!(t >> type)) return make_error("trap cost: no uprobe PMU");

  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  int prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "gt_trap_cost", "GPL", insns, 2, nullptr);
  if (prog < 0) return make_error("trap cost: loading an empty program: {}", std::strerror(errno));
  const uint32_t n = 3000;
  time_calls(200);  // warm
  uint64_t plain = time_calls(n);
  plain = std::min(plain, time_calls(n));
  static const char path[] = "/proc/self/exe";
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = static_cast<uint32_t>(type);
  attr.config1 = reinterpret_cast<uint64_t>(path);
  attr.config2 = *offset;
  attr.disabled = 1;  // hits only once the program is on
  int ev = static_cast<int>(syscall(SYS_perf_event_open, &attr, getpid(), -1, -1, PERF_FLAG_FD_CLOEXEC));
  if (ev < 0) {
    int err = errno;
    close(prog);
    return make_error("trap cost: a uprobe on gotrace itself: {}", std::strerror(err));
  }
  bool ok = ioctl(ev, PERF_EVENT_IOC_SET_BPF, prog) == 0 && ioctl(ev, PERF_EVENT_IOC_ENABLE, 0) == 0;
  uint64_t probed = 0;
  if (ok) {
    time_calls(200);
    // The least of three rounds: what a hit costs, not what a preemption does.
    probed = time_calls(n);
    probed = std::min(probed, time_calls(n));
    probed = std::min(probed, time_calls(n));
  }
  int err = errno;
  close(ev);
  close(prog);
  if (!ok) return make_error("trap cost: enabling the probe: {}", std::strerror(err));
  TrapCost c;
  c.calls = n;
  c.ns_per_hit = probed > plain ? static_cast<double>(probed - plain) / n : 0;
  return c;
#endif
}

}  // namespace gotrace
