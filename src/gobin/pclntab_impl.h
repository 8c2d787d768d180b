// Private to src/gobin/pclntab*.cpp: the parsed state of one .gopclntab and
// the raw, bounds-checked readers the queries are built from.
//
// Everything here points into the mapped file; nothing is copied at load, and
// the per-function work (functab search, _func decode, pcvalue tables) is done
// on demand. Every read is checked against the span it comes from, because
// the bytes are untrusted.
#pragma once

#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "gotrace/gobin/pclntab.h"

namespace gotrace {

namespace pcln {

inline constexpr uint32_t kMagicGo12 = 0xfffffffb;
inline constexpr uint32_t kMagicGo116 = 0xfffffffa;
inline constexpr uint32_t kMagicGo118 = 0xfffffff0;
inline constexpr uint32_t kMagicGo120 = 0xfffffff1;

inline constexpr int kPcdataInlTreeIndex = 2;
inline constexpr int kFuncdataInlTree = 3;
inline constexpr int kMaxInlineDepth = 128;  // guards against cyclic trees in corrupt data

// Raw little/big-endian loads; callers have checked the bounds.
inline uint32_t load_u32(const uint8_t* p, bool big) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return big ? __builtin_bswap32(v) : v;
}
inline uint64_t load_u64(const uint8_t* p, bool big) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return big ? __builtin_bswap64(v) : v;
}
inline uint64_t load_word(const uint8_t* p, unsigned ptr_size, bool big) {
  return ptr_size == 8 ? load_u64(p, big) : load_u32(p, big);
}

// Go's readvarint: up to 5 bytes, 7 bits each, LSB first.
inline bool read_varint(const uint8_t*& p, const uint8_t* end, uint32_t& out) {
  if (p < end && *p < 0x80) {
    out = *p++;
    return true;
  }
  uint32_t v = 0;
  for (unsigned shift = 0; p < end && shift < 35; shift += 7) {
    uint8_t b = *p++;
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      out = v;
      return true;
    }
  }
  return false;
}

// Decoder state after some entries of a pcvalue table, relative to the
// function entry: lets a query on a long table resume near its target.
struct Checkpoint {
  uint32_t pc_off;  // end PC of the entry, minus the function entry
  uint32_t val;     // its value
  uint32_t pos;     // offset in pctab of the next entry
};

struct CheckpointTable {
  std::vector<Checkpoint> cps;
};

// The pcvalue tables symbolization reads, each with its checkpoint slot.
enum class PcTable : unsigned { Sp = 0, File = 1, Line = 2, Inline = 3 };
inline constexpr unsigned kPcTables = 4;

// Recent symbolize() results: PCs repeat (a traced program's stacks do), and
// a hit costs a hash and a copy instead of the table walk. Direct-mapped,
// lock-striped so that queries from several threads stay safe.
struct ResultCache {
  static constexpr size_t kSlots = 4096;  // power of two
  static constexpr size_t kStripes = 64;
  static constexpr size_t kMaxFrames = 4;    // deeper expansions are not cached
  static constexpr uint32_t kWarmup = 1024;  // calls answered before the cache is made
  struct Entry {
    uint64_t pc = 0;
    bool valid = false;
    uint8_t n = 0;
    GoFrame frames[kMaxFrames];
  };
  static size_t slot_of(uint64_t pc) { return (pc * 0x9e3779b97f4a7c15ull) >> 52; }  // top 12 bits
  std::mutex& stripe(size_t slot) { return stripes[slot % kStripes]; }
  std::mutex stripes[kStripes];
  Entry slots[kSlots];
};
static_assert(ResultCache::kSlots == size_t{1} << 12);

// One decoded _func record. Pointers are into pclntable and already checked
// to hold npcdata u32s and nfuncdata funcdata slots.
struct FuncView {
  uint32_t index = 0;
  uint64_t entry = 0;
  int32_t name_off = 0;
  uint32_t pcsp = 0;
  uint32_t pcfile = 0;
  uint32_t pcln = 0;
  uint32_t npcdata = 0;
  uint32_t cu_offset = 0;
  uint32_t nfuncdata = 0;
  const uint8_t* pcdata = nullptr;
  const uint8_t* funcdata = nullptr;  // u32 offsets (1.18+) or absolute pointers (1.16)
};

// Where the table bytes were found (for load() and its error messages).
struct TableLocation {
  std::span<const uint8_t> bytes;  // from the pcHeader to the end of what is known to be the table
  uint64_t vaddr = 0;
  std::string source;  // ".gopclntab", "runtime.pclntab symbol", "scan of PT_LOAD segments", …
};

}  // namespace pcln

