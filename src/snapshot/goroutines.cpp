// GoroutineReader: see goroutines.h for what is read and how it is guarded.
#include "gotrace/snapshot/goroutines.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

#include "gotrace/gobin/runtime_globals.h"

namespace gotrace {

std::string_view gstatus_name(GStatus s) {
  switch (s) {
    case GStatus::Idle:
      return "idle";
    case GStatus::Runnable:
      return "runnable";
    case GStatus::Running:
      return "running";
    case GStatus::Syscall:
      return "syscall";
    case GStatus::Waiting:
      return "waiting";
    case GStatus::MoribundUnused:
      return "moribund";
    case GStatus::Dead:
      return "dead";
    case GStatus::EnqueueUnused:
      return "enqueue";
    case GStatus::Copystack:
      return "copystack";
    case GStatus::Preempted:
      return "preempted";
    case GStatus::Leaked:
      return "leaked";
    case GStatus::DeadExtra:
      return "dead (extra M)";
    case GStatus::Unknown:
      break;
  }
  return "unknown";
}

namespace {

constexpr uint32_t kScanBit = 0x1000;
// How much of a goroutine's stack above its saved SP one batched read takes;
// frames beyond it are read one at a time.
constexpr uint64_t kStackWindow = 16 * 1024;
// A sanity bound on allglen (the runtime has no limit; 50 million gs would
// be tens of GB of stacks).
constexpr uint64_t kMaxAllg = 50'000'000;

uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

bool is_dead_status(GStatus s) {
  return s == GStatus::Idle || s == GStatus::MoribundUnused || s == GStatus::Dead ||
         s == GStatus::EnqueueUnused || s == GStatus::DeadExtra;
}

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

GStatus gstatus_from_raw(uint32_t raw) {
  raw &= ~kScanBit;
  if (raw <= 11) return static_cast<GStatus>(raw);
  return GStatus::Unknown;
}

GoroutineReader::GoroutineReader(const GoBinary& binary, pid_t pid, uint64_t bias)
    : binary_(&binary), mem_(pid), bias_(bias) {}

Result<GoroutineReader> GoroutineReader::create(const GoBinary& binary, pid_t pid, uint64_t bias) {
  if (!binary.offsets()) return make_error("cannot read goroutines: {}", binary.offsets().error().message);
  GoroutineReader r(binary, pid, bias);
  r.minor_ = binary.version().minor;
  const RuntimeOffsets& o = *binary.offsets();
  for (size_t i = 0; i < kRtFieldCount; ++i) r.off_[i] = o.fields[i].value;
  for (RtField f :
       {RtField::GStackLo, RtField::GStackHi, RtField::GSchedSp, RtField::GSchedPc, RtField::GSchedBp,
        RtField::GAtomicstatus, RtField::GGoid, RtField::GWaitsince, RtField::GWaitreason, RtField::GGopc,
        RtField::GStartpc, RtField::GSyscallsp, RtField::GSyscallpc, RtField::GM})
    if (r.off(f) < 0)
      return make_error("cannot read goroutines: the offset of {} is unknown for Go 1.{}", field_name(f),
                        r.minor_);
  int64_t end = 0;
  for (size_t i = 0; i < kRtFieldCount; ++i) {
    auto f = static_cast<RtField>(i);
    if (field_name(f).starts_with("g.") && r.off_[i] >= 0) end = std::max(end, r.off_[i] + 8);
  }
  r.g_read_size_ = static_cast<size_t>(end);

  auto len = find_global(binary, RtGlobal::Allglen);
  if (!len) return make_error("cannot read goroutines: {}", len.error().message);
  r.allglen_addr_ = len->vaddr + bias;
  if (auto ptr = find_global(binary, RtGlobal::Allgptr)) {
    r.allgptr_addr_ = ptr->vaddr + bias;
  } else if (auto gs = find_global(binary, RtGlobal::Allgs)) {
    r.allgptr_addr_ = gs->vaddr + bias;  // allgs.array: the same pointer, stored at the same moment
  } else {
    return make_error("cannot read goroutines: {}", ptr.error().message);
  }
  if (auto goexit = binary.pclntab().function_by_name("runtime.goexit")) {
    r.goexit_lo_ = goexit->entry + bias;
    r.goexit_hi_ = goexit->end + bias;
  }
  return r;
}

bool GoroutineReader::is_code(uint64_t runtime_pc) const {
  // Return addresses repeat across goroutines: remember the answers.
  if (auto it = code_cache_.find(runtime_pc); it != code_cache_.end()) return it->second;
  bool yes = runtime_pc >= bias_ && binary_->pclntab().function_at(runtime_pc - bias_).has_value();
  if (code_cache_.size() < (1u << 20)) code_cache_.emplace(runtime_pc, yes);
  return yes;
}

bool GoroutineReader::is_goexit(uint64_t runtime_pc) const {
  return runtime_pc >= goexit_lo_ && runtime_pc < goexit_hi_;
}

// allgs holds every g ever made and never shrinks (the runtime appends,
// and keeps dead gs for reuse): the entries read before are kept, and only
// those appended since are read, with the last one kept read again to
// check (a process that once ran 100,000 goroutines has an 800 KB list).
Result<std::vector<uint64_t>> GoroutineReader::read_allgs(SnapshotStats& stats) {
  std::vector<uint64_t>& gs = allgs_known_;  // read in place: only the new entries are copied in
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t len = 0, ptr = 0, ptr_after = 0;
    if (auto r = mem_.read(allglen_addr_, &len, 8); !r) return r.error();
    if (auto r = mem_.read(allgptr_addr_, &ptr, 8); !r) return r.error();
    if (len > kMaxAllg)
      return make_error("runtime.allglen reads {} (more than {}): not a Go runtime of a supported layout",
                        len, kMaxAllg);
    if (len && ptr == 0) return make_error("runtime.allgptr is nil while allglen is {}", len);
    // From the last entry known (its check) on; all of them when the list
    // is shorter than what was known (it never is) or nothing is known.
    const size_t from = gs.empty() || len < gs.size() ? 0 : gs.size() - 1;
    const uint64_t check = from ? gs[from] : 0;
    gs.resize(len);
    if (len > from) {
      if (auto r = mem_.read(ptr + from * 8, gs.data() + from, (len - from) * 8); !r) {
        ++stats.allgs_retries;  // the old array can be freed after a reallocation
        gs.clear();
        continue;
      }
    }
    if (auto r = mem_.read(allgptr_addr_, &ptr_after, 8); !r) return r.error();
    if (ptr_after != ptr || (from && gs[from] != check)) {  // moved meanwhile, or not the list known
      ++stats.allgs_retries;
      gs.clear();
      continue;
    }
    stats.allglen = len;
    return gs;
  }
  gs.clear();
  return make_error("the goroutine list (runtime.allgs) kept being reallocated during 8 reads");
}

void GoroutineReader::walk_stack(Goroutine& g, uint64_t fp, uint64_t lo, uint64_t hi,
                                 std::span<const uint8_t> window, uint64_t window_addr) {
  // g.stack already holds the first PC. Each frame: [fp] = caller's fp,
  // [fp+8] = return address into the caller.
  uint64_t prev = 0;
  while (fp != 0) {
    if (g.stack.size() >= kMaxDepth) {
      g.stack_truncated = true;
      return;
    }
    if (fp < lo || fp + 16 > hi || (fp & 7) != 0 || fp <= prev) {
      g.stack_broken = true;
      return;
    }
    uint8_t frame[16];
    if (fp >= window_addr && fp + 16 <= window_addr + window.size()) {
      std::memcpy(frame, window.data() + (fp - window_addr), 16);
    } else if (!mem_.read(fp, frame, 16)) {
      g.stack_broken = true;
      return;
    }
    uint64_t next = load_u64(frame);
    uint64_t ret = load_u64(frame + 8);
    if (ret == 0) return;
    if (is_goexit(ret - 1)) {  // the bottom of every goroutine stack
      g.goexit_ret = ret;
      return;
    }
    if (!is_code(ret - 1)) {
      g.stack_broken = true;
      return;
    }
    g.stack.push_back(ret);
    prev = fp;
    fp = next;
  }
}

void GoroutineReader::read_labels(Goroutine& g, uint64_t ptr, SnapshotStats& stats) {
  g.has_labels = true;
  auto read_string = [&](uint64_t p, uint64_t n, std::string& out) {
    if (n > 4096) return false;
    out.resize(n);
    return n == 0 || mem_.read(p, out.data(), n).ok();
  };
  if (minor_ >= 24) {
    // *labels = a struct whose only field is a slice of {key, value string}.
    uint64_t hdr[3];
    if (!mem_.read(ptr, hdr, sizeof hdr) || hdr[1] > 1024) {
      ++stats.labels_undecoded;
      return;
    }
    std::vector<uint64_t> words(hdr[1] * 4);
    if (hdr[1] && !mem_.read(hdr[0], words.data(), words.size() * 8)) {
      ++stats.labels_undecoded;
      return;
    }
    for (uint64_t i = 0; i < hdr[1]; ++i) {
      std::string k, v;
      if (!read_string(words[i * 4], words[i * 4 + 1], k) ||
          !read_string(words[i * 4 + 2], words[i * 4 + 3], v)) {
        ++stats.labels_undecoded;
        g.labels.clear();
        return;
      }
      g.labels.emplace_back(std::move(k), std::move(v));
    }
    g.labels_decoded = true;
    return;
  }
  // 1.19–1.23: labels is a *labelMap, a pointer to a map[string]string, so
  // *labels is the *hmap (count@0 B@9 buckets@16 oldbuckets@24). A bucket
  // holds 8 tophash bytes, 8 keys, 8 values and an overflow pointer; a slot
  // is used when its tophash is >= 5 (minTopHash).
  uint64_t hmap = 0;
  uint8_t h[48];
  if (!mem_.read(ptr, &hmap, 8) || hmap == 0 || !mem_.read(hmap, h, sizeof h)) {
    ++stats.labels_undecoded;
    return;
  }
  uint64_t count = load_u64(h);
  uint8_t b = h[9];
  uint64_t buckets = load_u64(h + 16), old = load_u64(h + 24);
  if (old != 0 || b > 10 || count > 1024) {  // growing, or implausible
    ++stats.labels_undecoded;
    return;
  }
  constexpr size_t kBucket = 8 + 8 * 16 + 8 * 16 + 8;
  std::vector<uint8_t> bucket(kBucket);
  for (uint64_t i = 0; i < (uint64_t{1} << b); ++i) {
    uint64_t addr = buckets + i * kBucket;
    for (int chain = 0; addr != 0 && chain < 64; ++chain) {
      if (!mem_.read(addr, bucket.data(), kBucket)) {
        ++stats.labels_undecoded;
        g.labels.clear();
        return;
      }
      for (int s = 0; s < 8; ++s) {
        if (bucket[s] < 5) continue;
        const uint8_t* key = bucket.data() + 8 + s * 16;
        const uint8_t* val = bucket.data() + 8 + 128 + s * 16;
        std::string k, v;
        if (!read_string(load_u64(key), load_u64(key + 8), k) ||
            !read_string(load_u64(val), load_u64(val + 8), v)) {
          ++stats.labels_undecoded;
          g.labels.clear();
          return;
        }
        g.labels.emplace_back(std::move(k), std::move(v));
      }
      addr = load_u64(bucket.data() + kBucket - 8);
    }
  }
  std::sort(g.labels.begin(), g.labels.end());
  if (g.labels.size() != count) {
    ++stats.labels_undecoded;
    g.labels.clear();
    return;
  }
  g.labels_decoded = true;
}

// Go never frees a g: a process that once ran 100,000 goroutines keeps
// 100,000 gs, most of them dead (reused by later `go` statements). Their
// status words, 4 bytes each in one batched read, spare reading whole gs:
// a scan of such a process read 48 MB and took 0.1 s (0.065 s then). The
// kernel's cost is per remote piece (each pins its page), so the words are
// read a page at a time: the gs on one page (about nine) in one piece. With
// set_dead_recheck, long-dead gs are re-read only now and then, a page's
// together. What is dead is counted; everything else (unreadable,
// changing, alive) is read in full.
std::vector<uint64_t> GoroutineReader::without_dead(const std::vector<uint64_t>& gs, SnapshotStats& stats) {
  const uint64_t o_status = static_cast<uint64_t>(off(RtField::GAtomicstatus));
  if (dead_streak_.size() < gs.size()) {
    dead_streak_.resize(gs.size(), 0);
    streak_addr_.resize(gs.size(), 0);
  }
  std::vector<size_t> asked;
  asked.reserve(gs.size());
  for (size_t i = 0; i < gs.size(); ++i) {
    if (streak_addr_[i] != gs[i]) {
      streak_addr_[i] = gs[i];
      dead_streak_[i] = 0;
    }
    const uint64_t page = (gs[i] + o_status) / kWordPage;
    if (dead_recheck_ > 1 && dead_streak_[i] >= kLongDead && (generation_ + page) % dead_recheck_ != 0) {
      ++stats.dead;
      ++stats.dead_assumed;
      continue;
    }
    asked.push_back(i);
  }
  std::vector<uint32_t> raw(asked.size());
  std::vector<bool> ok(asked.size());
  read_words(gs, asked, o_status, raw, ok);
  std::vector<uint64_t> keep;
  keep.reserve(asked.size());
  for (size_t k = 0; k < asked.size(); ++k) {
    const size_t i = asked[k];
    if (ok[k] && !(raw[k] & kScanBit) && is_dead_status(gstatus_from_raw(raw[k]))) {
      ++stats.dead;
      if (dead_streak_[i] < kLongDead) ++dead_streak_[i];
      continue;
    }
    dead_streak_[i] = 0;
    keep.push_back(gs[i]);
  }
  return keep;
}

// The 4-byte word at gs[asked[k]] + offset into raw[k] (ok[k]: read), the
// words on one page in one piece from the first to the last.
void GoroutineReader::read_words(const std::vector<uint64_t>& gs, const std::vector<size_t>& asked,
                                 uint64_t offset, std::vector<uint32_t>& raw, std::vector<bool>& ok) {
  std::vector<size_t> order(asked.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  auto addr = [&](size_t k) { return gs[asked[k]] + offset; };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return addr(a) < addr(b); });
  struct Piece {
    size_t from, to;  // order[from, to)
    uint64_t start, len;
    size_t at;  // offset in buf
  };
  std::vector<Piece> pieces;
  size_t total = 0;
  for (size_t j = 0; j < order.size();) {
    const uint64_t start = addr(order[j]);
    size_t e = j + 1;
    while (e < order.size() && addr(order[e]) / kWordPage == start / kWordPage &&
           addr(order[e]) + 4 - start <= kWordPage)
      ++e;
    const uint64_t len = addr(order[e - 1]) + 4 - start;
    pieces.push_back({j, e, start, len, total});
    total += len;
    j = e;
  }
  if (word_buf_.size() < total) word_buf_.resize(total);
  uint8_t* buf = word_buf_.data();
  std::vector<RemoteMemory::Request> req(pieces.size());
  for (size_t p = 0; p < pieces.size(); ++p)
    req[p] = {pieces[p].start, buf + pieces[p].at, static_cast<size_t>(pieces[p].len), false};
  mem_.read_many(req);
  for (size_t p = 0; p < pieces.size(); ++p)
    for (size_t j = pieces[p].from; j < pieces[p].to; ++j) {
      const size_t k = order[j];
      ok[k] = req[p].ok;
      if (req[p].ok) raw[k] = load_u32(buf + pieces[p].at + (addr(k) - pieces[p].start));
    }
}

