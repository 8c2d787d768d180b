/* Types shared by the BPF programs and the C++ side. Plain C, fixed widths. */
#ifndef GOTRACE_BPF_COMMON_TYPES_H
#define GOTRACE_BPF_COMMON_TYPES_H

#ifdef __BPF__
/* vmlinux.h provides __u64 & co. */
#else
#include <linux/types.h>
#endif

#define GT_MAX_STACK_DEPTH 48      /* frames kept per stack */
#define GT_MAX_WAKER_DEPTH 16      /* frames walked for a waker (its user code is near the top) */
#define GT_HIST_BUCKETS 40 /* log2(ns): 1ns .. ~9 minutes */
#define GT_NO_STACK 0ULL
/* Bytes of a goroutine's stack read in one go from its top (SP) when
 * unwinding: the innermost frames' links then come from this copy, not one
 * read each (each read of target memory costs ~70 ns; see gotrace_common.bpf.h). */
#define GT_STACK_CHUNK 2048
/* The first bytes of a g read in one go: stack bounds, m, sched, goid all lie
 * below this in Go 1.17-1.26 (goid, the highest, at 152 or 160). */
#define GT_G_HEAD 168

/* Offsets of runtime struct fields, filled in from GoBinary before load. */
struct gt_offsets {
  __u32 g_goid;
  __u32 g_m;
  __u32 g_stack_lo;
  __u32 g_stack_hi;
  __u32 g_stackguard0;
  __u32 g_schedlink;
  __u32 g_sched_pc;
  __u32 g_sched_bp;
  __u32 g_sched_sp;
  __u32 m_g0;
  __u32 m_curg;
};

/* How to tell, at an entry site that is the branch of the stack-bound check,
 * that the branch will be taken (the function calls morestack and is entered
 * again, so this hit must be ignored). 0 = no stack check at that site. */
/* Set in a check when the site is a big frame's underflow JB (see
 * will_call_morestack); the adjustment plus one is in the bits below. */
#define GT_CHECK_UNDERFLOW (1ULL << 40)
struct gt_site_check {
  __u64 frame_adjust_plus1; /* frame_adjust + 1; 0 = no check */
};

/* Attach cookie of a uprobe: a program-specific kind in the low bits, the
 * stack-check adjustment of the site (gt_site_check) above bit 16. */
#define GT_COOKIE(kind, check_plus1) ((__u64)(kind) | ((__u64)(check_plus1) << 16))
#define GT_COOKIE_KIND(c) ((__u32)((c) & 0xff))
#define GT_COOKIE_CHECK(c) ((c) >> 16)

/* An interned user stack: return addresses, innermost first. */
struct gt_stack {
  __u32 len;
  __u32 pad;
  __u64 pcs[GT_MAX_STACK_DEPTH];
};

/* Counters the user side reads; every loss is counted. One per-CPU array of
 * GT_CNT_SLOTS slots in every program, in three ranges:
 *   0..15   base: the shared BPF code (stacks, aggregation, ring buffer);
 *   16..31  park tracking (park_tracking.bpf.h), for commands that use it;
 *   32..63  the command's own, a list in its <cmd>_types.h starting at
 *           GT_CNT_OWN_FIRST.
 * Each counter is written once, as one line of a list X(slot, name, drop,
 * what): the enum the BPF programs count into is made from it here, the
 * names the reports show and which are drops on the C++ side
 * (session/trace_context.h: GT_CNT_SPEC_ENTRY). A drop (named "drop_…") is
 * an event lost, summed into "dropped"; "lost_…" is a detail a counted event
 * lacks; the rest count. */
#define GT_CNT_PARK_FIRST 16
#define GT_CNT_OWN_FIRST 32
#define GT_CNT_SLOTS 64

#define GT_CNT_ENUM_ENTRY(slot, name, drop, what) slot,

#define GT_BASE_COUNTERS(X)                                                                              \
  X(GT_CNT_DROP_STACKS_FULL, "lost_stack_table_full", 0, "stack table full: stack recorded as unknown") \
  X(GT_CNT_DROP_AGG_FULL, "drop_aggregation_full", 1, "aggregation table full")                         \
  X(GT_CNT_DROP_RINGBUF, "lost_ringbuf_full", 0, "ring buffer full: record lost (aggregates still count it)") \
  X(GT_CNT_EVENTS, "events_sent", 0, "events sent to the ring buffer")                                  \
  X(GT_CNT_STACK_TRUNCATED, "stacks_truncated", 0, "stacks cut at GT_MAX_STACK_DEPTH")                  \
  X(GT_CNT_UNDER_MIN, "waits_under_min", 0, "waits shorter than --min, left out on purpose")            \
  X(GT_CNT_STACK_CLOBBERED, "lost_stack_clobbered", 0,                                                  \
    "a walk's scratch overwritten by a preempting program: stack unknown")                              \
  X(GT_CNT_OTHER_PROCESS, "hits_other_process", 0, "hits in a process that is not the target (ignored)") \
  X(GT_CNT_DETAIL_AGG_FULL, "lost_detail_aggregation_full", 0,                                          \
    "a secondary table full (wakers, chains, blame): the event itself is kept")

enum gt_counter { GT_CNT_BASE__BEGIN = -1, GT_BASE_COUNTERS(GT_CNT_ENUM_ENTRY) GT_CNT_BASE__END };

/* Park tracking's. Where park tracking only adds details to another
 * command's events (lock's chains), its drop is a "lost_" (C++ side). */
#define GT_PARK_COUNTERS(X)                                                                             \
  X(GT_CNT_PARKS, "parks", 0, "gopark hits accepted")                                                  \
  X(GT_CNT_PARK_RETRY, "park_morestack_retries", 0, "gopark hits about to call morestack (ignored)")    \
  X(GT_CNT_WAKES, "waits_ended", 0, "parks matched with a wake")                                       \
  X(GT_CNT_WAKES_UNMATCHED, "wakes_unmatched", 0, "ready/injectglist for a goroutine never seen parking") \
  X(GT_CNT_FILTERED, "parks_filtered", 0, "parks whose reason was filtered out")                        \
  X(GT_CNT_DROP_PARKED_FULL, "drop_parked_table_full", 1, "parked-goroutine table full")               \
  X(GT_CNT_INJECT_TRUNCATED, "injectglist_truncated", 0, "injectglist lists longer than walked")       \
  X(GT_CNT_PARK_REPLACED, "parks_replaced", 0,                                                         \
    "a park replaced its goroutine's earlier one that never ended (cancelled)")                        \
  X(GT_CNT_PARK_SPILLED, "parks_spilled", 0, "parks whose set of the park table was full (spill table)") \
  X(GT_CNT_PREWAITS_ENDED, "waits_from_before_ended", 0, "waits under way when the trace began, ended in it") \
  X(GT_CNT_PREWAITS_BEFORE, "waits_from_before_ended_before_start", 0,                                 \
    "waits under way at the snapshot, ended before the traced time began")

enum gt_park_counter {
  GT_CNT_PARK__BEGIN = GT_CNT_PARK_FIRST - 1,
  GT_PARK_COUNTERS(GT_CNT_ENUM_ENTRY) GT_CNT_PARK__END
};

#endif
