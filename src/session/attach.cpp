// The one attacher of every command (attach.h).
#include "gotrace/session/attach.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "gotrace/bpf/common_types.h"

namespace gotrace {

namespace {

// One probe the table wants: where, with which cookie.
struct PlannedProbe {
  const ProbeSpec* spec;
  bpf_program* prog;
  uint64_t offset;
  uint64_t cookie;
  std::string what;
};

// After one probe's attach: attached, or, when it failed, an error if the
// probe is required and a note if not.
Result<void> keep_or_note(const PlannedProbe& p, const Result<void>& r, TraceContext& tc,
                          std::vector<ProbeRole>& attached) {
  if (r) {
    attached.push_back(p.spec->role);
    return {};
  }
  if (p.spec->required) return r.error();
  tc.notes.push_back(r.error().message);
  return {};
}

// With multi-uprobe links: one link per program for all its sites; a link
// that fails is retried site by site, so that one optional site failing
// does not take the others with it.
Result<std::vector<ProbeRole>> attach_multi(const std::vector<PlannedProbe>& planned, TraceContext& tc,
                                            pid_t pid, LinkSet& links) {
  std::vector<ProbeRole> attached;
  std::vector<bool> done(planned.size());
  for (size_t i = 0; i < planned.size(); ++i) {
    if (done[i]) continue;
    std::vector<size_t> group;
    std::vector<uint64_t> offsets, cookies;
    std::string what;
    for (size_t j = i; j < planned.size(); ++j)
      if (!done[j] && planned[j].prog == planned[i].prog) {
        group.push_back(j);
        offsets.push_back(planned[j].offset);
        cookies.push_back(planned[j].cookie);
        what += (what.empty() ? "" : ", ") + planned[j].what;
        done[j] = true;
      }
    if (attach_uprobe_multi(planned[i].prog, pid, tc.process.exe_fd(), offsets, cookies, what, links)) {
      for (size_t j : group) attached.push_back(planned[j].spec->role);
      continue;
    }
    for (size_t j : group) {
      const PlannedProbe& p = planned[j];
      auto r = attach_uprobe_multi(p.prog, pid, tc.process.exe_fd(), {p.offset}, {p.cookie}, p.what, links);
      if (auto k = keep_or_note(p, r, tc, attached); !k) return k.error();
    }
  }
  return attached;
}

// For tests only: GOTRACE_TEST_DELAY_ATTACH_MS=N waits N ms between the
// identity check and the attach, after saying so on stderr, so that a test
// can make the target exec in exactly that gap.
void test_delay_before_attach() {
  static const char* env = std::getenv("GOTRACE_TEST_DELAY_ATTACH_MS");
  if (!env || !*env) return;
  const long ms = std::strtol(env, nullptr, 10);
  fmt::print(stderr, "gotrace: test: attaching in {} ms\n", ms);
  std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

uint64_t site_check(const PlannedSite& s) {
  if (!s.code.stack_check) return 0;
  return (s.code.stack_check->frame_adjust + 1) |
         (s.code.stack_check->underflow_site ? GT_CHECK_UNDERFLOW : 0);
}

Result<std::vector<ProbeRole>> attach_probe_table(const ProbeTable& table, bpf_object* obj, TraceContext& tc,
                                                  uint32_t options, bool multi, LinkSet& links) {
  const pid_t pid = tc.process.pid();
  std::vector<ProbeRole> attached;
  std::vector<PlannedProbe> planned;
  // Still the program analysed? (The probes go on the pinned file anyway,
  // so an exec after this check costs the new program nothing.)
  if (auto same = tc.process.check_same(); !same) return same.error();
  test_delay_before_attach();
  const int minor = tc.binary->version().minor;
  for (const auto& p : table.probes) {
    if ((p.needs & options) != p.needs || !p.applies_to(minor)) continue;
    bpf_program* prog = bpf_object__find_program_by_name(obj, std::string(p.program).c_str());
    if (!prog) return make_error("internal: no BPF program '{}' in the {} object", p.program, table.command);
    const PlannedSite* site = tc.site(p.role);
    std::optional<uint64_t> offset;
    uint64_t check = 0;
    std::string what;
    if (site) {
      offset = site->site_file_offset;
      check = site_check(*site);
      what = site->symbol;
    } else if (p.entry_fallback) {
      for (const auto& s : tc.sites)
        if (s.role == p.role && !s.symbol.empty()) {
          offset = tc.binary->elf().vaddr_to_file_offset(s.function.entry);
          what = s.symbol;
          tc.notes.push_back(
              fmt::format("{} has no emulated probe site in this Go release: probed at its first "
                          "instruction (single-stepped, costs more per hit)",
                          s.symbol));
        }
    }
    if (!offset) {
      if (p.required) return make_error("no probe site for {}", role_spec(p.role).id);
      continue;
    }
    planned.push_back({&p, prog, *offset, GT_COOKIE(p.cookie_kind, check), what});
  }
  if (multi) return attach_multi(planned, tc, pid, links);
  for (const auto& p : planned) {
    auto r = attach_uprobe(p.prog, pid, tc.process.exe_fd(), p.offset, p.what, links, p.cookie);
    if (auto k = keep_or_note(p, r, tc, attached); !k) return k.error();
  }
  return attached;
}

}  // namespace gotrace
