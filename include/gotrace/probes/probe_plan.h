// ProbePlan: which runtime functions a command probes, where (link-time
// address and file offset of an emulated instruction), and whether the
// command can run against this binary on this host. Pure data from the
// binary and the host facts; unit-testable without root.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gotrace/disasm/code_analysis.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/host/features.h"
#include "gotrace/probes/probe_table.h"
#include "gotrace/probes/runtime_roles.h"

namespace gotrace {

struct PlannedSite {
  ProbeRole role;
  std::string symbol;  // empty when the role does not resolve in this binary
  GoFunc function;
  FunctionCode code;
  std::optional<uint64_t> site_file_offset;  // where the uprobe attaches
  bool usable() const { return code.entry_site.has_value() && site_file_offset.has_value(); }
};

// Resolves a role and plans its entry site (nullopt symbol → not present).
PlannedSite plan_site(const GoBinary& binary, ProbeRole role);
// Every role gotrace knows, for `info`.
std::vector<PlannedSite> plan_all_sites(const GoBinary& binary);

struct Verdict {
  std::string command;
  bool can_run = false;
  std::vector<std::string> reasons;   // why not (each one line)
  std::vector<std::string> warnings;  // runs, but the user should know
};
// Whether a command (its probe table) can trace this binary on this host,
// and why not. Probes that only some options need count as optional here.
Verdict check_command(const ProbeTable& table, const GoBinary& binary, const HostFeatures& host,
                      std::span<const PlannedSite> sites);

}  // namespace gotrace
