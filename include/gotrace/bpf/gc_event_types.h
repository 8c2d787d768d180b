/* GC and stop-the-world events, shared by the commands that see them
 * (alloc, sched): rare, sent through the ring buffer. Plain C, fixed widths. */
#ifndef GOTRACE_BPF_GC_EVENT_TYPES_H
#define GOTRACE_BPF_GC_EVENT_TYPES_H

#include "gotrace/bpf/common_types.h"

enum gt_gc_event_kind {
  GT_GC_START = 0, /* gcStart: arg = trigger kind (0 heap, 1 time, 2 forced) */
  GT_GC_CYCLE =
      1, /* (*gcControllerState).startCycle: a cycle really starts; arg2 = its number (0: unknown) */
  GT_GC_STW_STOP = 2,  /* stopTheWorldWithSema: arg = reason (1.21+; GT_STW_REASON_UNKNOWN before) */
  GT_GC_STW_START = 3, /* startTheWorldWithSema: arg = reason (1.22+), arg2 = when stopping began (1.22+) */
  GT_GC_PAUSE_END = 4, /* finishGCTransition(now): arg2 = now, the runtime's own end of the GC pause */
};
#define GT_STW_REASON_UNKNOWN 0xffffffffu
struct gt_gc_event {
  __u64 t_ns;
  __u64 arg2;
  __u64 goid;
  __u32 kind;
  __u32 arg;
};

#endif
