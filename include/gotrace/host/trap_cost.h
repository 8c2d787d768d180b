// What one uprobe hit costs on this host, measured rather than assumed:
// trap costs differ more than tenfold between hosts (virtualisation,
// mitigations). gotrace probes a function of its own whose first
// instruction the kernel emulates (like the sites it plans in Go code), with
// an empty BPF program attached, calls it a few thousand times, and
// subtracts the same calls unprobed. A few milliseconds, at start.
#pragma once

#include <cstdint>

#include "gotrace/util/result.h"

namespace gotrace {

struct TrapCost {
  double ns_per_hit = 0;  // trap + an empty program, per hit
  uint32_t calls = 0;     // how many hits the figure is from
};

// Needs the rights a trace needs (a uprobe on gotrace itself).
Result<TrapCost> measure_trap_cost();

}  // namespace gotrace
