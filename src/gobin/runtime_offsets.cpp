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
        f == RtField::GSyscallbp || f == RtField::GLockedm)
      continue;
    if (!fields[i].known()) return false;
  }
  return true;
}

namespace {

// The sections type lookups need: DIEs, abbreviations and the string tables
// DWARF 4/5 strings may live in. Line, frame, location and range tables are
// left out, which spares decompressing them (most of the debug data).
bool needed_debug_section(std::string_view name) {
  if (name.starts_with(".zdebug_"))
    name.remove_prefix(8);
  else if (name.starts_with(".debug_"))
    name.remove_prefix(7);
  else
    return false;
  return name == "info" || name == "abbrev" || name == "str" || name == "str_offsets" || name == "line_str" ||
         name == "addr";
}

// libdw decompresses SHF_COMPRESSED sections through elf_compress, which
// rewrites the section header in the ELF image it was given. The image's own
// bytes may be a read-only file mapping, and other modules read them, so
// libdw gets a private, sparse copy instead: an anonymous mapping the size of
// the file holding only the ELF header, the program and section header
// tables, the section name table and the debug sections it needs. Pages never written
// cost nothing.
class DwarfSession {
 public:
  ~DwarfSession() {
    if (dwarf_) dwarf_end(dwarf_);
    if (elf_) elf_end(elf_);
    if (map_) munmap(map_, size_);
  }
  DwarfSession() = default;
  DwarfSession(const DwarfSession&) = delete;
  DwarfSession& operator=(const DwarfSession&) = delete;

  Result<void> open(const ElfImage& image) {
    auto file = image.file_bytes();
    GElf_Ehdr eh;
    if (file.empty() || !gelf_getehdr(image.elf(), &eh))
      return make_error("{}: bad ELF header", image.path());
    size_ = file.size();
    void* m =
        mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return make_error("{}: cannot map {} bytes for DWARF reading", image.path(), size_);
    map_ = m;
    auto* dst = static_cast<uint8_t*>(map_);
    auto copy = [&](uint64_t off, uint64_t n) {
      if (off >= size_) return;
      n = std::min<uint64_t>(n, size_ - off);
      std::memcpy(dst + off, file.data() + off, n);
    };
    copy(0, std::max<uint64_t>(eh.e_ehsize, sizeof(Elf64_Ehdr)));
    size_t phnum = 0, shnum = 0, shstrndx = 0;
    if (elf_getphdrnum(image.elf(), &phnum) == 0) copy(eh.e_phoff, uint64_t{eh.e_phentsize} * phnum);
    if (elf_getshdrnum(image.elf(), &shnum) == 0)
      copy(eh.e_shoff, uint64_t{eh.e_shentsize} * std::max<size_t>(shnum, 1));
    bool names = elf_getshdrstrndx(image.elf(), &shstrndx) == 0;
    size_t index = 0;
    for (Elf_Scn* scn = elf_nextscn(image.elf(), nullptr); scn; scn = elf_nextscn(image.elf(), scn)) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS) continue;
      index = elf_ndxscn(scn);
      const char* n = names ? elf_strptr(image.elf(), shstrndx, sh.sh_name) : nullptr;
      bool wanted = index == shstrndx || (n && needed_debug_section(n));
      if (wanted) copy(sh.sh_offset, sh.sh_size);
    }
    elf_ = elf_memory(static_cast<char*>(map_), size_);
    if (!elf_) return make_error("{}: cannot read the ELF file for DWARF: {}", image.path(), elf_errmsg(-1));
    dwarf_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
    if (!dwarf_) return make_error("{}: cannot read DWARF: {}", image.path(), dwarf_errmsg(-1));
    return {};
  }
  Dwarf* get() const { return dwarf_; }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
  Elf* elf_ = nullptr;
  Dwarf* dwarf_ = nullptr;
};

// A member's constant DW_AT_data_member_location (or the DWARF 2 form
// DW_OP_plus_uconst N); -1 when it has neither.
int64_t member_location(Dwarf_Die* member) {
  Dwarf_Attribute attr;
  if (!dwarf_attr(member, DW_AT_data_member_location, &attr)) return -1;
  Dwarf_Word value = 0;
  if (dwarf_formudata(&attr, &value) == 0) return value > (1u << 30) ? -1 : static_cast<int64_t>(value);
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_getlocation(&attr, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_plus_uconst)
    return ops[0].number > (1u << 30) ? -1 : static_cast<int64_t>(ops[0].number);
  return -1;
}

