// The result of `gotrace goroutines --watch`: repeated snapshots followed by
// creation site. Per site the live count at each snapshot, the goroutines
// that appeared and disappeared between two snapshots (by goid: goroutines
// born and gone between two snapshots are not seen without probes), and the
// leak suspects. Nothing here reads a process: the session feeds it one
// observation per goroutine and snapshot, so the logic is testable alone.
//
// A leak suspect is a site whose live count keeps growing while its
// goroutines stay parked with nobody waking them:
//  - growth: the least-squares slope of live count over time is positive,
//    the line fits (R² at least min_r2) and the growth it predicts over the
//    watch is at least min_net_growth goroutines. A large stable pool has no
//    slope; a site churning short-lived goroutines has a flat, noisy series.
//  - stuck: a goroutine is stuck when it was seen parked (waiting) at the
//    same PC in consecutive snapshots; it has waited at least since the first
//    of them. At the end, the site's stuck goroutines must account for at
//    least half of the growth, so that growing churn (new goroutines each
//    time, none of them staying) is not a leak.
// Caveat: a goroutine woken and parked again at the same PC between two
// snapshots looks stuck; only probes would tell.
//
// With the creation and exit probes (--leaks) the session also feeds, after
// each snapshot, every site's counts since the probes went on
// (add_probe_counts). Then created/exited are exact (every goroutine, also
// those born and gone between snapshots), and a suspect must also have kept
// alive, of the goroutines it created during the watch, at least
// min_stuck_share of its growth: a churning site (creates ≈ exits) never
// qualifies, whatever its live count does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace gotrace {

struct WatchObservation {  // one goroutine in one snapshot
  uint64_t goid = 0;
  std::string site;            // "main.startPool (main.go:41)"
  bool parked = false;         // waiting (or leaked) with a saved PC
  uint64_t park_pc = 0;        // where it is parked (stack[0])
  uint64_t stack_id = 0;       // its stack, for the suspect's evidence (0: none)
  std::string reason;          // wait reason when parked
  uint64_t created_by_id = 0;  // the creation site's stack (0: none)
};

// A site's counts from the probes, cumulative since they went on.
struct SiteProbeCounts {
  uint64_t created = 0;        // goroutines created
  uint64_t exited_new = 0;     // … of which exited
  uint64_t exited_before = 0;  // exits of goroutines created before the probes went on
};

struct SuspectCriteria {
  double min_r2 = 0.8;
  double min_net_growth = 3;  // goroutines over the watch, from the fitted line
  double min_stuck_share = 0.5;
  size_t min_snapshots = 3;
};

struct LinearFit {
  double slope = 0;  // per unit of x
  double r2 = 0;     // 0 when y does not vary
};
// Least squares of y over x (x in any unit). Fewer than two points, or x
// constant: slope 0, r2 0.
LinearFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

struct SiteSeries {
  std::string site;
  std::vector<uint64_t> live;  // per snapshot
  // Without probes: [i] goids in snapshot i not in i-1 ([0]: 0), and in
  // i-1 not in i. With probes: exact, created/exited between the previous
  // read of the counts (the probes' start for [0]) and snapshot i.
  std::vector<uint64_t> created;
  std::vector<uint64_t> exited;
  uint64_t created_live = 0;  // probes: created during the watch and still alive at the end
  uint64_t peak = 0;
  uint64_t creation_stack_id = 0;
  double growth_per_min = 0;
  double r2 = 0;
};

struct LeakSuspect {
  std::string site;
  uint64_t stack_id = 0;  // where its oldest stuck member is parked
  double growth_per_min = 0;
  double r2 = 0;
  double net_growth = 0;       // predicted by the fit over the watch
  uint64_t live = 0;           // at the last snapshot
  uint64_t stuck = 0;          // members parked at the same PC since an earlier snapshot
  int64_t oldest_wait_ns = 0;  // at least this long: since first seen parked there
  uint64_t oldest_goid = 0;
  std::string reason;  // the stuck members' most common wait reason
  // Probes: goroutines created at the site during the watch, how many of
  // them exited, and the kept ones per minute of watch (the leak rate).
  uint64_t created = 0;
  uint64_t exited = 0;
  double kept_per_min = 0;
};

struct WatchReport {
  std::vector<int64_t> t_ns;          // snapshot times, from the first
  std::vector<SiteSeries> sites;      // by peak live count, descending
  std::vector<LeakSuspect> suspects;  // by growth per minute (probes: kept per minute), descending
  uint64_t snapshots = 0;
  bool exact = false;  // created/exited come from the probes
};

class GoroutineWatch {
 public:
  // Snapshots in time order; t_ns on any monotonic clock.
  void add(int64_t t_ns, const std::vector<WatchObservation>& goroutines);
  // The probes' counts per site at the last snapshot added (cumulative,
  // sites by the same names as the observations').
  void add_probe_counts(const std::map<std::string, SiteProbeCounts>& cumulative);
  size_t snapshots() const { return t_.size(); }
  WatchReport report(const SuspectCriteria& criteria = {}) const;

 private:
  struct Tracked {
    std::string site;
    bool parked = false;
    uint64_t park_pc = 0;
    int64_t parked_since = 0;     // first snapshot that saw it parked at park_pc
    size_t parked_snapshots = 0;  // consecutive snapshots parked there
    uint64_t stack_id = 0;
    std::string reason;
  };
  struct Site {
    std::vector<uint64_t> live, created, exited;
    std::vector<SiteProbeCounts> probed;  // cumulative, per snapshot (with probes)
    uint64_t creation_stack_id = 0;
  };
  Site& site(const std::string& name);
  std::vector<int64_t> t_;
  std::map<std::string, Site> sites_;
  std::unordered_map<uint64_t, Tracked> live_;  // goid -> state at the last snapshot
  bool probed_ = false;
};

}  // namespace gotrace
