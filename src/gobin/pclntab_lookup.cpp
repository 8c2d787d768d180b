// The two hot paths of symbolization: PC -> function (functab search, sped up
// by a bucket table built on first use) and PC -> value of a pcvalue table
// (a delta-encoded run read from the function entry, sped up for long tables
// by checkpoints recorded the first time each table is read past its start).
#include <algorithm>

#include "pclntab_impl.h"

namespace gotrace {

namespace {

constexpr int kDirectEntries = 8;       // entries read before consulting checkpoints
constexpr int kCheckpointInterval = 8;  // entries between checkpoints

enum class Step { Ok, End, Bad };

// Reads one (value delta, pc delta) pair of a pcvalue table.
inline Step step(const uint8_t*& p, const uint8_t* end, uint32_t& val, uint64_t& pc, bool first,
                 unsigned quantum) {
  uint32_t uv, pcdelta;
  if (!pcln::read_varint(p, end, uv)) return Step::Bad;
  if (uv == 0 && !first) return Step::End;
  val += (uv >> 1) ^ (0u - (uv & 1));  // zig-zag without a branch, in modular arithmetic
  if (!pcln::read_varint(p, end, pcdelta)) return Step::Bad;
  pc += uint64_t{pcdelta} * quantum;
  return Step::Ok;
}

}  // namespace

void Pclntab::Impl::build_buckets() const {
  // Bucket b covers [lo + b<<shift, lo + (b+1)<<shift) and records the
  // function containing its start; at most ~4 buckets per function.
  const uint64_t lo = entry_at(0), hi = entry_at(nfunc);
  if (hi <= lo) return;
  unsigned shift = 8;
  while (((hi - lo) >> shift) > uint64_t{nfunc} * 4) ++shift;
  const uint64_t nb = ((hi - lo) >> shift) + 1;
  bucket_first.resize(nb);
  uint32_t i = 0;
  for (uint64_t b = 0; b < nb; ++b) {
    const uint64_t start = lo + (b << shift);
    while (i + 1 < nfunc && entry_at(i + 1) <= start) ++i;
    bucket_first[b] = i;
  }
  bucket_shift = shift;
}

std::optional<uint32_t> Pclntab::Impl::find_index(uint64_t pc) const {
  std::call_once(buckets_once, [this] { build_buckets(); });
  if (bucket_first.empty()) return std::nullopt;  // an empty or unsorted table
  const uint64_t lo = entry_at(0);
  if (pc < lo || pc >= entry_at(nfunc)) return std::nullopt;
  const uint64_t b = (pc - lo) >> bucket_shift;
  if (b >= bucket_first.size()) return std::nullopt;
  // The answer lies in [first[b], first[b+1]]; find the last entry <= pc.
  uint32_t l = bucket_first[b];
  uint32_t h = b + 1 < bucket_first.size() ? std::min(bucket_first[b + 1] + 1, nfunc) : nfunc;
  if (l >= h) return l < nfunc ? std::optional<uint32_t>(l) : std::nullopt;
  if (format == PclntabFormat::Go116) {
    while (h - l > 1) {
      uint32_t mid = l + (h - l) / 2;
      if (entry_at(mid) <= pc)
        l = mid;
      else
        h = mid;
    }
    return l;
  }
  // 1.18+: compare the 32-bit offsets in place.
  if (pc - text_start > UINT32_MAX) return std::nullopt;
  const uint32_t off = static_cast<uint32_t>(pc - text_start);
  const uint8_t* tab = pclntable.data();
  while (h - l > 1) {
    uint32_t mid = l + (h - l) / 2;
    if (rd32(tab + size_t{mid} * 8) <= off)
      l = mid;
    else
      h = mid;
  }
  return l;
}

Pclntab::Impl::~Impl() {
  if (!checkpoint_slots) return;
  for (size_t i = 0; i < size_t{nfunc} * pcln::kPcTables; ++i) delete checkpoint_slots[i].load();
}

const pcln::CheckpointTable* Pclntab::Impl::checkpoints_of(const pcln::FuncView& f, pcln::PcTable which,
                                                           uint32_t off) const {
  std::call_once(slots_once, [this] {
    checkpoint_slots.reset(new std::atomic<const pcln::CheckpointTable*>[size_t{nfunc} * pcln::kPcTables]());
  });
  auto& slot = checkpoint_slots[size_t{f.index} * pcln::kPcTables + static_cast<unsigned>(which)];
  if (const auto* t = slot.load(std::memory_order_acquire)) return t;
  // Read the whole table once, recording the decoder state every few
  // entries, relative to the function entry.
  auto table = std::make_unique<pcln::CheckpointTable>();
  const uint8_t* base = pctab.data();
  const uint8_t* p = base + off;
  const uint8_t* end = base + pctab.size();
  uint32_t val = static_cast<uint32_t>(-1);
  uint64_t pc = 0;
  for (uint64_t n = 1;; ++n) {
    if (step(p, end, val, pc, n == 1, quantum) != Step::Ok || pc > UINT32_MAX) break;
    if (n % kCheckpointInterval == 0)
      table->cps.push_back({static_cast<uint32_t>(pc), val, static_cast<uint32_t>(p - base)});
  }
  table->cps.shrink_to_fit();
  const pcln::CheckpointTable* expected = nullptr;
  if (slot.compare_exchange_strong(expected, table.get(), std::memory_order_acq_rel)) return table.release();
  return expected;  // another thread was first; ours is dropped
}

std::optional<int32_t> Pclntab::Impl::pcvalue(const pcln::FuncView& f, pcln::PcTable which,
                                              uint64_t target) const {
  uint32_t off = 0;
  switch (which) {
    case pcln::PcTable::Sp:
      off = f.pcsp;
      break;
    case pcln::PcTable::File:
      off = f.pcfile;
      break;
    case pcln::PcTable::Line:
      off = f.pcln;
      break;
    case pcln::PcTable::Inline:
      if (f.npcdata <= pcln::kPcdataInlTreeIndex) return std::nullopt;
      off = rd32(f.pcdata + pcln::kPcdataInlTreeIndex * 4);
      break;
  }
  if (off == 0 || off >= pctab.size()) return std::nullopt;
  const uint8_t* p = pctab.data() + off;
  const uint8_t* end = pctab.data() + pctab.size();
  uint32_t val = static_cast<uint32_t>(-1);
  uint64_t pc = f.entry;
  // Most tables are short: read them from the start.
  for (int n = 0; n < kDirectEntries; ++n) {
    if (step(p, end, val, pc, n == 0, quantum) != Step::Ok) return std::nullopt;
    if (target < pc) return static_cast<int32_t>(val);
  }
  // A long one: resume from the last checkpoint at or before target.
  const pcln::CheckpointTable* table = checkpoints_of(f, which, off);
  if (!table->cps.empty() && target - f.entry <= UINT32_MAX) {
    const uint32_t t = static_cast<uint32_t>(target - f.entry);
    const auto& cps = table->cps;
    auto it = std::upper_bound(cps.begin(), cps.end(), t,
                               [](uint32_t v, const pcln::Checkpoint& c) { return v < c.pc_off; });
    if (it != cps.begin()) {
      --it;
      if (f.entry + it->pc_off > pc) {
        pc = f.entry + it->pc_off;
        val = it->val;
        p = pctab.data() + it->pos;
      }
    }
  }
  for (;;) {
    if (step(p, end, val, pc, false, quantum) != Step::Ok) return std::nullopt;
    if (target < pc) return static_cast<int32_t>(val);
  }
}

}  // namespace gotrace
