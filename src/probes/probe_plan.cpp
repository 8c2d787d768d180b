#include "gotrace/probes/probe_plan.h"

#include <fmt/format.h>

#include <algorithm>

namespace gotrace {

std::string_view command_name(Command c) {
  switch (c) {
    case Command::Block: return "block";
    case Command::Lock: return "lock";
    case Command::Alloc: return "alloc";
  }
  return "?";
}

std::span<const Command> all_commands() {
  static constexpr Command kAll[] = {Command::Block, Command::Lock, Command::Alloc};
  return kAll;
}

std::vector<RoleNeed> roles_for(Command command, const GoVersion& version) {
  switch (command) {
    case Command::Block:
      // park -> ready of the same goroutine; netpoll wakes bypass ready.
      return {{ProbeRole::Gopark, true},
              {ProbeRole::Ready, true},
              {ProbeRole::Netpollready, false},
              {ProbeRole::InjectGlist, false}};
    case Command::Lock:
      // Contended acquires (each linked only if the program uses the
      // primitive), the release and its hand-over to the waiter; the park
      // probes are for wait chains (what a holder was blocked on).
      return {{ProbeRole::Semrelease1, true},          {ProbeRole::ReadyWithTime, true},
              {ProbeRole::SemacquireMutex, false},     {ProbeRole::SemacquireRWMutexR, false},
              {ProbeRole::SemacquireRWMutex, false},   {ProbeRole::SemacquireWaitGroup, false},
              {ProbeRole::SyncSemacquire, false},      {ProbeRole::NotifyListWait, false},
              {ProbeRole::NotifyListNotifyOne, false}, {ProbeRole::NotifyListNotifyAll, false},
              {ProbeRole::Gopark, false},              {ProbeRole::Ready, false},
              {ProbeRole::Netpollready, false},        {ProbeRole::InjectGlist, false},
              {ProbeRole::Futexsleep, false},          {ProbeRole::Futexwakeup, false},
              {ProbeRole::Semasleep, false},           {ProbeRole::Unlock2Wake, false}};
    case Command::Alloc: {
      // Sampled allocations only (one per MemProfileRate bytes); the type
      // comes from the allocator's entry, which is hot: optional.
      std::vector<RoleNeed> r = {{ProbeRole::Profilealloc, true}};
      if (version.at_least(1, 24)) {
        for (auto role : {ProbeRole::MallocgcTiny, ProbeRole::MallocgcSmallNoscan, ProbeRole::MallocgcSmallScanNoHeader,
                          ProbeRole::MallocgcSmallScanHeader, ProbeRole::MallocgcLarge})
          r.push_back({role, false});
      } else {
        r.push_back({ProbeRole::Mallocgc, false});
      }
      return r;
    }
  }
  return {};
}

PlannedSite plan_site(const GoBinary& binary, ProbeRole role) {
  PlannedSite s;
  s.role = role;
  std::optional<GoVersion> version;
  if (binary.version().major) version = binary.version();
  auto name = resolve_role(role, version, binary.pclntab());
  if (!name) return s;
  auto fn = binary.pclntab().function_by_name(*name);
  if (!fn) return s;
  s.symbol = std::string(*name);
  s.function = *fn;
  s.code = binary.analyze(*fn);
  if (s.code.entry_site) s.site_file_offset = binary.elf().vaddr_to_file_offset(s.code.entry_site->address);
  return s;
}

std::vector<PlannedSite> plan_all_sites(const GoBinary& binary) {
  std::vector<PlannedSite> out;
  for (const auto& spec : all_roles()) out.push_back(plan_site(binary, spec.role));
  return out;
}

Verdict check_command(Command command, const GoBinary& binary, const HostFeatures& host,
                      std::span<const PlannedSite> sites) {
  Verdict v;
  v.command = command;
  for (auto& p : host.problems()) v.reasons.push_back(p);

  if (binary.arch() != Arch::X86_64)
    v.reasons.push_back(fmt::format("{} binaries are analysed statically only; tracing needs linux/amd64",
                                    arch_name(binary.arch())));
  const GoVersion& ver = binary.version();
  switch (classify(ver)) {
    case VersionSupport::TooOld:
      v.reasons.push_back(fmt::format("{} is not supported (gotrace needs Go 1.{}+, the register ABI)",
                                      binary.buildinfo().version_string, kOldestSupportedMinor));
      break;
    case VersionSupport::Newer:
      v.warnings.push_back(fmt::format("{} is newer than any release gotrace was tested with (1.{})",
                                       binary.buildinfo().version_string, kNewestKnownMinor));
      break;
    case VersionSupport::Supported: break;
  }
  if (!binary.offsets()) {
    v.reasons.push_back("runtime struct offsets unknown: " + binary.offsets().error().message);
  } else if (!binary.offsets()->complete_for_tracing()) {
    v.reasons.push_back("some runtime struct offsets are unknown for this build");
  }
  if (command == Command::Block && !binary.wait_reasons())
    v.warnings.push_back("wait reason names unknown: reasons are shown as numbers");

  for (const auto& need : roles_for(command, ver)) {
    auto it = std::find_if(sites.begin(), sites.end(), [&](const PlannedSite& s) { return s.role == need.role; });
    const RoleSpec& spec = role_spec(need.role);
    if (it == sites.end() || it->symbol.empty()) {
      if (need.required) v.reasons.push_back(fmt::format("no {} function in this binary", spec.id));
      continue;
    }
    if (!it->usable()) {
      std::string why = it->code.no_entry_site_reason.empty() ? "no probe site" : it->code.no_entry_site_reason;
      (need.required ? v.reasons : v.warnings).push_back(fmt::format("{}: {}", it->symbol, why));
    } else if (it->code.entry_site->kind != SiteKind::Emulated) {
      v.warnings.push_back(fmt::format("{}: only a single-stepped probe site (about 10x the cost per hit)", it->symbol));
    }
  }
  v.can_run = v.reasons.empty();
  return v;
}

}  // namespace gotrace
