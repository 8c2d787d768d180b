#include "commands/lock/lock_report.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

namespace gotrace {

std::string_view lock_kind_name(LockKind k) {
  switch (k) {
    case LockKind::Mutex:
      return "mutex";
    case LockKind::RWMutexR:
      return "rwmutex-r";
    case LockKind::RWMutexW:
      return "rwmutex-w";
    case LockKind::WaitGroup:
      return "waitgroup";
    case LockKind::Cond:
      return "cond";
    case LockKind::Runtime:
      return "runtime";
  }
  return "?";
}

std::string_view lock_kind_type(LockKind k) {
  switch (k) {
    case LockKind::Mutex:
      return "sync.Mutex";
    case LockKind::RWMutexR:
      return "sync.RWMutex (RLock)";
    case LockKind::RWMutexW:
      return "sync.RWMutex (Lock)";
    case LockKind::WaitGroup:
      return "sync.WaitGroup";
    case LockKind::Cond:
      return "sync.Cond";
    case LockKind::Runtime:
      return "runtime.mutex";
  }
  return "?";
}

std::optional<LockKind> parse_lock_kind(std::string_view name) {
  for (size_t i = 0; i < kLockKindCount; ++i)
    if (lock_kind_name(static_cast<LockKind>(i)) == name) return static_cast<LockKind>(i);
  return std::nullopt;
}

namespace {

// Frames between the runtime's semaphore and the sync method a user called.
bool is_sync_internal(std::string_view f) {
  return f.starts_with("runtime.") || f.starts_with("internal/sync.") || f.starts_with("sync.runtime_") ||
         f.starts_with("sync.(*Mutex).") || f == "?";
}

struct Refined {
  LockKind kind;
  int64_t sema_offset;  // semaphore address - lock address
};

Refined refine(LockKind from_probe, const std::vector<Frame>& frames) {
  if (from_probe == LockKind::Runtime)
    return {LockKind::Runtime, 0};  // its own probes; the address is the lock's
  bool through_mutex = false;       // an inner sync.Mutex was on the way (RWMutex.Lock's w)
  for (const Frame& f : frames) {
    std::string_view fn = f.function;
    if (fn.starts_with("sync.(*Mutex).") || fn.starts_with("internal/sync.(*Mutex).")) through_mutex = true;
    if (is_sync_internal(fn)) continue;
    if (fn == "sync.(*RWMutex).RLock") return {LockKind::RWMutexR, 12};
    if (fn == "sync.(*RWMutex).Lock") return {LockKind::RWMutexW, through_mutex ? 4 : 8};
    if (fn == "sync.(*WaitGroup).Wait") return {LockKind::WaitGroup, 8};
    if (fn == "sync.(*Cond).Wait") return {LockKind::Cond, 16};
    break;
  }
  switch (from_probe) {
    case LockKind::Mutex:
      return {LockKind::Mutex, 4};
    case LockKind::RWMutexR:
      return {LockKind::RWMutexR, 12};
    case LockKind::RWMutexW:
      return {LockKind::RWMutexW, 8};
    case LockKind::WaitGroup:
      return {LockKind::WaitGroup, 8};
    case LockKind::Cond:
      return {LockKind::Cond, 16};
    case LockKind::Runtime:
      return {LockKind::Runtime, 0};
  }
  return {from_probe, 0};
}

}  // namespace

LockKind refine_lock_kind(LockKind from_probe, const std::vector<Frame>& frames) {
  return refine(from_probe, frames).kind;
}

namespace {

using EntryKey = std::tuple<LockKind, uint64_t, uint64_t>;  // kind, waiter, holder
using ChainKey = std::tuple<int, unsigned, uint64_t>;       // depth, reason, stack

struct Classifier {
  StackTable& stacks;
  std::map<std::pair<LockKind, uint64_t>, Refined> cache;
  Refined operator()(LockKind k, uint64_t waiter_stack) {
    auto key = std::make_pair(k, waiter_stack);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    Refined r = refine(k, stacks.frames(waiter_stack));
    cache.emplace(key, r);
    return r;
  }
};

uint64_t overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) {
  uint64_t lo = std::max(a0, b0), hi = std::min(a1, b1);
  return hi > lo ? hi - lo : 0;
}

// Links deeper than one: a span of the holder that is itself a lock wait we
// have an event for continues the chain with that event's holder's spans.
struct ChainWalker {
  const std::vector<RawLockEvent>& events;
  const LockBuildOptions& o;
  std::unordered_multimap<uint64_t, const RawLockEvent*> by_goid;

