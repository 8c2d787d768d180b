// `gotrace info`: what gotrace sees in a Go binary and whether it can trace
// it here. The model is plain data; the writers only format it.
#pragma once

#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "gotrace/gobin/go_binary.h"
#include "gotrace/host/features.h"
#include "gotrace/probes/probe_plan.h"
#include "gotrace/target/code_check.h"

namespace gotrace {

struct InfoReport {
  // target
  std::optional<int> pid;
  std::string comm;
  std::string path;  // what was analysed
  std::optional<uint64_t> load_bias;
  bool alive = false;
  // The target's code against its file (-p): breakpoints placed or left.
  std::optional<CodeCheck> code;

  const GoBinary* binary = nullptr;  // the analysis (owned by the caller)
  std::vector<PlannedSite> sites;
  HostFeatures host;
  std::vector<Verdict> verdicts;
};

// Verdicts for each probe table (one per tracing command).
InfoReport build_info_report(const GoBinary& binary, const HostFeatures& host,
                             std::span<const ProbeTable* const> tables);

void write_info_text(const InfoReport& report, std::ostream& out);
void write_info_json(const InfoReport& report, std::ostream& out);

}  // namespace gotrace
