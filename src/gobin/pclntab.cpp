// Pclntab: load() and the queries. Loading reads only the header and finds
// moduledata; functions are decoded on demand straight from the mapped bytes
// (no per-function allocation), and the name index is built on first use.
#include "pclntab_impl.h"

namespace gotrace {

using pcln::FuncView;

std::string_view format_name(PclntabFormat f) {
  switch (f) {
    case PclntabFormat::Go116:
      return "go1.16";
    case PclntabFormat::Go118:
      return "go1.18";
    case PclntabFormat::Go120:
      return "go1.20";
  }
  return "unknown";
}

// --- Impl: raw decoding ---------------------------------------------------

bool Pclntab::Impl::decode_func(uint32_t index, FuncView& f) const {
  if (index >= nfunc) return false;
  f.index = index;
  const uint64_t funcoff = funcoff_at(index);
  const uint64_t size = pclntable.size();
  if (funcoff > size || size - funcoff < func_header_size) return false;
  const uint8_t* p = pclntable.data() + funcoff;
  const uint8_t* fields = p + 4;
  if (format == PclntabFormat::Go116) {
    f.entry = rdword(p);
    fields = p + ptr_size;
  } else {
    f.entry = entry_at(index);
  }
  f.name_off = static_cast<int32_t>(rd32(fields));
  f.pcsp = rd32(fields + 12);
  f.pcfile = rd32(fields + 16);
  f.pcln = rd32(fields + 20);
  f.npcdata = rd32(fields + 24);
  f.cu_offset = rd32(fields + 28);
  f.nfuncdata = p[func_header_size - 1];

  uint64_t pos = funcoff + func_header_size;
  if (uint64_t{f.npcdata} * 4 > size - pos) return false;
  f.pcdata = pclntable.data() + pos;
  pos += uint64_t{f.npcdata} * 4;
  uint64_t slot = 4;
  if (format == PclntabFormat::Go116) {
    slot = ptr_size;
    // funcdata pointers are aligned to the pointer size in memory.
    uint64_t addr = table_vaddr + static_cast<uint64_t>(pclntable.data() - table.data()) + pos;
    if (ptr_size == 8 && (addr & 4)) pos += 4;
  }
  if (pos > size || uint64_t{f.nfuncdata} * slot > size - pos) return false;
  f.funcdata = pclntable.data() + pos;
  return true;
}

std::string_view Pclntab::Impl::func_name(int32_t name_off) const {
  if (name_off < 0 || static_cast<uint64_t>(name_off) >= funcnametab.size()) return {};
  const char* s = reinterpret_cast<const char*>(funcnametab.data()) + name_off;
  size_t limit = funcnametab.size() - static_cast<size_t>(name_off);
  const void* nul = std::memchr(s, 0, limit);
  return nul ? std::string_view(s, static_cast<const char*>(nul) - s) : std::string_view();
}

std::string_view Pclntab::Impl::file_name(uint32_t cu_offset, int32_t fileno) const {
  if (fileno < 0) return {};
  uint64_t idx = uint64_t{cu_offset} + static_cast<uint32_t>(fileno);
  if (idx >= cutab.size() / 4) return {};
  uint32_t off = rd32(cutab.data() + idx * 4);
  if (off == UINT32_MAX || off >= filetab.size()) return {};
  const char* s = reinterpret_cast<const char*>(filetab.data()) + off;
  const void* nul = std::memchr(s, 0, filetab.size() - off);
  return nul ? std::string_view(s, static_cast<const char*>(nul) - s) : std::string_view();
}

bool Pclntab::Impl::inline_entry(const FuncView& f, int32_t ix, int32_t& name_off, int32_t& parent_pc) const {
  if (ix < 0 || f.nfuncdata <= static_cast<uint32_t>(pcln::kFuncdataInlTree)) return false;
  const uint64_t at = uint64_t{static_cast<uint32_t>(ix)} * inline_call_size;
  const uint8_t* rec = nullptr;
  if (format == PclntabFormat::Go116) {
    uint64_t base = rdword(f.funcdata + pcln::kFuncdataInlTree * ptr_size);
    if (base == 0 || !image) return false;
    auto bytes = image->bytes_at_vaddr(base + at, inline_call_size);
    if (!bytes) return false;
    rec = bytes->data();
  } else {
    uint32_t off = rd32(f.funcdata + pcln::kFuncdataInlTree * 4);
    if (off == UINT32_MAX) return false;
    uint64_t pos = uint64_t{off} + at;
    if (pos > gofunc_bytes.size() || gofunc_bytes.size() - pos < inline_call_size) return false;
    rec = gofunc_bytes.data() + pos;
  }
  if (format == PclntabFormat::Go120) {
    // {funcID u8, _ [3]u8, nameOff i32, parentPc i32, startLine i32}
    name_off = static_cast<int32_t>(rd32(rec + 4));
    parent_pc = static_cast<int32_t>(rd32(rec + 8));
  } else {
    // {parent i16, funcID u8, _ u8, file i32, line i32, func_ i32, parentPc i32}
    name_off = static_cast<int32_t>(rd32(rec + 12));
    parent_pc = static_cast<int32_t>(rd32(rec + 16));
  }
  return true;
}

bool Pclntab::Impl::has_inline_tree(const FuncView& f) const {
  if (f.npcdata <= static_cast<uint32_t>(pcln::kPcdataInlTreeIndex) ||
      f.nfuncdata <= static_cast<uint32_t>(pcln::kFuncdataInlTree))
    return false;
  if (format == PclntabFormat::Go116) return rdword(f.funcdata + pcln::kFuncdataInlTree * ptr_size) != 0;
  return rd32(f.funcdata + pcln::kFuncdataInlTree * 4) != UINT32_MAX;
}

std::string_view Pclntab::Impl::name_of_index(uint32_t index) const {
  if (index >= nfunc) return {};
  uint64_t pos = funcoff_at(index) + (format == PclntabFormat::Go116 ? ptr_size : 4);
  if (pos > pclntable.size() || pclntable.size() - pos < 4) return {};
  return func_name(static_cast<int32_t>(rd32(pclntable.data() + pos)));
}

std::string_view Pclntab::Impl::file_at_entry(uint32_t index) const {
  FuncView f;
  if (!decode_func(index, f)) return {};
  auto fileno = pcvalue(f, pcln::PcTable::File, f.entry);
  return fileno ? file_name(f.cu_offset, *fileno) : std::string_view();
}

void Pclntab::Impl::build_name_index() const {
  by_name.reserve(nfunc);
  for (uint32_t i = 0; i < nfunc; ++i) {
    std::string_view name = name_of_index(i);
    if (name.empty()) continue;
    auto [it, fresh] = by_name.emplace(name, i);
    if (fresh) continue;
    // A function and its ABI wrapper share a name in the table; the ELF
    // symbol table calls the ABIInternal one X and the ABI0 one X.abi0.
    // Assembly is ABI0 (its wrapper ABIInternal); for Go code called from
    // assembly the wrapper is the ABI0 one. Other duplicates: the first wins.
    uint32_t prev = it->second;
    std::string_view prev_file = file_at_entry(prev), this_file = file_at_entry(i);
    auto is_asm = [](std::string_view f) { return f.size() > 2 && f.substr(f.size() - 2) == ".s"; };
    constexpr std::string_view kAuto = "<autogenerated>";
    uint32_t abi0;
    if (is_asm(prev_file) && this_file == kAuto)
      abi0 = prev;
    else if (is_asm(this_file) && prev_file == kAuto)
      abi0 = i;
    else if (prev_file == kAuto && this_file != kAuto)
      abi0 = prev;
    else if (this_file == kAuto && prev_file != kAuto)
      abi0 = i;
    else
      continue;
    it->second = abi0 == i ? prev : i;
    const std::string& alias = alias_names.emplace_back(std::string(name) + ".abi0");
    by_name.emplace(alias, abi0);
  }
}

// --- load -------------------------------------------------------------------

namespace {

Result<std::unique_ptr<Pclntab::Impl>> parse(const ElfImage& image, std::span<const uint8_t> table,
                                             uint64_t vaddr, std::string source) {
  auto impl = std::make_unique<Pclntab::Impl>();
  impl->image = &image;
  impl->source = std::move(source);
  if (auto r = pcln::parse_header(*impl, table, vaddr); !r) return r.error();
  impl->moduledata = pcln::locate_moduledata(image, *impl);
  auto text = pcln::choose_text_start(image, *impl);
  if (!text) return text.error();
  impl->text_start = *text;
  if (impl->format != PclntabFormat::Go116) {
    uint64_t gofunc = impl->moduledata ? impl->moduledata->gofunc : 0;
    if (!gofunc) {
      const char* sym = impl->format == PclntabFormat::Go120 ? "go:func.*" : "go.func.*";
      if (const ElfSymbol* s = image.symbol(sym)) gofunc = s->value;
    }
    if (gofunc) impl->gofunc_bytes = image.bytes_from_vaddr(gofunc);
  }
  return impl;
}

}  // namespace

Pclntab::Pclntab(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pclntab::~Pclntab() = default;

Result<std::unique_ptr<Pclntab>> Pclntab::load(const ElfImage& image) {
  auto loc = pcln::locate_table(image);
  if (!loc) return Error{fmt::format("{}: {}", image.path(), loc.error().message)};
  auto impl = parse(image, loc->bytes, loc->vaddr, loc->source);
  if (!impl) return Error{fmt::format("{}: reading {}: {}", image.path(), loc->source, impl.error().message)};
  return std::unique_ptr<Pclntab>(new Pclntab(std::move(*impl)));
}

Result<std::unique_ptr<Pclntab>> Pclntab::load(const ElfImage& image, std::span<const uint8_t> table,
                                               uint64_t table_vaddr) {
  auto impl = parse(image, table, table_vaddr, "caller");
  if (!impl) return impl.error();
  return std::unique_ptr<Pclntab>(new Pclntab(std::move(*impl)));
}

// --- queries ----------------------------------------------------------------

std::string_view Pclntab::source() const { return impl_->source; }
PclntabFormat Pclntab::format() const { return impl_->format; }
uint64_t Pclntab::table_vaddr() const { return impl_->table_vaddr; }
uint64_t Pclntab::text_start() const { return impl_->text_start; }
unsigned Pclntab::pc_quantum() const { return impl_->quantum; }
unsigned Pclntab::ptr_size() const { return impl_->ptr_size; }
size_t Pclntab::function_count() const { return impl_->nfunc; }
const std::optional<ModuleData>& Pclntab::moduledata() const { return impl_->moduledata; }

GoFunc Pclntab::function_by_index(size_t i) const {
  const Impl& m = *impl_;
  if (i >= m.nfunc) return {};
  auto idx = static_cast<uint32_t>(i);
  return GoFunc{m.entry_at(idx), m.entry_at(idx + 1), m.name_of_index(idx), idx};
}

std::optional<GoFunc> Pclntab::function_at(uint64_t pc) const {
  auto idx = impl_->find_index(pc);
  if (!idx) return std::nullopt;
  return function_by_index(*idx);
}

std::optional<GoFunc> Pclntab::function_by_name(std::string_view name) const {
  std::call_once(impl_->names_once, [this] { impl_->build_name_index(); });
  auto it = impl_->by_name.find(name);
  // Assembly without a wrapper is "X.abi0" in the ELF symbol table, X here.
  constexpr std::string_view kAbi0 = ".abi0";
  if (it == impl_->by_name.end() && name.size() > kAbi0.size() && name.ends_with(kAbi0))
    it = impl_->by_name.find(name.substr(0, name.size() - kAbi0.size()));
  if (it == impl_->by_name.end()) return std::nullopt;
  return function_by_index(it->second);
}

void Pclntab::symbolize(uint64_t pc, std::vector<GoFrame>& out) const {
  Impl& m = *impl_;
  // The cache (~700 KB) pays off only for a table that is queried a lot.
  if (m.uncached_calls.load(std::memory_order_relaxed) < pcln::ResultCache::kWarmup) {
    m.uncached_calls.fetch_add(1, std::memory_order_relaxed);
    m.symbolize_uncached(pc, out);
    return;
  }
  std::call_once(m.results_once, [&m] { m.results = std::make_unique<pcln::ResultCache>(); });
  pcln::ResultCache& cache = *m.results;
  const size_t slot = pcln::ResultCache::slot_of(pc);
  {
    std::lock_guard lock(cache.stripe(slot));
    const auto& e = cache.slots[slot];
    if (e.valid && e.pc == pc) {
      out.assign(e.frames, e.frames + e.n);
      return;
    }
  }
  m.symbolize_uncached(pc, out);
  if (out.size() <= pcln::ResultCache::kMaxFrames) {
    std::lock_guard lock(cache.stripe(slot));
    auto& e = cache.slots[slot];
    e.valid = true;
    e.pc = pc;
    e.n = static_cast<uint8_t>(out.size());
    std::copy(out.begin(), out.end(), e.frames);
  }
}

void Pclntab::Impl::symbolize_uncached(uint64_t pc, std::vector<GoFrame>& out) const {
  out.clear();
  const Impl& m = *this;
  auto idx = m.find_index(pc);
  FuncView f;
  if (!idx || !m.decode_func(*idx, f)) return;
  auto frame = [&](std::string_view name, uint64_t at, bool inlined) {
    GoFrame fr;
    fr.function = name;
    fr.inlined = inlined;
    if (auto fileno = m.pcvalue(f, pcln::PcTable::File, at)) fr.file = m.file_name(f.cu_offset, *fileno);
    if (auto line = m.pcvalue(f, pcln::PcTable::Line, at)) fr.line = *line;
    out.push_back(fr);
  };
  uint64_t cur = pc;
  const int max_depth = m.has_inline_tree(f) ? pcln::kMaxInlineDepth : 0;
  for (int depth = 0; depth < max_depth; ++depth) {
    auto ix = m.pcvalue(f, pcln::PcTable::Inline, cur);
    int32_t name_off, parent_pc;
    if (!ix || *ix < 0 || !m.inline_entry(f, *ix, name_off, parent_pc)) break;
    frame(m.func_name(name_off), cur, true);
    cur = f.entry + static_cast<uint32_t>(parent_pc);  // an instruction at the call site, in the caller
  }
  frame(m.func_name(f.name_off), cur, false);
}

std::vector<GoFrame> Pclntab::symbolize(uint64_t pc) const {
  std::vector<GoFrame> out;
  symbolize(pc, out);
  return out;
}

std::optional<GoFrame> Pclntab::line_of(uint64_t pc) const {
  const Impl& m = *impl_;
  auto idx = m.find_index(pc);
  FuncView f;
  if (!idx || !m.decode_func(*idx, f)) return std::nullopt;
  GoFrame fr;
  fr.function = m.func_name(f.name_off);
  if (auto fileno = m.pcvalue(f, pcln::PcTable::File, pc)) fr.file = m.file_name(f.cu_offset, *fileno);
  if (auto line = m.pcvalue(f, pcln::PcTable::Line, pc)) fr.line = *line;
  return fr;
}

std::optional<int32_t> Pclntab::sp_delta(uint64_t pc) const {
  const Impl& m = *impl_;
  auto idx = m.find_index(pc);
  FuncView f;
  if (!idx || !m.decode_func(*idx, f)) return std::nullopt;
  return m.pcvalue(f, pcln::PcTable::Sp, pc);
}

}  // namespace gotrace
