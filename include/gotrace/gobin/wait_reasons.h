// The runtime's waitReason names (value -> "chan receive", …). Read from
// runtime.waitReasonStrings in the binary when it has symbols; otherwise from
// gotrace's per-version table (from each release's runtime2.go; tests check
// the table against the binaries that have the symbol).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/util/result.h"

namespace gotrace {

enum class WaitReasonSource { Binary, VersionTable };

struct WaitReasons {
  std::vector<std::string> names;  // index = waitReason value
  WaitReasonSource source = WaitReasonSource::VersionTable;
  std::string name(unsigned value) const;  // "waitreason(N)" when unknown
  // The value of a reason by its runtime name, e.g. "chan receive".
  std::optional<unsigned> value_of(std::string_view name) const;
};

Result<WaitReasons> wait_reasons_from_binary(const ElfImage& image);
Result<WaitReasons> wait_reasons_from_table(const GoVersion& version);
Result<WaitReasons> resolve_wait_reasons(const ElfImage& image, const std::optional<GoVersion>& version);

}  // namespace gotrace