void GoroutineReader::read_gs(const std::vector<uint64_t>& addrs, GoroutineSnapshot& out,
                              std::vector<uint64_t>& retry, bool last_try) {
  SnapshotStats& stats = out.stats;
  const size_t n = addrs.size();
  const int64_t o_status = off(RtField::GAtomicstatus);
  // 1. every g in one batched read. No status read before the copy: the
  // copy is torn only if sched, the syscall frame, status or goid change
  // during it, and step 3 re-reads exactly those. (The fields after status
  // in g, such as waitreason, are copied after it; the runtime writes them
  // before it changes the status.)
  std::vector<RemoteMemory::Request> req(n);
  std::vector<uint8_t> copies(n * g_read_size_);
  for (size_t i = 0; i < n; ++i) req[i] = {addrs[i], copies.data() + i * g_read_size_, g_read_size_, false};
  mem_.read_many(req);

  struct Work {
    size_t index;
    Goroutine g;
    uint64_t pc = 0, sp = 0, fp = 0, lo = 0, hi = 0;
    bool fp_below_sp = false;  // ≤1.22 syscall: fp is *(syscallsp-16)
    bool cached = false;
  };
  std::vector<Work> work;
  work.reserve(n);
  auto field = [&](const uint8_t* gb, RtField f) -> uint64_t {
    int64_t o = off(f);
    return o < 0 ? 0 : load_u64(gb + o);
  };
  for (size_t i = 0; i < n; ++i) {
    if (!req[i].ok) {
      ++stats.unreadable;
      continue;
    }
    const uint8_t* gb = copies.data() + i * g_read_size_;
    uint32_t raw = load_u32(gb + o_status);
    GStatus st = gstatus_from_raw(raw);
    if ((raw & kScanBit) || st == GStatus::Copystack || st == GStatus::Unknown) {
      retry.push_back(addrs[i]);
      continue;
    }
    if (is_dead_status(st)) {
      ++stats.dead;
      continue;
    }
    Work w{i, {}};
    Goroutine& g = w.g;
    g.g_addr = addrs[i];
    g.status = st;
    g.goid = field(gb, RtField::GGoid);
    g.wait_reason = gb[off(RtField::GWaitreason)];
    g.waitsince = static_cast<int64_t>(field(gb, RtField::GWaitsince));
    g.parent_goid = field(gb, RtField::GParentGoid);
    g.gopc = field(gb, RtField::GGopc);
    g.startpc = field(gb, RtField::GStartpc);
    g.m = field(gb, RtField::GM);
    g.locked_to_thread = off(RtField::GLockedm) >= 0 && field(gb, RtField::GLockedm) != 0;
    w.lo = field(gb, RtField::GStackLo);
    w.hi = field(gb, RtField::GStackHi);
    if (st == GStatus::Syscall) {
      w.pc = field(gb, RtField::GSyscallpc);
      w.sp = field(gb, RtField::GSyscallsp);
      uint64_t bp = field(gb, RtField::GSyscallbp);
      // The frame pointer saved by entersyscall's prologue sits 16 bytes
      // below syscallsp; 1.23+ also keeps it in syscallbp.
      if (bp) {
        w.fp = bp;
      } else {
        w.fp_below_sp = true;
      }
      g.stack_origin = StackOrigin::Syscall;
    } else if (st != GStatus::Running) {
      w.pc = field(gb, RtField::GSchedPc);
      w.sp = field(gb, RtField::GSchedSp);
      w.fp = field(gb, RtField::GSchedBp);
      g.stack_origin = StackOrigin::Sched;
    }
    if (w.pc == 0 || w.lo == 0 || w.sp < w.lo || w.sp >= w.hi) {
      g.stack_origin = StackOrigin::None;
      w.pc = 0;
    }
    if (g.stack_origin != StackOrigin::None) {
      g.saved_sp = w.sp;
      g.saved_pc = w.pc;
    }
    work.push_back(std::move(w));
  }

  // 2. stack windows for the stacks not in the cache (one batched read).
  std::vector<std::vector<uint8_t>> windows(work.size());
  std::vector<uint64_t> window_addr(work.size());
  std::vector<RemoteMemory::Request> sreq;
  std::vector<size_t> sreq_of;
  for (size_t k = 0; k < work.size(); ++k) {
    Work& w = work[k];
    if (w.g.stack_origin == StackOrigin::None) continue;
    if (auto it = cache_.find({w.g.goid, w.sp, w.pc}); it != cache_.end()) {
      w.g.stack = it->second.pcs;
      w.g.stack_truncated = it->second.truncated;
      w.g.stack_broken = it->second.broken;
      w.g.goexit_ret = it->second.goexit_ret;
      it->second.generation = generation_;
      w.cached = true;
      continue;
    }
    uint64_t start = std::max(w.lo, w.sp - 16);
    uint64_t end = std::min(w.hi, w.sp + kStackWindow);
    windows[k].resize(end - start);
    window_addr[k] = start;
    sreq.push_back({start, windows[k].data(), end - start, false});
    sreq_of.push_back(k);
  }
  mem_.read_many(sreq);
  for (size_t r = 0; r < sreq.size(); ++r) {
    Work& w = work[sreq_of[r]];
    if (!sreq[r].ok) {  // the stack went away (freed or moved): re-read this g
      retry.push_back(w.g.g_addr);
      w.index = SIZE_MAX;
      continue;
    }
    const auto& win = windows[sreq_of[r]];
    if (w.fp_below_sp) w.fp = load_u64(win.data() + (w.sp - 16 - window_addr[sreq_of[r]]));
    // The saved PC is a return address (into gopark's mcall, or after the
    // call into entersyscall); like the runtime's traceback, name the call.
    uint64_t first = w.pc;
    if (auto fn = first >= bias_ ? binary_->pclntab().function_at(first - bias_) : std::nullopt;
        fn && first - bias_ > fn->entry)
      first -= 1;
    w.g.stack.push_back(first);
    walk_stack(w.g, w.fp, w.lo, w.hi, win, window_addr[sreq_of[r]]);
    ++stats.stacks_walked;
  }

  // 3. re-read the moving parts (sched, syscall frame, status, goid) of every
  // g we keep: anything different means the copy or the walk is stale.
  const int64_t r_lo = off(RtField::GSchedSp);
  const int64_t r_hi = std::max(off(RtField::GGoid), off(RtField::GSyscallpc)) + 8;
  const size_t r_len = static_cast<size_t>(r_hi - r_lo);
  std::vector<uint8_t> after(work.size() * r_len);
  std::vector<RemoteMemory::Request> areq;
  std::vector<size_t> areq_of;
  for (size_t k = 0; k < work.size(); ++k) {
    if (work[k].index == SIZE_MAX) continue;
    areq.push_back({work[k].g.g_addr + r_lo, after.data() + k * r_len, r_len, false});
    areq_of.push_back(k);
  }
  mem_.read_many(areq);
  for (size_t r = 0; r < areq.size(); ++r) {
    Work& w = work[areq_of[r]];
    const uint8_t* gb = copies.data() + w.index * g_read_size_;
    const uint8_t* now = after.data() + areq_of[r] * r_len;
    bool same = areq[r].ok;
    for (RtField f : {RtField::GSchedSp, RtField::GSchedPc, RtField::GSchedBp, RtField::GSyscallsp,
                      RtField::GSyscallpc, RtField::GGoid}) {
      int64_t o = off(f);
      if (same && o >= r_lo && o + 8 <= r_hi) same = std::memcmp(gb + o, now + (o - r_lo), 8) == 0;
    }
    if (same) same = std::memcmp(gb + o_status, now + (o_status - r_lo), 4) == 0;
    if (!same) {
      retry.push_back(w.g.g_addr);
      continue;
    }
    Goroutine& g = w.g;
    // A walk that broke although status and saved registers read the same
    // before and after: the goroutine ran and stopped again at the same
    // place meanwhile (a loop that parks, or re-enters a syscall, from one
    // frame), rewriting the stack under the read. Read it once more.
    if (!w.cached && g.stack_broken && !last_try) {
      retry.push_back(g.g_addr);
      continue;
    }
    if (!w.cached && g.stack_origin != StackOrigin::None) {
      if (g.stack_truncated) ++stats.stacks_truncated;
      if (g.stack_broken) ++stats.stacks_broken;
      // A broken walk is not kept: the next snapshot walks it again.
      if (!g.stack_broken)
        cache_[{g.goid, w.sp, w.pc}] = {g.stack, g.stack_truncated, false, generation_, g.goexit_ret};
    } else if (w.cached) {
      ++stats.stacks_cached;
      if (g.stack_truncated) ++stats.stacks_truncated;
      if (g.stack_broken) ++stats.stacks_broken;
    }
    if (uint64_t labels = off(RtField::GLabels) >= 0 ? load_u64(gb + off(RtField::GLabels)) : 0)
      read_labels(g, labels, stats);
    out.goroutines.push_back(std::move(g));
  }
}

