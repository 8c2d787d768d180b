// Which wait reasons `block --reason` keeps, as a 256-bit mask the BPF
// program tests at gopark. Categories (chan, select, mutex, cond, waitgroup,
// io, sleep, sema, gc, all) or exact runtime names ("sync.Cond.Wait").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gotrace/gobin/wait_reasons.h"
#include "gotrace/util/result.h"

namespace gotrace {

using ReasonMask = std::array<uint64_t, 4>;

// Empty selection: every reason except the runtime's own idle background
// waits (GC workers, sweeper, scavenger, finalizer, trace reader …).
Result<ReasonMask> reason_mask(const WaitReasons& reasons, const std::vector<std::string>& selection);
bool mask_has(const ReasonMask& m, unsigned reason);
// The reasons whose runtime name satisfies pred.
ReasonMask reason_mask_where(const WaitReasons& reasons, const std::function<bool(const std::string&)>& pred);
std::vector<std::string> reason_categories();

}  // namespace gotrace
