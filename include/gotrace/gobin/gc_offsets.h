// Offsets of the allocator and GC state `gotrace alloc` reads from a live
// process: fields of runtime.gcController (a gcControllerState) and
// runtime.memstats (an mstats). From DWARF where the binary has it, else a
// per-version table (checked against DWARF on every fixture build by
// tests/unit/gc_state_test.cpp). Kept apart from RuntimeOffsets, whose
// fields every tracing command needs.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/gobin/runtime_offsets.h"
#include "gotrace/util/result.h"

namespace gotrace {

enum class GcField : uint8_t {
  HeapLive,        // gcController.heapLive: bytes in live spans (≈ MemStats.HeapAlloc)
  HeapMarked,      // gcController.heapMarked: live bytes marked by the last cycle
  HeapGoal,        // gcController.gcPercentHeapGoal: the goal (= NextGC when no memory limit is set)
  TotalAlloc,      // gcController.totalAlloc: cumulative bytes allocated (flushed per span)
  PauseTotalNs,    // memstats.pause_total_ns
  PauseNs,         // memstats.pause_ns: [256]uint64 ring, last = [(numgc+255)%256]
  Numgc,           // memstats.numgc (uint32)
  Numforcedgc,     // memstats.numforcedgc (uint32)
  LastGcNanotime,  // memstats.last_gc_nanotime
  Count
};
inline constexpr size_t kGcFieldCount = static_cast<size_t>(GcField::Count);
std::string_view gc_field_name(GcField f);  // "gcController.heapLive"

struct GcOffsets {
  std::array<FieldOffset, kGcFieldCount> fields{};
  FieldOffset& operator[](GcField f) { return fields[static_cast<size_t>(f)]; }
  const FieldOffset& operator[](GcField f) const { return fields[static_cast<size_t>(f)]; }
};

Result<GcOffsets> gc_offsets_from_dwarf(const ElfImage& image);
Result<GcOffsets> gc_offsets_from_table(const GoVersion& version, Arch arch);
// DWARF where present, the table for what DWARF lacks.
Result<GcOffsets> resolve_gc_offsets(const ElfImage& image, const std::optional<GoVersion>& version);

}  // namespace gotrace