  explicit ChainWalker(const std::vector<RawLockEvent>& ev, const LockBuildOptions& opt)
      : events(ev), o(opt) {
    for (const auto& e : events) by_goid.emplace(e.goid, &e);
  }

  // The event of goid's lock wait that the park span [t0, t1] is: it began
  // (acquire entry) just before the park and ended (the hand-over) just
  // before the wake. The closest one when several qualify.
  const RawLockEvent* event_for(uint64_t goid, const RawSpan& s) const {
    constexpr uint64_t kSlack = 1'000'000;
    const RawLockEvent* best = nullptr;
    uint64_t best_gap = ~0ULL;
    auto [lo, hi] = by_goid.equal_range(goid);
    for (auto it = lo; it != hi; ++it) {
      const RawLockEvent* e = it->second;
      if (e->t_start_ns > s.t0_ns + kSlack || e->t_start_ns + kSlack < s.t0_ns) continue;
      if (e->t_end_ns < s.t0_ns || e->t_end_ns > s.t1_ns + kSlack) continue;
      uint64_t gap = s.t1_ns > e->t_end_ns ? s.t1_ns - e->t_end_ns : e->t_end_ns - s.t1_ns;
      if (gap < best_gap) {
        best = e;
        best_gap = gap;
      }
    }
    return best;
  }

  // Appends the links below event e's holder, restricted to [from, to], as
  // children of out[parent] (-1: depth 1).
  void walk(const RawLockEvent& e, uint64_t from, uint64_t to, int depth, std::vector<ChainLink>& out,
            int parent = -1) const {
    if (depth > o.max_chain_depth) return;
    uint64_t held_from = std::max(from, std::max(e.t_start_ns, e.t_held_ns));
    for (const RawSpan& s : e.chain) {
      uint64_t ov = overlap(s.t0_ns, s.t1_ns, held_from, std::min(to, e.t_end_ns));
      if (!ov) continue;
      ChainLink l;
      l.depth = depth;
      l.reason = s.reason;
      l.reason_name = o.reason_name ? o.reason_name(s.reason) : std::to_string(s.reason);
      l.stack_id = s.stack_id;
      l.count = 1;
      l.total_ns = ov;
      l.goid = e.releaser_goid;
      l.parent = parent;
      out.push_back(l);
      const int self = static_cast<int>(out.size() - 1);
      if (o.is_sync_reason && o.is_sync_reason(s.reason)) {
        if (const RawLockEvent* next = event_for(e.releaser_goid, s))
          walk(*next, std::max(held_from, s.t0_ns), std::min(to, s.t1_ns), depth + 1, out, self);
      }
    }
  }
};

// A link is the same as another when it is the same block (reason, stack)
// under the same parent. Returns its index in chain.
int find_link(const std::vector<ChainLink>& chain, const ChainLink& l) {
  for (size_t i = 0; i < chain.size(); ++i) {
    const ChainLink& c = chain[i];
    if (c.depth == l.depth && c.reason == l.reason && c.stack_id == l.stack_id && c.parent == l.parent)
      return static_cast<int>(i);
  }
  return -1;
}

int add_link(std::vector<ChainLink>& chain, const ChainLink& l) {
  int i = find_link(chain, l);
  if (i < 0) {
    chain.push_back(l);
    return static_cast<int>(chain.size() - 1);
  }
  ChainLink& c = chain[static_cast<size_t>(i)];
  c.count += l.count;
  c.total_ns += l.total_ns;
  if (!c.goid) c.goid = l.goid;
  return i;
}

// Merges the links of one walk (parents before children, parent indices
// into links) into chain. count_once: one count per link and wait, however
// often the holder blocked there. keep_depth1: links at depth 1 already in
// chain (the kernel's, complete) are not added to again.
void merge_links(std::vector<ChainLink>& chain, const std::vector<ChainLink>& links, bool count_once,
                 bool keep_depth1) {
  std::vector<int> where(links.size(), -1);
  for (size_t i = 0; i < links.size(); ++i) {
    ChainLink l = links[i];
    if (l.parent >= 0) {
      l.parent = where[static_cast<size_t>(l.parent)];
      if (l.parent < 0) continue;  // its parent was not taken
    }
    if (count_once) l.count = 1;
    int found = keep_depth1 && l.depth == 1 ? find_link(chain, l) : -1;
    where[i] = found >= 0 ? found : add_link(chain, l);
  }
}

// Puts chain in tree order: depth-1 links by total (descending), each
// followed by its own subtree, siblings by total; links under floor are
// left out with everything below them. Parent indices follow.
void order_chain(std::vector<ChainLink>& chain, uint64_t floor) {
  std::vector<std::vector<size_t>> children(chain.size() + 1);  // [size]: the roots
  for (size_t i = 0; i < chain.size(); ++i) {
    int p = chain[i].parent;
    children[p >= 0 && static_cast<size_t>(p) < chain.size() ? static_cast<size_t>(p) : chain.size()]
        .push_back(i);
  }
  for (auto& c : children)
    std::stable_sort(c.begin(), c.end(),
                     [&](size_t a, size_t b) { return chain[a].total_ns > chain[b].total_ns; });
  std::vector<ChainLink> out;
  auto emit = [&](auto& self, size_t node, int parent) -> void {
    if (chain[node].total_ns < floor) return;
    ChainLink l = chain[node];
    l.parent = parent;
    out.push_back(l);
    int at = static_cast<int>(out.size() - 1);
    for (size_t c : children[node]) self(self, c, at);
  };
  for (size_t root : children[chain.size()]) emit(emit, root, -1);
  chain = std::move(out);
}

void add_blame(BlameShare& s, const RawBlameAgg& b) {
  s.stack_id = b.holder_stack;
  s.total_ns += b.total_ns;
  s.waits += b.waits;
  if (b.max_hold_ns >= s.max_hold_ns) {
    s.max_hold_ns = b.max_hold_ns;
    s.goid = b.goid;
  }
}

// Holders by blamed time, descending, with their share of total.
std::vector<BlameShare> ranked_blame(const std::map<uint64_t, BlameShare>& by_stack, uint64_t total) {
  std::vector<BlameShare> out;
  for (const auto& [stack, b] : by_stack) {
    out.push_back(b);
    out.back().share = total ? static_cast<double>(b.total_ns) / static_cast<double>(total) : 0.0;
  }
  std::sort(out.begin(), out.end(), [](const BlameShare& a, const BlameShare& b) {
    return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : a.stack_id < b.stack_id;
  });
  return out;
}

}  // namespace

