// Finding the pclntab, its header geometry, runtime.firstmoduledata and the
// text start, in every layout gotrace meets: .gopclntab,
// .data.rel.ro.gopclntab (PIE 1.19–1.25), the runtime.pclntab symbol, and
// files without section headers (a scan of the PT_LOAD bytes).
#include <elf.h>

#include <algorithm>
#include <array>

#include "pclntab_impl.h"

namespace gotrace::pcln {

namespace {

enum class MagicKind { None, Go12, Go116, Go118, Go120 };

MagicKind magic_kind(uint32_t m) {
  switch (m) {
    case kMagicGo12:
      return MagicKind::Go12;
    case kMagicGo116:
      return MagicKind::Go116;
    case kMagicGo118:
      return MagicKind::Go118;
    case kMagicGo120:
      return MagicKind::Go120;
    default:
      return MagicKind::None;
  }
}

// The magic as stored, in either byte order. Sets big if it was big-endian.
MagicKind read_magic(std::span<const uint8_t> bytes, bool& big) {
  if (bytes.size() < 4) return MagicKind::None;
  uint32_t le = load_u32(bytes.data(), false);
  if (auto k = magic_kind(le); k != MagicKind::None) {
    big = false;
    return k;
  }
  if (auto k = magic_kind(__builtin_bswap32(le)); k != MagicKind::None) {
    big = true;
    return k;
  }
  return MagicKind::None;
}

Error go12_error() {
  return make_error(
      "this is a Go 1.2–1.15 pclntab (magic 0xfffffffb); gotrace reads the tables of Go 1.16 and newer only");
}

// moduledata field positions, in pointer-sized words (src/runtime/symtab.go of
// each release; slices are 3 words). The table format does not pin the
// layout down: Go 1.27 kept the 1.20 pclntab magic but reshaped moduledata
// (1.27 symtab.go:415-426: `types, typedesclen, etypes`, then `itaboffset,
// itabsize` before rodata; the typelinks and itablinks slices are gone), so
// a Go120 table has two candidate layouts and the moduledata's own words
// decide between them (see plausible()).
struct ModuleLayout {
  unsigned text, etext, types, etypes, gofunc;  // gofunc 0 = none (1.16/1.17)
  // 1.27+: typedesclen, itaboffset, itabsize and epclntab (0 = not in this layout).
  unsigned typedesclen = 0, itaboffset = 0, itabsize = 0, epclntab = 0;
  const char* name;
};
constexpr ModuleLayout kLayout116{22, 23, 35, 36, 0, 0, 0, 0, 0, "1.16–1.17"};   // no rodata/gofunc
constexpr ModuleLayout kLayout118{22, 23, 35, 36, 38, 0, 0, 0, 0, "1.18–1.19"};  // + rodata, gofunc
constexpr ModuleLayout kLayout120{22, 23, 37, 38, 40, 0, 0, 0, 0, "1.20–1.26"};  // + covctrs, ecovctrs
constexpr ModuleLayout kLayout127{22, 23, 37, 39, 43, 38, 40, 41, 44, "1.27"};   // + typedesclen, itab*
std::span<const ModuleLayout> module_layouts(PclntabFormat f) {
  static constexpr ModuleLayout k116[] = {kLayout116}, k118[] = {kLayout118},
                                k120[] = {kLayout127, kLayout120};
  switch (f) {
    case PclntabFormat::Go116:
      return k116;
    case PclntabFormat::Go118:
      return k118;
    case PclntabFormat::Go120:
      break;
  }
  return k120;
}

bool in_exec_segment(const ElfImage& image, uint64_t lo, uint64_t hi) {
  const ElfSegment* seg = image.segment_of_vaddr(lo);
  if (!seg || !(seg->flags & PF_X)) return false;
  return hi >= lo && hi - seg->vaddr <= seg->memsz;
}

}  // namespace

Result<void> parse_header(Pclntab::Impl& impl, std::span<const uint8_t> bytes, uint64_t vaddr) {
  bool big = false;
  MagicKind kind = read_magic(bytes, big);
  if (kind == MagicKind::None) return make_error("no pclntab magic at {:#x}", vaddr);
  if (kind == MagicKind::Go12) return go12_error();
  if (bytes.size() < 8) return make_error("pclntab header at {:#x} is truncated", vaddr);
  uint8_t pad1 = bytes[4], pad2 = bytes[5], min_lc = bytes[6], ptr_size = bytes[7];
  if (pad1 != 0 || pad2 != 0) return make_error("pclntab header at {:#x} has non-zero padding", vaddr);
  if (min_lc != 1 && min_lc != 2 && min_lc != 4)
    return make_error("pclntab header at {:#x} has an invalid PC quantum {}", vaddr, min_lc);
  if (ptr_size != 4 && ptr_size != 8)
    return make_error("pclntab header at {:#x} has an invalid pointer size {}", vaddr, ptr_size);

  impl.table = bytes;
  impl.table_vaddr = vaddr;
  impl.big_endian = big;
  impl.quantum = min_lc;
  impl.ptr_size = ptr_size;
  impl.format = kind == MagicKind::Go116   ? PclntabFormat::Go116
                : kind == MagicKind::Go118 ? PclntabFormat::Go118
                                           : PclntabFormat::Go120;
  const bool go116 = impl.format == PclntabFormat::Go116;
  const unsigned nwords = go116 ? 7 : 8;
  const uint64_t header_size = 8 + uint64_t{nwords} * ptr_size;
  if (bytes.size() < header_size) return make_error("pclntab header at {:#x} is truncated", vaddr);
  std::array<uint64_t, 8> w{};
  for (unsigned i = 0; i < nwords; ++i) w[i] = impl.rdword(bytes.data() + 8 + i * ptr_size);
  uint64_t nfunc = w[0];
  impl.nfiles = w[1];
  unsigned k = 2;
  impl.header_text_start = go116 ? 0 : w[k++];
  uint64_t funcname_off = w[k++], cu_off = w[k++], filetab_off = w[k++], pctab_off = w[k++],
           pcln_off = w[k++];

  if (nfunc == 0 || nfunc >= (1u << 31))
    return make_error("pclntab at {:#x} claims {} functions", vaddr, nfunc);
  if (!(header_size <= funcname_off && funcname_off <= cu_off && cu_off <= filetab_off &&
        filetab_off <= pctab_off && pctab_off <= pcln_off && pcln_off <= bytes.size()))
    return make_error("pclntab at {:#x} has sub-table offsets outside its {} bytes", vaddr, bytes.size());
  impl.nfunc = static_cast<uint32_t>(nfunc);
  impl.funcname_offset = funcname_off;
  impl.funcnametab = bytes.subspan(funcname_off, cu_off - funcname_off);
  impl.cutab = bytes.subspan(cu_off, filetab_off - cu_off);
  impl.filetab = bytes.subspan(filetab_off, pctab_off - filetab_off);
  impl.pctab = bytes.subspan(pctab_off, pcln_off - pctab_off);
  impl.pclntable = bytes.subspan(pcln_off);

  impl.functab_stride = go116 ? 2 * ptr_size : 8;
  impl.func_header_size = go116 ? ptr_size + 36 : impl.format == PclntabFormat::Go118 ? 40 : 44;
  impl.inline_call_size = impl.format == PclntabFormat::Go120 ? 16 : 20;
  if ((nfunc + 1) * impl.functab_stride > impl.pclntable.size())
    return make_error("pclntab at {:#x}: the function table of {} entries does not fit", vaddr, nfunc);
  // The first record must be readable, or this is not a table at all.
  uint64_t off0 = impl.funcoff_at(0);
  if (off0 > impl.pclntable.size() || impl.pclntable.size() - off0 < impl.func_header_size)
    return make_error("pclntab at {:#x}: the first function record lies outside the table", vaddr);
  return {};
}

Result<TableLocation> locate_table(const ElfImage& image) {
  bool saw_go12 = false;
  auto plausible = [&](std::span<const uint8_t> bytes) {
    bool big = false;
    MagicKind k = read_magic(bytes, big);
    if (k == MagicKind::None) return false;
    // The fixed part of every header: zero padding, a PC quantum, a pointer size.
    bool shaped = bytes.size() >= 8 && bytes[4] == 0 && bytes[5] == 0 &&
                  (bytes[6] == 1 || bytes[6] == 2 || bytes[6] == 4) && (bytes[7] == 4 || bytes[7] == 8);
    if (k == MagicKind::Go12) {
      saw_go12 = saw_go12 || shaped;
      return false;
    }
    return shaped;
  };

  for (const char* name : {".gopclntab", ".data.rel.ro.gopclntab"}) {
    const ElfSection* s = image.section(name);
    if (!s || !s->has_file_bytes()) continue;
    auto bytes = image.section_bytes(*s);
    if (plausible(bytes)) return TableLocation{bytes, s->addr, name};
  }
  if (const ElfSymbol* sym = image.symbol("runtime.pclntab")) {
    auto bytes = image.bytes_from_vaddr(sym->value);
    if (const ElfSymbol* end = image.symbol("runtime.epclntab");
        end && end->value > sym->value && end->value - sym->value <= bytes.size())
      bytes = bytes.first(end->value - sym->value);
    if (plausible(bytes)) return TableLocation{bytes, sym->value, "runtime.pclntab symbol"};
  }
  // No section or symbol: look for a header that parses in the loaded bytes.
  for (const auto& seg : image.segments()) {
    if (seg.type != PT_LOAD) continue;
    auto bytes = image.bytes_from_vaddr(seg.vaddr);
    for (uint64_t off = (4 - seg.vaddr % 4) % 4; off + 8 <= bytes.size(); off += 4) {
      const uint8_t* p = bytes.data() + off;
      // Cheap prefilter: every magic is 0xfffffff? in one byte order or the other.
      if (!((p[1] == 0xff && p[2] == 0xff && (p[3] == 0xff || p[0] == 0xff)))) continue;
      auto rest = bytes.subspan(off);
      if (!plausible(rest)) continue;
      Pclntab::Impl probe;
      probe.image = &image;
      if (parse_header(probe, rest, seg.vaddr + off).ok())
        return TableLocation{rest, seg.vaddr + off, "scan of PT_LOAD segments"};
    }
  }
  if (saw_go12) return go12_error();
  return make_error(
      "no Go pclntab found (no .gopclntab section, no runtime.pclntab symbol, and no table header "
      "in the loaded segments): not a Go 1.16+ program");
}

std::optional<ModuleData> locate_moduledata(const ElfImage& image, const Pclntab::Impl& impl) {
  const auto layouts = module_layouts(impl.format);
  const unsigned ps = impl.ptr_size;
  uint64_t words = 0;
  for (const auto& l : layouts)
    words = std::max<uint64_t>({words, l.text, l.etext, l.types, l.etypes, l.gofunc, l.epclntab});
  ++words;
  const uint64_t want_names = impl.table_vaddr + impl.funcname_offset;

  // Does this layout read as a moduledata? Every layout needs a non-empty
  // type range and text range; the 1.27 layout also needs its type
  // descriptor and itab lengths to fit in that range and epclntab to end
  // the table. Read the other way round, each layout fails on the other's
  // words: in 1.20–1.26 word 39 is rodata, which never lies past types, and
  // in 1.27 word 38 is a length, never an address past types.
  auto plausible = [&](const ModuleLayout& l, auto w) {
    const uint64_t types = w(l.types), etypes = w(l.etypes);
    if (!(types && etypes > types && w(l.text) && w(l.etext) > w(l.text))) return false;
    if (!l.epclntab) return true;
    const uint64_t span = etypes - types, end = w(l.epclntab);
    return w(l.typedesclen) <= span && w(l.itaboffset) <= span && w(l.itabsize) <= span - w(l.itaboffset) &&
           end > impl.table_vaddr && end - impl.table_vaddr <= impl.table.size() &&
           end - impl.table_vaddr >= static_cast<uint64_t>(impl.pclntable.data() - impl.table.data());
  };
  auto decode = [&](std::span<const uint8_t> bytes, uint64_t vaddr) -> std::optional<ModuleData> {
    if (bytes.size() < words * ps) return std::nullopt;
    auto w = [&](unsigned i) { return pcln::load_word(bytes.data() + i * ps, ps, impl.big_endian); };
    if (w(0) != impl.table_vaddr || w(1) != want_names) return std::nullopt;
    for (const ModuleLayout& lay : layouts) {
      if (!plausible(lay, w)) continue;
      ModuleData md;
      md.vaddr = vaddr;
      md.text = w(lay.text);
      md.etext = w(lay.etext);
      md.types = w(lay.types);
      md.etypes = w(lay.etypes);
      md.gofunc = lay.gofunc ? w(lay.gofunc) : 0;
      md.layout = lay.name;
      return md;
    }
    return std::nullopt;
  };
  auto scan = [&](std::span<const uint8_t> bytes, uint64_t vaddr) -> std::optional<ModuleData> {
    for (uint64_t off = (ps - vaddr % ps) % ps; off + uint64_t{ps} * 2 <= bytes.size(); off += ps) {
      if (pcln::load_word(bytes.data() + off, ps, impl.big_endian) != impl.table_vaddr) continue;
      if (auto md = decode(bytes.subspan(off), vaddr + off)) return md;
    }
    return std::nullopt;
  };

  if (const ElfSymbol* sym = image.symbol("runtime.firstmoduledata"))
    if (auto md = decode(image.bytes_from_vaddr(sym->value), sym->value)) return md;
  bool had_sections = false;
  for (const char* name : {".go.module", ".noptrdata"}) {
    const ElfSection* s = image.section(name);
    if (!s || !s->has_file_bytes()) continue;
    had_sections = true;
    if (auto md = scan(image.section_bytes(*s), s->addr)) return md;
  }
  if (had_sections) return std::nullopt;
  for (const auto& seg : image.segments()) {
    if (seg.type != PT_LOAD || !(seg.flags & PF_W)) continue;
    if (auto md = scan(image.bytes_from_vaddr(seg.vaddr), seg.vaddr)) return md;
  }
  return std::nullopt;
}

Result<uint64_t> choose_text_start(const ElfImage& image, const Pclntab::Impl& impl) {
  if (impl.format == PclntabFormat::Go116) {
    // Entries are absolute; text_start is informational.
    if (impl.moduledata && impl.moduledata->text) return impl.moduledata->text;
    if (const ElfSymbol* s = image.symbol("runtime.text")) return s->value;
    return impl.entry_at(0);
  }
  const uint64_t first = impl.rd32(impl.pclntable.data());
  const uint64_t last = impl.rd32(impl.pclntable.data() + uint64_t{impl.nfunc} * impl.functab_stride);
  auto fits = [&](uint64_t t) { return t != 0 && in_exec_segment(image, t + first, t + last); };

  if (impl.moduledata && fits(impl.moduledata->text)) return impl.moduledata->text;
  if (const ElfSymbol* s = image.symbol("runtime.text"); s && fits(s->value)) return s->value;
  // 1.18–1.25 store it in the header too (0 in 1.26; possibly unrelocated in PIE).
  if (fits(impl.header_text_start)) return impl.header_text_start;
  if (const ElfSection* s = image.section(".text"); s && fits(s->addr)) return s->addr;
  return make_error(
      "cannot tell where the functions of the pclntab at {:#x} start: no moduledata, no "
      "runtime.text symbol and no usable .text section",
      impl.table_vaddr);
}

}  // namespace gotrace::pcln
