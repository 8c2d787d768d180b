// Configuration of the park tracking that bpf/park_tracking.bpf.h adds to a
// command's BPF program (block's report, lock's wait chains): the pollDesc
// layout, the IO-wait reason, and the stack check of each of its sites.
#pragma once

#include "gotrace/bpf/park_types.h"
#include "gotrace/probes/probe_table.h"
#include "gotrace/session/attach.h"
#include "gotrace/session/trace_context.h"

namespace gotrace {

// Option bit of the netpollready probe: on when the pollDesc layout is known.
inline constexpr uint32_t kParkNetpoll = 1u << 31;

// The park-tracking probes, for a command's probe table; `needs` is added to
// each (lock follows waits only with its chains option on).
std::vector<ProbeSpec> park_tracking_probes(uint32_t needs);

// kParkNetpoll when the pollDesc layout is known, else 0 and a note saying so.
uint32_t park_tracking_options(TraceContext& tc);

// What an LRU table let go when full, by difference (entries put in, minus
// those removed or replaced, minus those still there): added to the summary
// as `counter`, and to "dropped" when it is a drop ("drop_parked_evicted":
// a wait whose entry went is not counted), not when it names a lost detail
// ("lost_…").
void account_lru_evictions(TraceSummary& s, const char* counter, uint64_t inserted, uint64_t removed,
                           uint64_t replaced, uint64_t remaining);
// The same for park tracking's tables: `parked` (an array of slots, goid 0
// = free) and its LRU spill `parked_spill`; parks_are_events as for
// park_counter_specs; seeded: entries gotrace put in the tables itself
// (block's waits under way when the trace began).
void account_park_evictions(TraceSummary& s, const Counters& c, int parked_fd, int spill_fd,
                            bool parks_are_events = true, uint64_t seeded = 0);

template <typename Rodata>
void configure_park_tracking(Rodata* ro, const TraceContext& tc, const WaitReasons& reasons) {
  const RuntimeOffsets& offs = *tc.binary->offsets();
  if (auto io = reasons.value_of("IO wait")) ro->io_wait_reason = *io;
  ro->polldesc_rg = static_cast<__u32>(offs[RtField::PollDescRg].value);
  ro->polldesc_wg = static_cast<__u32>(offs[RtField::PollDescWg].value);
  for (auto [role, check] :
       {std::pair{ProbeRole::Gopark, &ro->gopark_check}, std::pair{ProbeRole::Ready, &ro->ready_check},
        std::pair{ProbeRole::Netpollready, &ro->netpollready_check},
        std::pair{ProbeRole::InjectGlist, &ro->injectglist_check}})
    if (const PlannedSite* s = tc.site(role)) *check = site_check(*s);
}

}  // namespace gotrace
