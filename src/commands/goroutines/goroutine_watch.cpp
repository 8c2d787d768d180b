#include "commands/goroutines/goroutine_watch.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace gotrace {

LinearFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
  LinearFit f;
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return f;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0) return f;
  f.slope = sxy / sxx;
  f.r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
  return f;
}

GoroutineWatch::Site& GoroutineWatch::site(const std::string& name) {
  auto [it, fresh] = sites_.try_emplace(name);
  if (fresh) {  // a site first seen now had no goroutines before
    it->second.live.assign(t_.size(), 0);
    it->second.created.assign(t_.size(), 0);
    it->second.exited.assign(t_.size(), 0);
  }
  return it->second;
}

void GoroutineWatch::add(int64_t t_ns, const std::vector<WatchObservation>& goroutines) {
  const bool first = t_.empty();
  t_.push_back(t_ns);
  for (auto& [name, s] : sites_) {
    s.live.push_back(0);
    s.created.push_back(0);
    s.exited.push_back(0);
  }
  std::unordered_map<uint64_t, Tracked> next;
  next.reserve(goroutines.size());
  for (const WatchObservation& o : goroutines) {
    Site& s = site(o.site);
    if (s.live.size() < t_.size()) {  // created by site() after the push above
      s.live.push_back(0);
      s.created.push_back(0);
      s.exited.push_back(0);
    }
    ++s.live.back();
    if (!s.creation_stack_id) s.creation_stack_id = o.created_by_id;
    Tracked t;
    t.site = o.site;
    t.parked = o.parked;
    t.park_pc = o.park_pc;
    t.stack_id = o.stack_id;
    t.reason = o.reason;
    auto prev = live_.find(o.goid);
    if (prev == live_.end()) {
      if (!first) ++s.created.back();
    } else if (prev->second.parked && o.parked && prev->second.park_pc == o.park_pc) {
      t.parked_since = prev->second.parked_since;
      t.parked_snapshots = prev->second.parked_snapshots + 1;
    }
    if (o.parked && t.parked_snapshots == 0) {
      t.parked_since = t_ns;
      t.parked_snapshots = 1;
    }
    next[o.goid] = std::move(t);
  }
  for (const auto& [goid, t] : live_)
    if (!next.count(goid)) ++site(t.site).exited.back();
  live_ = std::move(next);
}

void GoroutineWatch::add_probe_counts(const std::map<std::string, SiteProbeCounts>& cumulative) {
  if (t_.empty()) return;
  probed_ = true;
  for (const auto& [name, c] : cumulative) site(name);  // sites seen only by the probes
  for (auto& [name, s] : sites_) {
    // One entry per snapshot; a site absent from a read keeps its previous
    // counts (they only grow). A second read for the same snapshot replaces
    // the first.
    s.probed.resize(std::min(s.probed.size(), t_.size() - 1));
    SiteProbeCounts prev = s.probed.empty() ? SiteProbeCounts{} : s.probed.back();
    s.probed.resize(t_.size() - 1, prev);
    auto it = cumulative.find(name);
    s.probed.push_back(it == cumulative.end() ? prev : it->second);
  }
}

WatchReport GoroutineWatch::report(const SuspectCriteria& c) const {
  WatchReport r;
  r.snapshots = t_.size();
  for (int64_t t : t_) r.t_ns.push_back(t - t_.front());
  std::vector<double> minutes;
  for (int64_t t : r.t_ns) minutes.push_back(static_cast<double>(t) / 60e9);
  const double span_min = minutes.empty() ? 0 : minutes.back();

  // The stuck members at the last snapshot, per site.
  struct Stuck {
    uint64_t count = 0;
    int64_t oldest_since = 0;
    uint64_t oldest_goid = 0;
    uint64_t stack_id = 0;
    std::map<std::string, uint64_t> reasons;
  };
  std::map<std::string, Stuck> stuck;
  for (const auto& [goid, t] : live_) {
    if (!t.parked || t.parked_snapshots < 2) continue;
    Stuck& s = stuck[t.site];
    if (!s.count || t.parked_since < s.oldest_since ||
        (t.parked_since == s.oldest_since && goid < s.oldest_goid)) {
      s.oldest_since = t.parked_since;
      s.oldest_goid = goid;
      s.stack_id = t.stack_id;
    }
    ++s.count;
    ++s.reasons[t.reason];
  }

  for (const auto& [name, s] : sites_) {
    SiteSeries ser;
    ser.site = name;
    ser.live = s.live;
    ser.created = s.created;
    ser.exited = s.exited;
    ser.creation_stack_id = s.creation_stack_id;
    SiteProbeCounts total;
    if (probed_) {
      // Exact per-interval counts from the cumulative ones.
      SiteProbeCounts prev;
      for (size_t i = 0; i < s.probed.size() && i < ser.created.size(); ++i) {
        const SiteProbeCounts& c = s.probed[i];
        ser.created[i] = c.created - prev.created;
        ser.exited[i] = (c.exited_new + c.exited_before) - (prev.exited_new + prev.exited_before);
        prev = c;
      }
      total = prev;
      ser.created_live = total.created - std::min(total.created, total.exited_new);
    }
    for (uint64_t v : s.live) ser.peak = std::max(ser.peak, v);
    std::vector<double> y(s.live.begin(), s.live.end());
    LinearFit f = fit_line(minutes, y);
    ser.growth_per_min = f.slope;
    ser.r2 = f.r2;

    const double net = f.slope * span_min;
    auto st = stuck.find(name);
    const bool kept = !probed_ || static_cast<double>(ser.created_live) >= c.min_stuck_share * net;
    if (t_.size() >= c.min_snapshots && f.slope > 0 && f.r2 >= c.min_r2 && net >= c.min_net_growth &&
        st != stuck.end() && static_cast<double>(st->second.count) >= c.min_stuck_share * net && kept) {
      LeakSuspect l;
      l.site = name;
      l.stack_id = st->second.stack_id;
      l.growth_per_min = f.slope;
      l.r2 = f.r2;
      l.net_growth = net;
      l.live = s.live.back();
      l.stuck = st->second.count;
      l.oldest_wait_ns = t_.back() - st->second.oldest_since;
      l.oldest_goid = st->second.oldest_goid;
      l.created = total.created;
      l.exited = total.exited_new;
      l.kept_per_min = span_min > 0 ? static_cast<double>(ser.created_live) / span_min : 0;
      uint64_t best = 0;
      for (const auto& [reason, n] : st->second.reasons)
        if (n > best) {
          best = n;
          l.reason = reason;
        }
      r.suspects.push_back(std::move(l));
    }
    r.sites.push_back(std::move(ser));
  }
  std::stable_sort(r.sites.begin(), r.sites.end(),
                   [](const SiteSeries& a, const SiteSeries& b) { return a.peak > b.peak; });
  r.exact = probed_;
  // With probes the exact rate of goroutines kept is the better evidence.
  std::stable_sort(r.suspects.begin(), r.suspects.end(), [&](const LeakSuspect& a, const LeakSuspect& b) {
    return probed_ ? a.kept_per_min > b.kept_per_min : a.growth_per_min > b.growth_per_min;
  });
  return r;
}

}  // namespace gotrace