// The member `name` of struct `st`: its offset and, if `type_out` is given,
// its type with typedefs and qualifiers peeled off. -1 when absent.
int64_t find_member(Dwarf_Die* st, std::string_view name, Dwarf_Die* type_out = nullptr) {
  Dwarf_Die child;
  if (dwarf_child(st, &child) != 0) return -1;
  do {
    if (dwarf_tag(&child) != DW_TAG_member) continue;
    const char* n = dwarf_diename(&child);
    if (!n || name != n) continue;
    int64_t off = member_location(&child);
    if (type_out) {
      Dwarf_Attribute attr;
      Dwarf_Die type;
      if (!dwarf_attr(&child, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &type) ||
          dwarf_peel_type(&type, type_out) != 0)
        return -1;
    }
    return off;
  } while (dwarf_siblingof(&child, &child) == 0);
  return -1;
}

// nested.field inside st: offset(st.outer) + offset(outer's type.inner).
int64_t find_nested(Dwarf_Die* st, std::string_view outer, std::string_view inner) {
  Dwarf_Die type;
  int64_t base = find_member(st, outer, &type);
  if (base < 0 || dwarf_tag(&type) != DW_TAG_structure_type) return -1;
  int64_t off = find_member(&type, inner);
  return off < 0 ? -1 : base + off;
}

struct Wanted {
  const char* name;
  bool found = false;
  Dwarf_Die die{};
};

// Looks at the top-level DIEs of one unit for the wanted structs.
void scan_unit(Dwarf_Die* cudie, std::vector<Wanted>& wanted, size_t& remaining) {
  Dwarf_Die die;
  if (dwarf_child(cudie, &die) != 0) return;
  do {
    if (dwarf_tag(&die) != DW_TAG_structure_type) continue;
    const char* n = dwarf_diename(&die);
    if (!n || std::strncmp(n, "runtime.", 8) != 0) continue;
    for (auto& w : wanted) {
      if (!w.found && std::strcmp(n, w.name) == 0 && !dwarf_hasattr(&die, DW_AT_declaration)) {
        w.found = true;
        w.die = die;
        --remaining;
        break;
      }
    }
  } while (remaining > 0 && dwarf_siblingof(&die, &die) == 0);
}

}  // namespace

Result<RuntimeOffsets> offsets_from_dwarf(const ElfImage& image) {
  if (!image.has_dwarf())
    return make_error("{} has no DWARF debug information (built with -ldflags=-w or stripped)", image.path());
  DwarfSession dw;
  if (auto r = dw.open(image); !r) return r.error();

  std::vector<Wanted> wanted = {{"runtime.g"}, {"runtime.m"}, {"runtime.sudog"}, {"runtime.pollDesc"}};
  size_t remaining = wanted.size();

  // Pass 0: only the unit named "runtime" (where the Go linker puts the
  // runtime's types); pass 1: every unit, in case some other linker did not,
  // but only when g or m is still missing (not for an unused pollDesc).
  for (int pass = 0; pass < 2 && remaining > 0; ++pass) {
    if (pass == 1 && wanted[0].found && wanted[1].found) break;
    Dwarf_CU* cu = nullptr;
    Dwarf_CU* next = nullptr;
    Dwarf_Half version = 0;
    uint8_t unit_type = 0;
    Dwarf_Die cudie;
    size_t units = 0;
    while (remaining > 0 &&
           dwarf_get_units(dw.get(), cu, &next, &version, &unit_type, &cudie, nullptr) == 0) {
      cu = next;
      if (++units > 1000000) break;  // corrupt unit chain
      if (dwarf_tag(&cudie) != DW_TAG_compile_unit && dwarf_tag(&cudie) != DW_TAG_partial_unit) continue;
      const char* name = dwarf_diename(&cudie);
      bool is_runtime = name && std::strcmp(name, "runtime") == 0;
      if (pass == 0 ? !is_runtime : is_runtime) continue;
      scan_unit(&cudie, wanted, remaining);
    }
  }

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
