// Allocator and GC field offsets from DWARF or a per-version table.
//
// The table (amd64 and arm64 alike: every field before these is 8-byte or
// arch-independent) was read from the DWARF of Go 1.19–1.27 builds:
//
//   gcControllerState      1.19    1.20    1.21–1.27
//     gcPercentHeapGoal    0x68    0x30    0x48
//     heapLive             0x88    0x50    0x68
//     heapMarked           0xb8    0x80    0x98
//     totalAlloc           0x148   0x110   0x128
//   mstats                 1.19–1.24   1.25–1.27
//     pause_total_ns       0xe10       0xdf8
//     pause_ns[256]        0xe18       0xe00
//     numgc                0x1e18      0x1e00
//     numforcedgc          0x1e1c      0x1e04
//     last_gc_nanotime     0x1e28      0x1e10
#include "gotrace/gobin/gc_offsets.h"

#include "dwarf_structs.h"

namespace gotrace {

std::string_view gc_field_name(GcField f) {
  switch (f) {
    case GcField::HeapLive:
      return "gcController.heapLive";
    case GcField::HeapMarked:
      return "gcController.heapMarked";
    case GcField::HeapGoal:
      return "gcController.gcPercentHeapGoal";
    case GcField::TotalAlloc:
      return "gcController.totalAlloc";
    case GcField::PauseTotalNs:
      return "memstats.pause_total_ns";
    case GcField::PauseNs:
      return "memstats.pause_ns";
    case GcField::Numgc:
      return "memstats.numgc";
    case GcField::Numforcedgc:
      return "memstats.numforcedgc";
    case GcField::LastGcNanotime:
      return "memstats.last_gc_nanotime";
    case GcField::Count:
      break;
  }
  return "?";
}

Result<GcOffsets> gc_offsets_from_dwarf(const ElfImage& image) {
  if (!image.has_dwarf()) return make_error("{} has no DWARF debug information", image.path());
  detail::DwarfSession dw;
  if (auto r = dw.open(image); !r) return r.error();
  std::vector<detail::Wanted> wanted = {{"runtime.gcControllerState"}, {"runtime.mstats"}};
  detail::find_runtime_structs(dw.get(), wanted, [] { return false; });
  if (!wanted[0].found && !wanted[1].found)
    return make_error("{}: the DWARF has neither runtime.gcControllerState nor runtime.mstats", image.path());
  GcOffsets out;
  auto set = [&out](GcField f, int64_t v) {
    if (v >= 0) out[f] = {v, OffsetSource::Dwarf};
  };
  if (wanted[0].found) {
    Dwarf_Die* c = &wanted[0].die;
    set(GcField::HeapLive, detail::find_member(c, "heapLive"));
    set(GcField::HeapMarked, detail::find_member(c, "heapMarked"));
    set(GcField::HeapGoal, detail::find_member(c, "gcPercentHeapGoal"));
    set(GcField::TotalAlloc, detail::find_member(c, "totalAlloc"));
  }
  if (wanted[1].found) {
    Dwarf_Die* m = &wanted[1].die;
    set(GcField::PauseTotalNs, detail::find_member(m, "pause_total_ns"));
    set(GcField::PauseNs, detail::find_member(m, "pause_ns"));
    set(GcField::Numgc, detail::find_member(m, "numgc"));
    set(GcField::Numforcedgc, detail::find_member(m, "numforcedgc"));
    set(GcField::LastGcNanotime, detail::find_member(m, "last_gc_nanotime"));
  }
  return out;
}

Result<GcOffsets> gc_offsets_from_table(const GoVersion& version, Arch arch) {
  if (arch != Arch::X86_64 && arch != Arch::Arm64)
    return make_error("no GC offset table for architecture {} (only amd64 and arm64)", arch_name(arch));
  if (version.major != 1 || version.minor < 19 || version.minor > kNewestKnownMinor)
    return make_error("no GC offset table for {} (gotrace has them for go1.19 to go1.{})",
                      version.short_name(), kNewestKnownMinor);
  const int v = version.minor;
  GcOffsets out;
  auto set = [&out](GcField f, int64_t off) { out[f] = {off, OffsetSource::VersionTable}; };
  set(GcField::HeapGoal, v == 19 ? 0x68 : v == 20 ? 0x30 : 0x48);
  set(GcField::HeapLive, v == 19 ? 0x88 : v == 20 ? 0x50 : 0x68);
  set(GcField::HeapMarked, v == 19 ? 0xb8 : v == 20 ? 0x80 : 0x98);
  set(GcField::TotalAlloc, v == 19 ? 0x148 : v == 20 ? 0x110 : 0x128);
  const bool late = v >= 25;
  set(GcField::PauseTotalNs, late ? 0xdf8 : 0xe10);
  set(GcField::PauseNs, late ? 0xe00 : 0xe18);
  set(GcField::Numgc, late ? 0x1e00 : 0x1e18);
  set(GcField::Numforcedgc, late ? 0x1e04 : 0x1e1c);
  set(GcField::LastGcNanotime, late ? 0x1e10 : 0x1e28);
  return out;
}

Result<GcOffsets> resolve_gc_offsets(const ElfImage& image, const std::optional<GoVersion>& version) {
  auto dwarf = gc_offsets_from_dwarf(image);
  std::optional<Result<GcOffsets>> table;
  if (version) table = gc_offsets_from_table(*version, image.arch());
  if (!dwarf && !(table && table->ok()))
    return make_error("cannot determine the GC state's field offsets: {}; {}", dwarf.error().message,
                      table ? table->error().message : "the Go version is unknown");
  if (!dwarf) return std::move(**table);
  GcOffsets out = std::move(*dwarf);
  if (table && table->ok())
    for (size_t i = 0; i < kGcFieldCount; ++i)
      if (!out.fields[i].known() && (**table).fields[i].known()) out.fields[i] = (**table).fields[i];
  return out;
}

}  // namespace gotrace
