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

/* Counters the user side reads; every loss is counted here. A per-CPU array
 * of GT_CNT_SLOTS slots; a command's own counters start at GT_CNT_OWN_FIRST
 * (an enum in its <cmd>_types.h). */
#define GT_CNT_OWN_FIRST 32
#define GT_CNT_SLOTS 64
enum gt_counter {
  GT_CNT_PARKS = 0,          /* gopark hits accepted */
  GT_CNT_PARK_RETRY,         /* gopark hits about to call morestack (ignored) */
  GT_CNT_WAKES,              /* parks matched with a wake */
  GT_CNT_WAKES_UNMATCHED,    /* ready/injectglist for a goroutine we never saw park */
  GT_CNT_FILTERED,           /* parks whose reason was filtered out */
  GT_CNT_DROP_STACKS_FULL,   /* stack table full: stack recorded as unknown */
  GT_CNT_DROP_PARKED_FULL,   /* parked-goroutine table full */
  GT_CNT_DROP_AGG_FULL,      /* aggregation table full */
  GT_CNT_DROP_RINGBUF,       /* ring buffer full: event lost (aggregates still count it) */
  GT_CNT_EVENTS,             /* events sent to the ring buffer */
  GT_CNT_STACK_TRUNCATED,    /* stacks cut at GT_MAX_STACK_DEPTH */
  GT_CNT_INJECT_TRUNCATED,   /* injectglist lists longer than we walk */
  GT_CNT_LOCK_WAITS,         /* contended acquires entered (lock) */
  GT_CNT_HANDOFFS,           /* waits matched with the release that ended them */
  GT_CNT_HANDOFF_UNMATCHED,  /* wakes from a release we cannot pair with a wait */
  GT_CNT_DROP_PENDING_FULL,  /* pending-acquire table full */
  GT_CNT_CHAIN_TRUNCATED,    /* a releaser blocked more often in one wait than its history holds */
  GT_CNT_UNDER_MIN,          /* waits shorter than --min, left out on purpose */
  GT_CNT_PARK_REPLACED,      /* a park replaced its goroutine's earlier one that never ended (cancelled) */
  GT_CNT_PENDING_REPLACED,   /* a contended acquire replaced an earlier one that needed no hand-over */
  GT_CNT_PENDING_REMOVED,    /* pending acquires ended by a hand-over */
  GT_CNT_PENDING_ADDED,      /* contended sync acquires entered into the pending table */
  GT_CNT_ALLOC_SAMPLES,      /* alloc: sampler hits accepted (profilealloc / refill / mallocgc) */
  GT_CNT_ALLOC_RETRY,        /* alloc: hits about to call morestack (ignored: the call comes again) */
  GT_CNT_ALLOC_NO_FRAME,     /* alloc: mallocgc's frame not where expected: sample kept, type unknown */
  GT_CNT_ALLOC_LARGE,        /* alloc: large objects seen */
  GT_CNT_ALLOC_MAP_GROWTHS,  /* alloc: map growth events seen */
  GT_CNT_ALLOC_GC_EVENTS,    /* alloc: GC and stop/start-the-world events seen */
  GT_CNT__COUNT
};

#endif
