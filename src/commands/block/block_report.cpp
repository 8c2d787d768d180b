#include "commands/block/block_report.h"

#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace gotrace {

std::string_view waker_kind_name(WakerKind k) {
  switch (k) {
    case WakerKind::Goroutine:
      return "goroutine";
    case WakerKind::Netpoll:
      return "netpoller";
    case WakerKind::Runtime:
      return "runtime";
  }
  return "?";
}

namespace {
bool shorter(const LongWait& a, const LongWait& b) {
  return a.duration_ns > b.duration_ns;
}  // heap: shortest on top
}  // namespace

void LongestWaits::add(const LongWait& w) {
  if (capacity_ == 0) {
    ++not_kept_;
    return;
  }
  if (kept_.size() < capacity_) {
    kept_.push_back(w);
    if (kept_.size() == capacity_) std::make_heap(kept_.begin(), kept_.end(), shorter);
    return;
  }
  ++not_kept_;  // one of the two is let go: the shorter
  if (w.duration_ns <= kept_.front().duration_ns) return;
  std::pop_heap(kept_.begin(), kept_.end(), shorter);
  kept_.back() = w;
  std::push_heap(kept_.begin(), kept_.end(), shorter);
}

namespace {

// Records whose stacks read the same (StackTable::shown_key) with the same
// reason are one entry: the probes and the snapshot of waits under way at
// the start can record one wait place under two sets of PCs (an
// instruction apart, or runtime frames under what is shown). The first
// record's stack stands for them; their wakers follow it.
void merge_same_sites(StackTable& stacks, BlockBuildInput& in) {
  std::map<std::pair<std::string, unsigned>, size_t> by_site;
  std::map<std::pair<uint64_t, unsigned>, uint64_t> moved;  // (stack, reason) -> the standing stack
  std::vector<RawBlockAgg> merged;
  merged.reserve(in.aggs.size());
  for (const auto& a : in.aggs) {
    auto [it, fresh] = by_site.emplace(std::pair{stacks.shown_key(a.stack_id), a.reason}, merged.size());
    if (fresh) {
      merged.push_back(a);
      continue;
    }
    RawBlockAgg& m = merged[it->second];
    m.count += a.count;
    m.total_ns += a.total_ns;
    m.open += a.open;
    for (size_t i = 0; i < m.hist.size(); ++i) m.hist[i] += a.hist[i];
    if (a.min_wait_ns && (!m.min_wait_ns || a.min_wait_ns < m.min_wait_ns)) m.min_wait_ns = a.min_wait_ns;
    if (a.max_ns > m.max_ns) {
      m.max_ns = a.max_ns;
      m.max_goid = a.max_goid;
    }
    moved[{a.stack_id, a.reason}] = m.stack_id;
  }
  in.aggs = std::move(merged);
  for (auto& w : in.wakers)
    if (auto it = moved.find({w.stack_id, w.reason}); it != moved.end()) w.stack_id = it->second;
}

}  // namespace

void build_block_report(BlockReport& report, BlockBuildInput in, const BlockBuildOptions& o) {
  auto name = [&](unsigned r) { return o.reason_name ? o.reason_name(r) : std::to_string(r); };
  if (report.stacks) merge_same_sites(*report.stacks, in);
  struct KeyHash {
    size_t operator()(const std::pair<uint64_t, unsigned>& k) const {
      return k.first * 1315423911ULL ^ k.second;
    }
  };
  std::unordered_map<std::pair<uint64_t, unsigned>, std::vector<WakerShare>, KeyHash> wakers;
  for (const auto& w : in.wakers)
    wakers[{w.stack_id, w.reason}].push_back({w.kind, w.waker_stack_id, w.count, w.total_ns});

  for (const auto& a : in.aggs) {
    if (!a.count || a.max_ns < o.min_ns) continue;
    BlockEntry e;
    e.stack_id = a.stack_id;
    e.reason = a.reason;
    e.reason_name = name(a.reason);
    e.count = a.count;
    e.total_ns = a.total_ns;
    e.min_ns = a.min_wait_ns;
    e.max_ns = a.max_ns;
    e.max_goid = a.max_goid;
    e.open = a.open;
    e.hist.add(a.hist);
    if (auto it = wakers.find({a.stack_id, a.reason}); it != wakers.end()) {
      // (merged records may bring the same waker twice)
      for (const auto& w : it->second) {
        auto same = std::find_if(e.wakers.begin(), e.wakers.end(), [&](const WakerShare& x) {
          return x.kind == w.kind && x.stack_id == w.stack_id;
        });
        if (same == e.wakers.end()) {
          e.wakers.push_back(w);
        } else {
          same->count += w.count;
          same->total_ns += w.total_ns;
        }
      }
    }
    std::stable_sort(e.wakers.begin(), e.wakers.end(), [](const WakerShare& x, const WakerShare& y) {
      return x.count != y.count ? x.count > y.count : x.total_ns > y.total_ns;
    });
    report.entries.push_back(std::move(e));
  }
  std::stable_sort(report.entries.begin(), report.entries.end(),
                   [](const BlockEntry& x, const BlockEntry& y) {
                     return x.total_ns != y.total_ns ? x.total_ns > y.total_ns : x.stack_id < y.stack_id;
                   });
  std::stable_sort(in.longest.begin(), in.longest.end(),
                   [](const LongWait& x, const LongWait& y) { return x.duration_ns > y.duration_ns; });
  for (auto& w : in.longest) w.reason_name = name(w.reason);
  report.longest = std::move(in.longest);
}

void classify_runtime_waits(BlockReport& r) {
  if (r.runtime_classified || !r.stacks) return;
  r.runtime_classified = true;
  StackTable& st = *r.stacks;
  auto hide = [&](RuntimeWait w) { return is_background(w) && !r.show_runtime_background; };
  uint64_t hidden = 0;
  std::vector<BlockEntry> kept;
  for (BlockEntry& e : r.entries) {
    e.runtime = classify_runtime_wait(st.frames(e.stack_id));
    if (hide(e.runtime))
      hidden += e.count;
    else
      kept.push_back(std::move(e));
  }
  r.entries = std::move(kept);
  std::erase_if(r.longest, [&](LongWait& w) {
    w.runtime = classify_runtime_wait(st.frames(w.stack_id));
    return hide(w.runtime);
  });
  if (hidden) {
    r.summary.counters["runtime_background_hidden"] = hidden;
    r.summary.notes.push_back(fmt::format(
        "{} waits of the runtime background goroutines (scavenger, sweeper, GC workers, finalizer) left out; "
        "--reason all shows them",
        hidden));
  }
}

}  // namespace gotrace
