// ProbeTable: everything a tracing command attaches, as data. One table per
// command, read both by `gotrace info` (can this command run against this
// binary here, and what will it miss?) and by the session's attach step, so
// the two can never disagree.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "gotrace/probes/runtime_roles.h"

namespace gotrace {

struct ProbeSpec {
  ProbeRole role;
  std::string_view program;  // the BPF program attached at the role's entry site
  uint32_t cookie_kind = 0;  // low bits of the attach cookie (the site's stack check goes above bit 16)
  bool required = false;     // the command cannot run without it (when its options are on)
  // With no emulated site, probe the function's first instruction instead
  // (single-stepped: ~8x the cost per hit). Only for opt-in, rare probes.
  bool entry_fallback = false;
  uint32_t needs = 0;  // attached only when all these command option bits are on (0: always)
  int min_minor = 0;   // only for Go 1.<min_minor> …
  int max_minor = 99;  // … to 1.<max_minor>
  bool applies_to(int minor) const { return minor >= min_minor && minor <= max_minor; }
};

struct ProbeTable {
  std::string_view command;         // "block"
  std::vector<ProbeSpec> probes;    // in attach order
  bool wants_wait_reasons = false;  // the report names wait reasons (a warning if the binary lacks them)
};

}  // namespace gotrace
