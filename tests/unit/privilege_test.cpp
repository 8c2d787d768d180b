// Privilege messages state the real reason: what gotrace holds, what the
// target is (its users and capabilities), and what is enough to trace.
#include "gotrace/util/privilege.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "gotrace/host/features.h"

using namespace gotrace;

TEST_CASE("without BPF rights gotrace asks for what is enough, CAP_SYS_ADMIN, not three capabilities",
          "[privilege]") {
  HostFeatures h;
  h.uprobes = true;
  h.btf = true;
  h.uprobe_events = false;  // the kernel refused a uprobe
  REQUIRE(!h.privileged());
  auto p = h.problems();
  REQUIRE(!p.empty());
  INFO(p.front());
  CHECK(p.front().find("CAP_SYS_ADMIN") != std::string::npos);
  CHECK(p.front().find("CAP_BPF") == std::string::npos);  // not asked for: CAP_SYS_ADMIN alone works
  CHECK(p.front().find("CAP_PERFMON") == std::string::npos);

  // Holding CAP_SYS_ADMIN and still refused: not a missing capability.
  h.cap_sys_admin = true;
  REQUIRE(!h.privileged());
  p = h.problems();
  REQUIRE(!p.empty());
  INFO(p.front());
  CHECK(p.front().find("needs") == std::string::npos);
  CHECK(p.front().find("holds CAP_SYS_ADMIN") != std::string::npos);
}

TEST_CASE("a refused ptrace-mode access is explained by what gotrace and the target really are",
          "[privilege]") {
  ProcCredentials root;  // uid 0, every capability
  root.cap_prm = root.cap_eff = (uint64_t{1} << 41) - 1;
  ProcCredentials root_no_ptrace = root;
  root_no_ptrace.cap_prm &= ~(uint64_t{1} << 19);
  root_no_ptrace.cap_eff &= ~(uint64_t{1} << 19);
  ProcCredentials nobody;
  for (auto& u : nobody.uid) u = 65534;
  for (auto& g : nobody.gid) g = 65534;

  // Root holding CAP_SYS_PTRACE, refused on PID 1: not told to get it.
  std::string m = ptrace_refusal_reason(1, root, root, -1, false);
  INFO(m);
  CHECK(m.find("holds CAP_SYS_PTRACE") != std::string::npos);
  CHECK(m.find("needs CAP_SYS_PTRACE") == std::string::npos);
  // Another user's process holding nothing: said to be another user's, not
  // to hold capabilities.
  m = ptrace_refusal_reason(42, root_no_ptrace, nobody, -1, false);
  INFO(m);
  CHECK(m.find("uid 65534") != std::string::npos);
  CHECK(m.find("without CAP_SYS_PTRACE") != std::string::npos);
  CHECK(m.find("run as root") == std::string::npos);  // it is root already
  CHECK(m.find("holds capabilities") == std::string::npos);
  // A user that is not root, on root's process: told the remedy.
  m = ptrace_refusal_reason(41, nobody, root, -1, false);
  INFO(m);
  CHECK(m.find("runs as uid 0") != std::string::npos);
  CHECK(m.find("(run as root)") != std::string::npos);
  // The same user's process that does hold more: named.
  ProcCredentials capable = nobody;
  capable.cap_prm = capable.cap_eff = uint64_t{1} << 12;  // CAP_NET_ADMIN
  m = ptrace_refusal_reason(43, nobody, capable, -1, false);
  INFO(m);
  CHECK(m.find("holds capabilities gotrace lacks (CAP_NET_ADMIN)") != std::string::npos);
  // Same user, nothing extra, Yama 1, reading memory: Yama is the reason.
  m = ptrace_refusal_reason(44, nobody, nobody, 1, true);
  INFO(m);
  CHECK(m.find("ptrace_scope is 1") != std::string::npos);

  // The parser reads the real file.
  auto self = read_proc_credentials("/proc/self/status");
  REQUIRE(self);
  CHECK(self->uid[1] == geteuid());
}
