// The allocator's and the GC's state in a live Go process, read through
// RemoteMemory (never written): the memory-profiling rate, the heap figures
// of runtime.gcController and the cycle counters and pause ring of
// runtime.memstats. Globals are found with find_global (symbol table, or the
// stripped-binary fallback behind it); a global or offset that cannot be
// found leaves its figures unset with a note saying why, never a guess.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gotrace/gobin/gc_offsets.h"
#include "gotrace/target/remote_memory.h"

namespace gotrace {

class GoBinary;

// Where each figure lives in this binary (link-time addresses).
struct GcStatePlan {
  std::optional<uint64_t> mem_profile_rate;  // &runtime.MemProfileRate
  std::optional<uint64_t> gc_controller;     // &runtime.gcController
  std::optional<uint64_t> memstats;          // &runtime.memstats
  // runtime.disableMemoryProfiling as initialised in the file: true when the
  // linker found no heap-profile reader (the runtime then forces
  // MemProfileRate to 0 at start-up). nullopt if the symbol is not found.
  std::optional<bool> profiling_disabled_in_file;
  GcOffsets offsets;
  std::vector<std::string> notes;  // what is missing and why
};
GcStatePlan plan_gc_state(const GoBinary& binary);

inline constexpr size_t kPauseRing = 256;

struct GcSnapshot {
  std::optional<int64_t> mem_profile_rate;
  std::optional<uint64_t> heap_live, heap_marked, heap_goal, total_alloc;
  std::optional<uint64_t> pause_total_ns, last_gc_nanotime;
  std::optional<uint32_t> numgc, numforcedgc;
  std::optional<std::array<uint64_t, kPauseRing>> pause_ns;
  std::vector<std::string> notes;  // reads that failed

  // Pauses of the cycles completed after `earlier` (oldest first; at most
  // the ring's 256, the rest counted in *lost).
  std::vector<uint64_t> pauses_since(const GcSnapshot& earlier, uint64_t* lost) const;
};
// Reads everything the plan knows where to find; load_bias is added to each
// link-time address (0 for a non-PIE executable).
GcSnapshot read_gc_snapshot(const GcStatePlan& plan, const RemoteMemory& mem, uint64_t load_bias);

}  // namespace gotrace
