#include "gotrace/probes/probe_plan.h"

#include <fmt/format.h>

#include <algorithm>

namespace gotrace {

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
  if (auto callee = role_spec(role).call_to; !callee.empty()) {
    // The site is the call, not the entry: the stack check at the entry
    // has passed by then, so there is no morestack re-entry to tell apart.
    s.code.entry_site.reset();
    s.code.stack_check.reset();
    auto target = binary.pclntab().function_by_name(callee);
    for (const auto& c : s.code.calls)
      if (target && c.target == target->entry) {
        s.code.entry_site = c.site;
        break;
      }
    s.code.no_entry_site_reason =
        s.code.entry_site ? "" : fmt::format("no direct call to {} in {}", callee, s.symbol);
  }
  if (s.code.entry_site) s.site_file_offset = binary.elf().vaddr_to_file_offset(s.code.entry_site->address);
  return s;
}

std::vector<PlannedSite> plan_all_sites(const GoBinary& binary) {
  std::vector<PlannedSite> out;
  for (const auto& spec : all_roles()) out.push_back(plan_site(binary, spec.role));
  return out;
}

Verdict check_command(const ProbeTable& table, const GoBinary& binary, const HostFeatures& host,
                      std::span<const PlannedSite> sites) {
  Verdict v;
  v.command = std::string(table.command);
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
    case VersionSupport::Supported:
      break;
  }
  if (!binary.offsets()) {
    v.reasons.push_back("runtime struct offsets unknown: " + binary.offsets().error().message);
  } else if (!binary.offsets()->complete_for_tracing()) {
    v.reasons.push_back("some runtime struct offsets are unknown for this build");
  }
  if (table.wants_wait_reasons && !binary.wait_reasons())
    v.warnings.push_back("wait reason names unknown: reasons are shown as numbers");

  std::vector<ProbeRole> seen;
  for (const auto& probe : table.probes) {
    if (ver.major && !probe.applies_to(ver.minor)) continue;
    if (std::find(seen.begin(), seen.end(), probe.role) != seen.end())
      continue;  // one role, several programs
    seen.push_back(probe.role);
    const bool required = probe.required && probe.needs == 0;
    auto it =
        std::find_if(sites.begin(), sites.end(), [&](const PlannedSite& s) { return s.role == probe.role; });
    const RoleSpec& spec = role_spec(probe.role);
    if (it == sites.end() || it->symbol.empty()) {
      if (required) v.reasons.push_back(fmt::format("no {} function in this binary", spec.id));
      continue;
    }
    if (!it->usable()) {
      if (probe.entry_fallback) {
        v.warnings.push_back(fmt::format(
            "{}: no emulated site, probed at its first instruction (single-stepped)", it->symbol));
        continue;
      }
      std::string why =
          it->code.no_entry_site_reason.empty() ? "no probe site" : it->code.no_entry_site_reason;
      (required ? v.reasons : v.warnings).push_back(fmt::format("{}: {}", it->symbol, why));
    } else if (it->code.entry_site->kind != SiteKind::Emulated) {
      v.warnings.push_back(
          fmt::format("{}: only a single-stepped probe site (about 10x the cost per hit)", it->symbol));
    }
  }
  v.can_run = v.reasons.empty();
  return v;
}

}  // namespace gotrace