Result<GoroutineSnapshot> GoroutineReader::snapshot() {
  auto t0 = std::chrono::steady_clock::now();
  ++generation_;
  GoroutineSnapshot out;
  out.monotonic_ns = clock_ns(CLOCK_MONOTONIC);
  out.unix_ns = clock_ns(CLOCK_REALTIME);
  uint64_t sc0 = mem_.syscalls(), b0 = mem_.bytes_read();
  cancelled_ = false;
  auto stop = [&] { return cancel_ && (cancelled_ = cancel_()); };
  if (stop()) return make_error("the goroutine read was interrupted");
  auto all = read_allgs(out.stats);
  if (!all) return all.error();
  if (stop()) return make_error("the goroutine read was interrupted");
  const std::vector<uint64_t> live = without_dead(*all, out.stats);
  const std::vector<uint64_t>* gs = &live;
  std::vector<uint64_t> retry;
  // In batches, asking between them whether to go on.
  for (size_t i = 0; i < gs->size(); i += kBatch) {
    if (stop()) return make_error("the goroutine read was interrupted");
    const auto first = gs->begin() + static_cast<std::ptrdiff_t>(i);
    const std::vector<uint64_t> batch(first,
                                      first + static_cast<std::ptrdiff_t>(std::min(kBatch, gs->size() - i)));
    read_gs(batch, out, retry, false);
  }
  if (stop()) return make_error("the goroutine read was interrupted");
  if (!retry.empty()) {
    // One more try for what changed under us (usually a GC scan bit or a
    // goroutine switching state); what changes again is counted, not shown.
    std::vector<uint64_t> again;
    read_gs(retry, out, again, true);
    out.stats.inconsistent = again.size();
  }
  // System goroutines: started in the runtime (runtime.main and coroutines
  // excepted), as the runtime's isSystemGoroutine decides.
  for (Goroutine& g : out.goroutines) {
    if (g.startpc < bias_) continue;
    auto fn = binary_->pclntab().function_at(g.startpc - bias_);
    if (!fn) continue;
    g.system =
        fn->name.starts_with("runtime.") && fn->name != "runtime.main" && fn->name != "runtime.corostart";
  }
  std::sort(out.goroutines.begin(), out.goroutines.end(),
            [](const Goroutine& a, const Goroutine& b) { return a.goid < b.goid; });
  // A goid seen twice (a g re-read in the retry round after it had been
  // kept) keeps its last copy.
  std::vector<Goroutine> unique;
  unique.reserve(out.goroutines.size());
  for (auto& g : out.goroutines) {
    if (!unique.empty() && unique.back().goid == g.goid) {
      unique.back() = std::move(g);
    } else {
      unique.push_back(std::move(g));
    }
  }
  out.goroutines = std::move(unique);
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.generation != generation_; });
  out.stats.syscalls = mem_.syscalls() - sc0;
  out.stats.bytes = mem_.bytes_read() - b0;
  out.stats.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace gotrace