void build_lock_report(LockReport& r, const LockBuildInput& in, const LockBuildOptions& o) {
  Classifier classify{*r.stacks, {}};
  auto wanted = [&](LockKind k) {
    return o.kinds.empty() || std::find(o.kinds.begin(), o.kinds.end(), k) != o.kinds.end();
  };

  std::map<EntryKey, LockEntry> entries;
  std::map<uint64_t, LockSite> sites;
  std::map<uint64_t, std::map<uint64_t, StackShare>> site_waiters, site_holders;
  for (const RawLockAgg& a : in.aggs) {
    if (!a.count) continue;
    Refined k = classify(a.kind, a.waiter_stack);
    if (!wanted(k.kind)) continue;
    uint64_t addr = a.sema_addr - k.sema_offset;
    LockEntry& e = entries[{k.kind, a.waiter_stack, a.releaser_stack}];
    e.kind = k.kind;
    e.waiter_stack = a.waiter_stack;
    e.holder_stack = a.releaser_stack;
    e.count += a.count;
    e.total_ns += a.total_ns;
    if (a.min_ns && (!e.min_ns || a.min_ns < e.min_ns)) e.min_ns = a.min_ns;
    if (a.max_ns >= e.max_ns) {
      e.max_ns = a.max_ns;
      e.max_goid = a.max_goid;
      e.max_holder_goid = a.max_releaser_goid;
    }
    e.hist.add(a.hist);
    e.locks.insert(addr);

    LockSite& s = sites[addr];
    if (s.count && s.kind != k.kind) s.mixed_kinds = true;  // an RWMutex waited for by readers and writers
    s.addr = addr;
    s.kind = k.kind;
    s.count += a.count;
    s.total_ns += a.total_ns;
    s.max_ns = std::max(s.max_ns, a.max_ns);
    for (auto [map, stack] :
         {std::pair{&site_waiters, a.waiter_stack}, std::pair{&site_holders, a.releaser_stack}}) {
      StackShare& sh = (*map)[addr][stack];
      sh.stack_id = stack;
      sh.count += a.count;
      sh.total_ns += a.total_ns;
    }
  }

  // Blame by time held: each wait split among the goroutines that held the
  // lock during it (the kernel walked its semaphore's recent releases).
  std::map<EntryKey, std::map<uint64_t, BlameShare>> entry_blame;
  std::map<uint64_t, std::map<uint64_t, BlameShare>> site_blame;
  for (const RawBlameAgg& b : in.blame) {
    if (!b.total_ns) continue;
    Refined k = classify(b.kind, b.waiter_stack);
    EntryKey key{k.kind, b.waiter_stack, b.releaser_stack};
    if (!entries.count(key)) continue;  // a kind not asked for
    add_blame(entry_blame[key][b.holder_stack], b);
    add_blame(site_blame[b.sema_addr - k.sema_offset][b.holder_stack], b);
  }

  // Depth 1, complete: the kernel matched every wait against its holder's history.
  for (const RawChainAgg& c : in.chains) {
    Refined k = classify(c.kind, c.waiter_stack);
    auto it = entries.find({k.kind, c.waiter_stack, c.releaser_stack});
    if (it == entries.end()) continue;
    ChainLink l;
    l.depth = 1;
    l.reason = c.reason;
    l.reason_name = o.reason_name ? o.reason_name(c.reason) : std::to_string(c.reason);
    l.stack_id = c.chain_stack;
    l.count = c.count;
    l.total_ns = c.overlap_ns;
    l.goid = c.goid;
    add_link(it->second.chain, l);
  }

  // Deeper links, from the long waits we have events for.
  ChainWalker walker(in.events, o);
  std::vector<LockWait> waits;
  for (const RawLockEvent& ev : in.events) {
    Refined k = classify(ev.kind, ev.waiter_stack);
    if (!wanted(k.kind)) continue;
    std::vector<ChainLink> links;
    walker.walk(ev, ev.t_start_ns, ev.t_end_ns, 1, links);
    std::vector<ChainLink> per_wait;  // one link per distinct block, however often the holder parked there
    merge_links(per_wait, links, false, false);
    auto it = entries.find({k.kind, ev.waiter_stack, ev.releaser_stack});
    if (it != entries.end()) merge_links(it->second.chain, per_wait, true, true);
    LockWait w;
    w.goid = ev.goid;
    w.holder_goid = ev.releaser_goid;
    w.addr = ev.sema_addr - k.sema_offset;
    w.kind = k.kind;
    w.duration_ns = ev.t_end_ns > ev.t_start_ns ? ev.t_end_ns - ev.t_start_ns : 0;
    w.waiter_stack = ev.waiter_stack;
    w.holder_stack = ev.releaser_stack;
    order_chain(per_wait, static_cast<uint64_t>(o.min_link_share * static_cast<double>(w.duration_ns)));
    w.chain = std::move(per_wait);
    waits.push_back(std::move(w));
  }
  std::sort(waits.begin(), waits.end(),
            [](const LockWait& a, const LockWait& b) { return a.duration_ns > b.duration_ns; });
  if (waits.size() > o.longest) waits.resize(o.longest);
  r.longest = std::move(waits);

  r.entries.clear();
  for (auto& [key, e] : entries) {
    if (e.max_ns < o.min_ns) continue;
    order_chain(e.chain, static_cast<uint64_t>(o.min_link_share * static_cast<double>(e.total_ns)));
    e.blame = ranked_blame(entry_blame[key], e.total_ns);
    r.entries.push_back(std::move(e));
  }
  std::sort(r.entries.begin(), r.entries.end(),
            [](const LockEntry& a, const LockEntry& b) { return a.total_ns > b.total_ns; });

  r.locks.clear();
  for (auto& [addr, s] : sites) {
    if (s.max_ns < o.min_ns) continue;
    if (o.lock_name) s.name = o.lock_name(addr);
    for (auto [map, vec] : {std::pair{&site_waiters, &s.waiters}, std::pair{&site_holders, &s.holders}}) {
      for (auto& [stack, sh] : (*map)[addr]) vec->push_back(sh);
      std::sort(vec->begin(), vec->end(),
                [](const StackShare& a, const StackShare& b) { return a.total_ns > b.total_ns; });
    }
    s.blame = ranked_blame(site_blame[addr], s.total_ns);
    r.locks.push_back(std::move(s));
  }
  std::sort(r.locks.begin(), r.locks.end(),
            [](const LockSite& a, const LockSite& b) { return a.total_ns > b.total_ns; });
}

}  // namespace gotrace
