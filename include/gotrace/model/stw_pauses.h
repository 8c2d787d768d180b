// Stop-the-world pauses from the runtime's own events (stop, restart, and the
// GC's end of a pause), as alloc and sched see them through their probes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gotrace {

// The GC and stop-the-world events of the BPF programs (gc_event_types.h).
enum class GcEventKind : uint8_t { Start = 0, Cycle = 1, StwStop = 2, StwStart = 3, PauseEnd = 4 };
inline constexpr uint32_t kStwReasonUnknown = 0xffffffffu;

struct StwEvent {
  GcEventKind kind = GcEventKind::Start;
  uint64_t t_ns = 0;
  uint32_t arg = 0;  // trigger kind (Start), stop reason (StwStop, StwStart)
  // StwStart 1.22+: when stopping began (ns, same clock); PauseEnd: when the
  // runtime ended the pause (same clock); Cycle: the cycle's number (0: unknown).
  uint64_t arg2 = 0;
};

struct StwPause {
  std::string reason;  // "GC sweep termination", "GC mark termination", …, "unknown"
  uint64_t ns = 0;
  uint64_t began_ns = 0;  // when stopping began (the events' clock)
};

// stopTheWorldWithSema's reason argument (1.21+; the same list through 1.27).
std::string stw_reason_name(uint32_t reason);

// Pairs the stop, start and pause-end events of `stw` (in arrival order, no
// other kinds) into pauses. A pause runs from its stop to its
// start-the-world; where the runtime says when it ended the pause (PauseEnd:
// inside the pause at mark termination, just after the restart at sweep
// termination), that time ends it instead. Events that pair with nothing
// are counted in `unpaired`. reason_name names a reason number (empty: all
// "unknown").
std::vector<StwPause> pair_stw_pauses(const std::vector<const StwEvent*>& stw,
                                      const std::function<std::string(uint32_t)>& reason_name,
                                      uint64_t& unpaired);

}  // namespace gotrace