struct Pclntab::Impl {
  const ElfImage* image = nullptr;
  std::string source;
  std::span<const uint8_t> table;
  uint64_t table_vaddr = 0;
  PclntabFormat format = PclntabFormat::Go120;
  bool big_endian = false;
  unsigned quantum = 1;
  unsigned ptr_size = 8;
  uint32_t nfunc = 0;
  uint64_t nfiles = 0;
  uint64_t header_text_start = 0;  // the header's textStart word (1.18–1.25; 0 in 1.26)
  uint64_t funcname_offset = 0;
  uint64_t text_start = 0;

  std::span<const uint8_t> funcnametab, cutab, filetab, pctab, pclntable;
  unsigned functab_stride = 8;  // {u32,u32} or {uintptr,uintptr} (1.16)
  unsigned func_header_size = 44;
  unsigned inline_call_size = 16;

  std::optional<ModuleData> moduledata;
  std::span<const uint8_t> gofunc_bytes;  // moduledata.gofunc to the end of its segment (1.18+)

  // Lazily built accelerators; every query is safe to call from several threads.
  mutable std::once_flag buckets_once;
  mutable std::vector<uint32_t> bucket_first;  // first function of each text bucket
  mutable unsigned bucket_shift = 8;
  // Checkpoints of long pcvalue tables: kPcTables slots per function,
  // allocated on first need, filled lock-free (first writer wins).
  mutable std::once_flag slots_once;
  mutable std::unique_ptr<std::atomic<const pcln::CheckpointTable*>[]> checkpoint_slots;

  std::atomic<uint32_t> uncached_calls{0};
  std::once_flag results_once;
  std::unique_ptr<pcln::ResultCache> results;

  mutable std::once_flag names_once;
  mutable std::unordered_map<std::string_view, uint32_t> by_name;
  mutable std::deque<std::string> alias_names;  // "X.abi0" keys of by_name

  uint32_t rd32(const uint8_t* p) const { return pcln::load_u32(p, big_endian); }
  uint64_t rdword(const uint8_t* p) const { return pcln::load_word(p, ptr_size, big_endian); }

  // Entry PC of functab slot i (i <= nfunc; slot nfunc is the end sentinel).
  uint64_t entry_at(uint32_t i) const {
    const uint8_t* p = pclntable.data() + static_cast<size_t>(i) * functab_stride;
    if (format == PclntabFormat::Go116) return rdword(p);
    return text_start + rd32(p);
  }
  uint64_t funcoff_at(uint32_t i) const {
    const uint8_t* p = pclntable.data() + static_cast<size_t>(i) * functab_stride;
    if (format == PclntabFormat::Go116) return rdword(p + ptr_size);
    return rd32(p + 4);
  }
  // Index of the function containing pc.
  std::optional<uint32_t> find_index(uint64_t pc) const;
  void build_buckets() const;
  const pcln::CheckpointTable* checkpoints_of(const pcln::FuncView& f, pcln::PcTable which,
                                              uint32_t off) const;
  ~Impl();
  bool decode_func(uint32_t index, pcln::FuncView& out) const;
  // Value of one of f's tables at target (nullopt: no table, or target not covered).
  std::optional<int32_t> pcvalue(const pcln::FuncView& f, pcln::PcTable which, uint64_t target) const;
  std::string_view func_name(int32_t name_off) const;
  std::string_view file_name(uint32_t cu_offset, int32_t fileno) const;
  // The inline tree entry ix of f: its name offset and parentPc.
  bool inline_entry(const pcln::FuncView& f, int32_t ix, int32_t& name_off, int32_t& parent_pc) const;
  std::string_view name_of_index(uint32_t index) const;
  bool has_inline_tree(const pcln::FuncView& f) const;
  void symbolize_uncached(uint64_t pc, std::vector<GoFrame>& out) const;
  std::string_view file_at_entry(uint32_t index) const;
  void build_name_index() const;
};

namespace pcln {

// pclntab_locate.cpp
Result<TableLocation> locate_table(const ElfImage& image);
// Parses and validates the header; fills the table geometry of impl.
Result<void> parse_header(Pclntab::Impl& impl, std::span<const uint8_t> bytes, uint64_t vaddr);
// Finds runtime.firstmoduledata (symbol, sections, or a scan of writable segments).
std::optional<ModuleData> locate_moduledata(const ElfImage& image, const Pclntab::Impl& impl);
// Chooses what functab entry offsets are relative to.
Result<uint64_t> choose_text_start(const ElfImage& image, const Pclntab::Impl& impl);

}  // namespace pcln

}  // namespace gotrace
