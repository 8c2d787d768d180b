#include "commands/goroutines/goroutine_report.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace gotrace {

namespace {
constexpr int64_t kMinute = 60'000'000'000;
}

std::string_view wait_bucket_name(size_t i) {
  static constexpr std::string_view names[kWaitBuckets] = {"unknown", "<1m", "1m-10m", "10m-1h", "≥1h"};
  return i < kWaitBuckets ? names[i] : "?";
}

size_t wait_bucket_of(std::optional<int64_t> wait_ns) {
  if (!wait_ns) return 0;
  if (*wait_ns < kMinute) return 1;
  if (*wait_ns < 10 * kMinute) return 2;
  if (*wait_ns < 60 * kMinute) return 3;
  return 4;
}

std::string label_set_text(const GoroutineEntry& e) {
  if (!e.has_labels) return "";
  if (e.labels.empty()) return "(undecoded)";
  auto sorted = e.labels;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [k, v] : sorted) {
    if (!out.empty()) out += ',';
    out += k + "=" + v;
  }
  return out;
}

GoroutineReport build_goroutine_report(const GoroutineSnapshot& snap, const WaitReasons& reasons,
                                       StackTable stacks, const GoroutineFilter& filter) {
  GoroutineReport rep(std::move(stacks));
  rep.stats = snap.stats;
  rep.unix_ns = snap.unix_ns;
  rep.total = snap.goroutines.size();

  std::map<std::vector<uint64_t>, uint64_t> interned;  // pcs -> stack id
  auto intern = [&](const std::vector<uint64_t>& pcs) -> uint64_t {
    if (pcs.empty()) return 0;
    auto [it, fresh] = interned.emplace(pcs, interned.size() + 1);
    if (fresh) rep.stacks.add(it->second, pcs);
    return it->second;
  };

  // Every non-zero waitsince is some cycle's work.tstart (header comment).
  std::set<int64_t> stamps;
  for (const Goroutine& g : snap.goroutines)
    if (g.waitsince > 0) stamps.insert(g.waitsince);

  using Key = std::tuple<GStatus, std::string, uint64_t, uint64_t, bool>;
  std::map<Key, size_t> group_of;
  for (const Goroutine& g : snap.goroutines) {
    if (g.system) ++rep.system;
    GoroutineEntry e;
    e.goid = g.goid;
    e.status = g.status;
    if (g.status == GStatus::Waiting || g.status == GStatus::Leaked) e.reason = reasons.name(g.wait_reason);
    if (g.waitsince > 0 &&
        (g.status == GStatus::Waiting || g.status == GStatus::Leaked || g.status == GStatus::Syscall)) {
      e.stamp_age_ns = std::max<int64_t>(0, snap.monotonic_ns - g.waitsince);
      if (auto later = stamps.upper_bound(g.waitsince); later != stamps.end())
        e.wait_ns = std::max<int64_t>(0, snap.monotonic_ns - *later);
    }
    e.parent_goid = g.parent_goid;
    e.locked_to_thread = g.locked_to_thread;
    e.system = g.system;
    e.stack_truncated = g.stack_truncated;
    e.stack_broken = g.stack_broken;
    e.has_labels = g.has_labels;
    e.labels = g.labels;

    bool keep = filter.include_system || !g.system;
    if (keep && filter.min_wait_ns > 0) keep = e.wait_ns && *e.wait_ns >= filter.min_wait_ns;
    if (keep && !filter.states.empty()) keep = filter.states.count(std::string(gstatus_name(g.status))) != 0;
    if (keep && !filter.reasons.empty()) keep = filter.reasons.count(e.reason) != 0;
    if (!keep) {
      ++rep.filtered_out;
      continue;
    }
    if (g.stack_origin == StackOrigin::None && g.status == GStatus::Running) ++rep.running_without_stack;
    e.stack_id = intern(g.stack);
    // gopc is a return address: the `go` statement is the call before it.
    // Goroutine 1 (runtime.main) is started by the runtime's bootstrap code,
    // which the runtime's own traceback does not name either.
    e.created_by_id = g.gopc && g.goid != 1 ? intern({g.gopc - 1}) : 0;

    Key key{e.status, e.reason, e.stack_id, e.created_by_id, e.system};
    auto [it, fresh] = group_of.emplace(key, rep.groups.size());
    if (fresh) {
      GoroutineGroup grp;
      grp.status = e.status;
      grp.reason = e.reason;
      grp.stack_id = e.stack_id;
      grp.created_by_id = e.created_by_id;
      grp.system = e.system;
      rep.groups.push_back(std::move(grp));
    }
    GoroutineGroup& grp = rep.groups[it->second];
    ++grp.count;
    grp.goids.push_back(e.goid);
    if (e.parent_goid) grp.parents.insert(e.parent_goid);
    if (e.locked_to_thread) ++grp.locked;
    if (e.has_labels) {
      ++grp.with_labels;
      ++grp.label_sets[label_set_text(e)];
    }
    if (e.wait_ns) {
      ++grp.wait_known;
      grp.min_wait_ns = grp.min_wait_ns ? std::min(*grp.min_wait_ns, *e.wait_ns) : *e.wait_ns;
      grp.max_wait_ns = grp.max_wait_ns ? std::max(*grp.max_wait_ns, *e.wait_ns) : *e.wait_ns;
    }
    ++grp.wait_buckets[wait_bucket_of(e.wait_ns)];
    grp.stack_truncated |= e.stack_truncated;
    grp.stack_broken |= e.stack_broken;
    rep.goroutines.push_back(std::move(e));
  }
  rep.shown = rep.goroutines.size();
  for (auto& grp : rep.groups) std::sort(grp.goids.begin(), grp.goids.end());
  std::stable_sort(rep.groups.begin(), rep.groups.end(),
                   [](const GoroutineGroup& a, const GoroutineGroup& b) {
                     if (a.count != b.count) return a.count > b.count;
                     return a.goids.front() < b.goids.front();
                   });
  return rep;
}

}  // namespace gotrace
