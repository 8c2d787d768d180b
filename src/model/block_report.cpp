#include "gotrace/model/block_report.h"

#include <algorithm>
#include <unordered_map>

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

void build_block_report(BlockReport& report, BlockBuildInput in, const BlockBuildOptions& o) {
  auto name = [&](unsigned r) { return o.reason_name ? o.reason_name(r) : std::to_string(r); };
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
    if (auto it = wakers.find({a.stack_id, a.reason}); it != wakers.end()) e.wakers = std::move(it->second);
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

}  // namespace gotrace
