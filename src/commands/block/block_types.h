/* Records of the `block` BPF program (block.bpf.c, beside this file). */
#ifndef GOTRACE_BPF_BLOCK_TYPES_H
#define GOTRACE_BPF_BLOCK_TYPES_H

#include "gotrace/bpf/common_types.h"
#include "gotrace/bpf/park_types.h"

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
