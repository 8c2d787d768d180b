/* Records of park tracking (bpf/park_tracking.bpf.h), which block and lock
 * share: the goroutines parked and not woken yet. */
#ifndef GOTRACE_BPF_PARK_TYPES_H
#define GOTRACE_BPF_PARK_TYPES_H

#include "gotrace/bpf/common_types.h"

/* A goroutine that parked and has not been woken yet; key: goid. */
struct gt_parked {
  __u64 t_park_ns;
  __u64 stack_id;
  __u32 reason;
  __u32 pad;
};

/* A slot of park tracking's table of parked goroutines (goid 0: free). */
#define GT_PARK_SETS (1 << 16) /* 2-way sets: 2 * GT_PARK_SETS slots, indexed by goid */
struct gt_park_slot {
  __u64 goid;
  struct gt_parked p;
};

/* Who ended a wait: a goroutine (its stack), the network poller, or the
 * runtime with no user goroutine (timers, GC). */
enum gt_waker_kind { GT_WAKER_GOROUTINE = 0, GT_WAKER_NETPOLL = 1, GT_WAKER_RUNTIME = 2 };

#endif
