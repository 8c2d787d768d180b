#include "commands/block/block_sampler.h"

#include <algorithm>

namespace gotrace {

BlockSampler::BlockSampler(std::function<bool(unsigned)> keep, uint64_t period_ns)
    : keep_(std::move(keep)), period_ns_(period_ns) {}

uint64_t BlockSampler::intern(const std::vector<uint64_t>& pcs) {
  auto [it, added] = stack_ids_.try_emplace(pcs, stacks_.size() + 1);
  if (added) stacks_.push_back(pcs);
  return it->second;
}

void BlockSampler::add_scan(const GoroutineSnapshot& snap) {
  uint64_t weight = period_ns_;
  if (stats_.scans > 0) {
    int64_t dt = snap.monotonic_ns - last_scan_ns_;
    weight = dt > 0 ? static_cast<uint64_t>(dt) : 0;
    if (weight * 2 > period_ns_ * 3) ++stats_.late_scans;
  }
  last_scan_ns_ = snap.monotonic_ns;
  ++stats_.scans;
  stats_.inconsistent += snap.stats.inconsistent;
  stats_.unreadable += snap.stats.unreadable;
  stats_.scan_seconds_total += snap.stats.wall_seconds;
  stats_.dead_assumed += snap.stats.dead_assumed;
  stats_.scan_seconds_max = std::max(stats_.scan_seconds_max, snap.stats.wall_seconds);

  std::unordered_map<uint64_t, Seen> current;
  current.reserve(previous_.size());
  for (const Goroutine& g : snap.goroutines) {
    // Leaked (Go 1.26) goroutines are parked for good: blocked too.
    if (g.status != GStatus::Waiting && g.status != GStatus::Leaked) continue;
    if (keep_ && !keep_(g.wait_reason)) {
      ++stats_.filtered_samples;
      continue;
    }
    ++stats_.parked_samples;
    Seen s{g.saved_sp, g.saved_pc, g.waitsince, g.wait_reason, 0};
    auto prev = previous_.find(g.goid);
    bool same_place =
        prev != previous_.end() && prev->second.sp == s.sp && prev->second.pc == s.pc && s.pc != 0;
    // Same goroutine, same saved SP/PC: the same stack (the reader walks it
    // once per (goid, SP, PC) too), so it need not be interned again.
    s.stack_id = same_place ? prev->second.stack_id : intern(g.stack);
    if (g.stack.empty()) ++stats_.no_stack;
    bool same_wait = same_place && prev->second.waitsince == s.waitsince && prev->second.reason == s.reason;
    Agg& a = aggs_[{s.stack_id, s.reason}];
    if (!same_wait) ++a.count;
    a.total_ns += weight;
    if (!a.goid) a.goid = g.goid;
    current.emplace(g.goid, s);
  }
  previous_ = std::move(current);
}

BlockBuildInput BlockSampler::build_input() const {
  BlockBuildInput in;
  in.aggs.reserve(aggs_.size());
  for (const auto& [key, a] : aggs_) {
    RawBlockAgg r;
    r.stack_id = key.first;
    r.reason = key.second;
    r.count = a.count;
    r.total_ns = a.total_ns;
    r.max_goid = a.goid;
    in.aggs.push_back(r);
  }
  return in;
}

}  // namespace gotrace
