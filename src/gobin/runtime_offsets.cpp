// Runtime struct offsets from DWARF (libdw) or from gotrace's per-version
// table, and the merge of both.
//
// The Go linker puts every type of the runtime package, runtime.g and
// runtime.m among them, as top-level children of the compile unit named
// "runtime". Only that unit is searched unless the types are not there, so a
// big binary costs one unit's worth of DIEs, not the whole .debug_info.
#include "gotrace/gobin/runtime_offsets.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "dwarf_structs.h"
#include "offset_tables.h"

namespace gotrace {

std::string_view field_name(RtField f) {
  switch (f) {
    case RtField::GStackLo:
      return "g.stack.lo";
    case RtField::GStackHi:
      return "g.stack.hi";
    case RtField::GStackguard0:
      return "g.stackguard0";
    case RtField::GM:
      return "g.m";
    case RtField::GSchedSp:
      return "g.sched.sp";
    case RtField::GSchedPc:
      return "g.sched.pc";
    case RtField::GSchedBp:
      return "g.sched.bp";
    case RtField::GAtomicstatus:
      return "g.atomicstatus";
    case RtField::GGoid:
      return "g.goid";
    case RtField::GWaitsince:
      return "g.waitsince";
    case RtField::GWaitreason:
      return "g.waitreason";
    case RtField::GParentGoid:
      return "g.parentGoid";
    case RtField::GGopc:
      return "g.gopc";
    case RtField::GStartpc:
      return "g.startpc";
    case RtField::GLabels:
      return "g.labels";
    case RtField::MG0:
      return "m.g0";
    case RtField::MProcid:
      return "m.procid";
    case RtField::MCurg:
      return "m.curg";
    case RtField::MId:
      return "m.id";
    case RtField::SudogG:
      return "sudog.g";
    case RtField::GSchedlink:
      return "g.schedlink";
    case RtField::PollDescRg:
      return "pollDesc.rg";
    case RtField::PollDescWg:
      return "pollDesc.wg";
    case RtField::GSyscallsp:
      return "g.syscallsp";
    case RtField::GSyscallpc:
      return "g.syscallpc";
    case RtField::GSyscallbp:
      return "g.syscallbp";
    case RtField::GLockedm:
      return "g.lockedm";
    case RtField::GTracking:
      return "g.tracking";
    case RtField::GTrackingStamp:
      return "g.trackingStamp";
    case RtField::GRunnableTime:
      return "g.runnableTime";
    case RtField::Count:
      break;
  }
  return "?";
}

std::string_view source_name(OffsetSource s) {
  switch (s) {
    case OffsetSource::Dwarf:
      return "dwarf";
    case OffsetSource::VersionTable:
      return "table";
    case OffsetSource::None:
      break;
  }
  return "none";
}

bool RuntimeOffsets::complete_for_tracing() const {
  for (size_t i = 0; i < kRtFieldCount; ++i) {
    auto f = static_cast<RtField>(i);
    if (f == RtField::GParentGoid || f == RtField::GLabels || f == RtField::PollDescRg ||
        f == RtField::PollDescWg || f == RtField::GSyscallsp || f == RtField::GSyscallpc ||
        f == RtField::GSyscallbp || f == RtField::GLockedm || f == RtField::GTracking ||
        f == RtField::GTrackingStamp || f == RtField::GRunnableTime)
      continue;
    if (!fields[i].known()) return false;
  }
  return true;
}

using detail::DwarfSession;
using detail::find_member;
using detail::find_nested;
using detail::Wanted;

Result<RuntimeOffsets> offsets_from_dwarf(const ElfImage& image) {
  if (!image.has_dwarf())
    return make_error("{} has no DWARF debug information (built with -ldflags=-w or stripped)", image.path());
  DwarfSession dw;
  if (auto r = dw.open(image); !r) return r.error();

  std::vector<Wanted> wanted = {{"runtime.g"}, {"runtime.m"}, {"runtime.sudog"}, {"runtime.pollDesc"}};

  // Only the unit named "runtime" unless g or m is still missing after it
  // (not for an unused pollDesc).
  detail::find_runtime_structs(dw.get(), wanted, [&] { return wanted[0].found && wanted[1].found; });

  Dwarf_Die* g = wanted[0].found ? &wanted[0].die : nullptr;
  Dwarf_Die* m = wanted[1].found ? &wanted[1].die : nullptr;
  Dwarf_Die* sudog = wanted[2].found ? &wanted[2].die : nullptr;
  Dwarf_Die* poll = wanted[3].found ? &wanted[3].die : nullptr;
  if (!g) return make_error("{}: the DWARF has no runtime.g struct type", image.path());

  RuntimeOffsets out;
  auto set = [&out](RtField f, int64_t v) {
    if (v >= 0) out[f] = {v, OffsetSource::Dwarf};
  };
  set(RtField::GStackLo, find_nested(g, "stack", "lo"));
  set(RtField::GStackHi, find_nested(g, "stack", "hi"));
  set(RtField::GStackguard0, find_member(g, "stackguard0"));
  set(RtField::GM, find_member(g, "m"));
  set(RtField::GSchedSp, find_nested(g, "sched", "sp"));
  set(RtField::GSchedPc, find_nested(g, "sched", "pc"));
  set(RtField::GSchedBp, find_nested(g, "sched", "bp"));
  set(RtField::GAtomicstatus, find_member(g, "atomicstatus"));
  set(RtField::GGoid, find_member(g, "goid"));
  set(RtField::GWaitsince, find_member(g, "waitsince"));
  set(RtField::GWaitreason, find_member(g, "waitreason"));
  set(RtField::GParentGoid, find_member(g, "parentGoid"));
  set(RtField::GGopc, find_member(g, "gopc"));
  set(RtField::GStartpc, find_member(g, "startpc"));
  set(RtField::GLabels, find_member(g, "labels"));
  set(RtField::GSchedlink, find_member(g, "schedlink"));
  set(RtField::GSyscallsp, find_member(g, "syscallsp"));
  set(RtField::GSyscallpc, find_member(g, "syscallpc"));
  set(RtField::GSyscallbp, find_member(g, "syscallbp"));
  set(RtField::GLockedm, find_member(g, "lockedm"));
  set(RtField::GTracking, find_member(g, "tracking"));
  {
    int64_t stamp = find_member(g, "trackingStamp");  // 1.20+
    set(RtField::GTrackingStamp, stamp >= 0 ? stamp : find_member(g, "runnableStamp"));
  }
  set(RtField::GRunnableTime, find_member(g, "runnableTime"));
  if (m) {
    set(RtField::MG0, find_member(m, "g0"));
    set(RtField::MProcid, find_member(m, "procid"));
    set(RtField::MCurg, find_member(m, "curg"));
    set(RtField::MId, find_member(m, "id"));
  }
  if (sudog) set(RtField::SudogG, find_member(sudog, "g"));
  if (poll) {
    set(RtField::PollDescRg, find_member(poll, "rg"));
    set(RtField::PollDescWg, find_member(poll, "wg"));
  }
  return out;
}

Result<RuntimeOffsets> offsets_from_table(const GoVersion& version, Arch arch) {
  if (arch != Arch::X86_64 && arch != Arch::Arm64)
    return make_error("no runtime offset table for architecture {} (only amd64 and arm64)", arch_name(arch));
  if (version.major != 1 || version.minor < kOldestSupportedMinor || version.minor > kNewestKnownMinor)
    return make_error("no runtime offset table for {} (gotrace has tables for go1.{} to go1.{})",
                      version.short_name(), kOldestSupportedMinor, kNewestKnownMinor);
  auto row = detail::offset_table_row(version.minor);
  if (!row) return make_error("no runtime offset table for {}", version.short_name());
  RuntimeOffsets out;
  for (size_t i = 0; i < kRtFieldCount; ++i) {
    if ((*row)[i] >= 0) out.fields[i] = {(*row)[i], OffsetSource::VersionTable};
  }
  return out;
}

Result<RuntimeOffsets> resolve_offsets(const ElfImage& image, const std::optional<GoVersion>& version) {
  auto dwarf = offsets_from_dwarf(image);
  std::optional<Result<RuntimeOffsets>> table;
  if (version) table = offsets_from_table(*version, image.arch());

  if (!dwarf && !(table && table->ok())) {
    std::string why = dwarf.error().message;
    if (!version)
      why += "; the Go version is unknown, so the built-in table cannot be used";
    else
      why += "; " + table->error().message;
    return make_error("cannot determine Go runtime struct offsets: {}", why);
  }
  if (!dwarf) return std::move(**table);

  RuntimeOffsets out = std::move(*dwarf);
  if (table && table->ok()) {
    for (size_t i = 0; i < kRtFieldCount; ++i)
      if (!out.fields[i].known() && (**table).fields[i].known()) out.fields[i] = (**table).fields[i];
  }
  return out;
}

}  // namespace gotrace
