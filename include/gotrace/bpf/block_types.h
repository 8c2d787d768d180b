/* Records of the `block` BPF program (bpf/block.bpf.c). */
#ifndef GOTRACE_BPF_BLOCK_TYPES_H
#define GOTRACE_BPF_BLOCK_TYPES_H

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

/* Blocked time aggregated by (stack, reason). */
struct gt_block_key {
  __u64 stack_id;
  __u32 reason;
  __u32 pad;
};
struct gt_block_val {
  __u64 count;
  __u64 total_ns;
  __u64 min_ns; /* shortest wait; 0 until one longer than 0 ns was seen */
  __u64 max_ns;
  __u64 max_goid;
  __u64 hist[GT_HIST_BUCKETS];
};

/* Who woke them: (blocked stack, reason, waker stack). waker_stack_id 0 with
 * waker_kind NETPOLL means the network poller; RUNTIME is the runtime with no
 * user goroutine (timers, GC), its own stack when one could be walked. */
enum gt_waker_kind { GT_WAKER_GOROUTINE = 0, GT_WAKER_NETPOLL = 1, GT_WAKER_RUNTIME = 2 };
struct gt_waker_key {
  __u64 stack_id;
  __u64 waker_stack_id;
  __u32 reason;
  __u32 waker_kind;
};
struct gt_waker_val {
  __u64 count;
  __u64 total_ns;
};

/* One long wait (>= min_ns), sent through the ring buffer. */
struct gt_block_event {
  __u64 goid;
  __u64 waker_goid;
  __u64 duration_ns;
  __u64 t_wake_ns;
  __u64 stack_id;
  __u64 waker_stack_id;
  __u32 reason;
  __u32 waker_kind;
};

#endif
