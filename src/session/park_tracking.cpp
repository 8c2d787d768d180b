#include "gotrace/session/park_tracking.h"

#include <string_view>

#include "gotrace/bpf/common_types.h"
#include "gotrace/session/bpf_util.h"

namespace gotrace {

std::vector<ProbeSpec> park_tracking_probes(uint32_t needs) {
  return {{ProbeRole::Gopark, "gopark_entry", 0, true, false, needs},
          {ProbeRole::Ready, "ready_entry", 0, true, false, needs},
          {ProbeRole::Netpollready, "netpollready_entry", 0, false, false, needs | kParkNetpoll},
          {ProbeRole::InjectGlist, "injectglist_entry", 0, false, false, needs}};
}

uint32_t park_tracking_options(TraceContext& tc) {
  const RuntimeOffsets& offs = *tc.binary->offsets();
  if (offs[RtField::PollDescRg].known() && offs[RtField::PollDescWg].known()) return kParkNetpoll;
  tc.notes.push_back("pollDesc layout unknown: IO waits are seen ending only through injectglist");
  return 0;
}

void account_lru_evictions(TraceSummary& s, const char* counter, uint64_t inserted, uint64_t removed,
                           uint64_t replaced, uint64_t remaining) {
  uint64_t accounted = removed + replaced + remaining;
  uint64_t evicted = inserted > accounted ? inserted - accounted : 0;
  s.counters[counter] = evicted;
  if (std::string_view(counter).starts_with("drop_")) s.dropped += evicted;  // else a detail ("lost_…")
}

void account_park_evictions(TraceSummary& s, const Counters& c, int parked_fd, int spill_fd,
                            bool parks_are_events, uint64_t seeded) {
  uint64_t remaining = 0;
  for_each_array_entry<gt_park_slot>(
      parked_fd, [&](uint32_t, const gt_park_slot& slot) { remaining += slot.goid != 0; });
  for_each_map_entry<uint64_t, gt_parked>(spill_fd, [&](const uint64_t&, const gt_parked&) { ++remaining; });
  account_lru_evictions(s, parks_are_events ? "drop_parked_evicted" : "lost_parked_evicted",
                        c[GT_CNT_PARKS] + seeded, c[GT_CNT_WAKES], c[GT_CNT_PARK_REPLACED], remaining);
}

}  // namespace gotrace
