// Offsets of the runtime struct fields the BPF programs read, each with where
// it came from: the binary's DWARF when it has some, else gotrace's table for
// its Go version (from each release's runtime2.go). Tests check both agree.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/util/result.h"

namespace gotrace {

// Every field gotrace needs. Names are "struct.field" as in the Go source.
enum class RtField : uint8_t {
  GStackLo,       // g.stack.lo
  GStackHi,       // g.stack.hi
  GStackguard0,   // g.stackguard0
  GM,             // g.m
  GSchedSp,       // g.sched.sp
  GSchedPc,       // g.sched.pc
  GSchedBp,       // g.sched.bp
  GAtomicstatus,  // g.atomicstatus
  GGoid,          // g.goid
  GWaitsince,     // g.waitsince
  GWaitreason,    // g.waitreason
  GParentGoid,    // g.parentGoid (1.21+; absent before)
  GGopc,          // g.gopc
  GStartpc,       // g.startpc
  GLabels,        // g.labels
  MG0,            // m.g0
  MProcid,        // m.procid
  MCurg,          // m.curg
  MId,            // m.id
  SudogG,         // sudog.g
  GSchedlink,     // g.schedlink (the run-queue / gList link)
  PollDescRg,     // pollDesc.rg (netpoll; optional for tracing)
  PollDescWg,     // pollDesc.wg (netpoll; optional for tracing)
  GSyscallsp,     // g.syscallsp (the goroutine stack while in a syscall or cgo call)
  GSyscallpc,     // g.syscallpc
  GSyscallbp,     // g.syscallbp (1.23+; absent before)
  GLockedm,       // g.lockedm (nonzero: locked to its thread)
  // The runtime's own scheduling-latency sampling (1.17+): one goroutine in
  // gTrackingPeriod (8) transitions out of running gets `tracking` set, and
  // its next runnable moment stamped (nanotime, CLOCK_MONOTONIC).
  GTracking,       // g.tracking (bool)
  GTrackingStamp,  // g.trackingStamp (1.20+), g.runnableStamp (1.17-1.19)
  GRunnableTime,   // g.runnableTime: runnable time already summed before this stamp
  Count
};
inline constexpr size_t kRtFieldCount = static_cast<size_t>(RtField::Count);
std::string_view field_name(RtField f);  // "g.goid"

enum class OffsetSource : uint8_t { None, Dwarf, VersionTable };
std::string_view source_name(OffsetSource s);  // "dwarf", "table", "none"

struct FieldOffset {
  int64_t value = -1;  // -1: the field does not exist in this version
  OffsetSource source = OffsetSource::None;
  bool known() const { return value >= 0; }
};

struct RuntimeOffsets {
  std::array<FieldOffset, kRtFieldCount> fields{};
  FieldOffset& operator[](RtField f) { return fields[static_cast<size_t>(f)]; }
  const FieldOffset& operator[](RtField f) const { return fields[static_cast<size_t>(f)]; }
  // Known for everything a tracer must read (parentGoid, labels and the
  // pollDesc fields may be missing).
  bool complete_for_tracing() const;
};

// From DWARF (.debug_info, DWARF 4 or 5, compressed or not), via libdw.
Result<RuntimeOffsets> offsets_from_dwarf(const ElfImage& image);
// From the built-in table. Fails for versions outside 1.17–1.26 and arches
// other than amd64/arm64 (whose g/m layouts are identical).
Result<RuntimeOffsets> offsets_from_table(const GoVersion& version, Arch arch);
// DWARF where present, table for whatever DWARF lacked; each field keeps its source.
Result<RuntimeOffsets> resolve_offsets(const ElfImage& image, const std::optional<GoVersion>& version);

}  // namespace gotrace
