/* Records of the `lock` BPF program (lock.bpf.c). */
#ifndef GOTRACE_BPF_LOCK_TYPES_H
#define GOTRACE_BPF_LOCK_TYPES_H

#include "gotrace/bpf/common_types.h"

/* What a goroutine waits for, from the entry point it came through. Go 1.19
 * enters RWMutex waits through the mutex entry point; user space refines the
 * kind from the waiter's stack. */
enum gt_lock_kind {
  GT_LOCK_MUTEX = 0,
  GT_LOCK_RWMUTEX_R = 1, /* RLock waits for a writer */
  GT_LOCK_RWMUTEX_W = 2, /* Lock waits for readers (or, via its inner Mutex, another writer) */
  GT_LOCK_WAITGROUP = 3,
  GT_LOCK_COND = 4,
  GT_LOCK_RUNTIME = 5, /* runtime.mutex: an M sleeps in lock2 until an unlock wakes it */
  GT_LOCK__COUNT
};

/* lock's own counters (common_types.h says how counters are laid out). */
#define GT_LOCK_COUNTERS(X)                                                                                \
  X(GT_CNT_LOCK_WAITS, "lock_waits", 0, "contended acquires entered")                                      \
  X(GT_CNT_HANDOFFS, "handoffs", 0, "waits matched with the release that ended them")                      \
  X(GT_CNT_HANDOFF_UNMATCHED, "handoffs_unmatched", 0,                                                     \
    "wakes from a release that cannot be paired with a wait")                                              \
  X(GT_CNT_DROP_PENDING_FULL, "drop_pending_table_full", 1, "pending-acquire table full")                  \
  X(GT_CNT_CHAIN_TRUNCATED, "chains_truncated", 0,                                                         \
    "a releaser blocked more often in one wait than its history holds")                                    \
  X(GT_CNT_PENDING_REPLACED, "acquires_replaced", 0,                                                       \
    "a contended acquire replaced an earlier one that needed no hand-over")                                \
  X(GT_CNT_PENDING_REMOVED, "acquires_ended", 0, "pending acquires ended by a hand-over")                  \
  X(GT_CNT_PENDING_ADDED, "acquires_entered", 0, "contended sync acquires entered into the pending table") \
  X(GT_CNT_BLAME_TRUNCATED, "lock_blame_truncated", 0,                                                     \
    "waits whose first holders fell out of the release ring (time kept)")

enum gt_lock_counter {
  GT_CNT_LOCK__BEGIN = GT_CNT_OWN_FIRST - 1,
  GT_LOCK_COUNTERS(GT_CNT_ENUM_ENTRY) GT_CNT_LOCK__END
};

/* A goroutine that entered a contended acquire; key: goid. addr is the
 * semaphore (or, for Cond, the notify list) it waits on. */
struct gt_lock_pending {
  __u64 t_start_ns;
  __u64 addr;
  __u64 stack_id;
  __u32 kind;
  __u32 pad;
};

/* A goroutine inside a release (semrelease1, Cond Signal/Broadcast); key: goid. */
struct gt_release {
  __u64 addr;
  __u64 stack_id;
};

/* When a goroutine was handed a lock through the contended path: key
 * (goid, addr), value: time. Bounds the "while holding" window of its release. */
struct gt_held_key {
  __u64 goid;
  __u64 addr;
};

/* An M asleep for a contended runtime lock; key: the m pointer (runtime
 * locks are held and waited for by Ms, not goroutines). futex is the word it
 * sleeps on (the lock's key up to 1.23, m.waitsema from 1.24). */
struct gt_rt_wait {
  __u64 t_start_ns;
  __u64 futex;
  __u64 lock;
  __u64 stack_id;
  __u64 goid;
};

/* The Ms asleep on one futex word, oldest first (≤1.23: every waiter of a
 * runtime lock sleeps on the lock's key; the kernel wakes them in order). */
#define GT_RT_SLEEPERS 4
struct gt_rt_sleepers {
  __u64 m[GT_RT_SLEEPERS];
  __u32 n;
  __u32 pad;
};

/* The last finished waits (park -> wake) of one goroutine; key: goid. */
#define GT_HISTORY 8
struct gt_park_span {
  __u64 t0_ns;
  __u64 t1_ns;
  __u64 stack_id;
  __u32 reason;
  __u32 pad;
};
struct gt_park_history {
  __u32 next;
  __u32 pad;
  struct gt_park_span span[GT_HISTORY];
};

/* Wait time by (kind, waiter stack, releaser stack, lock address). */
struct gt_lock_key {
  __u64 waiter_stack;
  __u64 releaser_stack;
  __u64 addr;
  __u32 kind;
  __u32 pad;
};
struct gt_lock_val {
  __u64 count;
  __u64 total_ns;
  __u64 min_ns; /* shortest wait; 0 until one longer than 0 ns was seen */
  __u64 max_ns;
  __u64 max_goid;
  __u64 max_releaser_goid;
  __u64 hist[GT_HIST_BUCKETS];
};

/* What the releaser was itself blocked on while the waiter waited (and it
 * held the lock): (kind, waiter stack, releaser stack, its wait stack, reason). */
struct gt_chain_key {
  __u64 waiter_stack;
  __u64 releaser_stack;
  __u64 chain_stack;
  __u32 kind;
  __u32 reason;
};
struct gt_chain_val {
  __u64 count;      /* waits during which the releaser was blocked here */
  __u64 overlap_ns; /* time of those blocks inside the waits */
  __u64 example_goid;
};

/* The last releases of one semaphore (or notify list); key: its address.
 * Every release that wakes a waiter goes through the probed slow path, so
 * while anyone waits on it, the goroutines that held it, one after the
 * other, are here: release k ends the hold [release k-1, release k] of its
 * goroutine. total counts every release pushed (slot total % GT_RELEASES is
 * the next); since_ns is when the ring was created (at the first acquire or
 * release seen on the address): a wait that began before it (the ring was
 * evicted and made again) or before the oldest release kept cannot tell who
 * held the lock first. */
#define GT_RELEASES 16
struct gt_release_rec {
  __u64 t_ns;
  __u64 goid;
  __u64 stack_id;
};
struct gt_release_ring {
  __u64 total;
  __u64 since_ns;
  struct gt_release_rec rec[GT_RELEASES];
};

/* Wait time blamed on a holder by time held: (the entry's key, the stack at
 * which that holder released the lock). holder_stack GT_BLAME_NOT_KEPT: the
 * part of waits before the oldest release the ring kept. */
#define GT_BLAME_NOT_KEPT (~0ULL)
struct gt_blame_key {
  __u64 waiter_stack;
  __u64 releaser_stack;
  __u64 addr;
  __u64 holder_stack;
  __u32 kind;
  __u32 pad;
};
struct gt_blame_val {
  __u64 total_ns;    /* time of the entry's waits while this holder held the lock */
  __u64 waits;       /* waits during which it did */
  __u64 max_hold_ns; /* the longest single hold inside one wait */
  __u64 max_goid;    /* whose it was */
};

/* One long wait (>= min_ns), through the ring buffer, with the releaser's
 * blocks that overlap it (for chains deeper than one link). */
#define GT_CHAIN_IN_EVENT 4
struct gt_lock_event {
  __u64 goid;
  __u64 releaser_goid;
  __u64 addr;
  __u64 t_start_ns;
  __u64 t_end_ns;
  __u64 t_held_ns; /* when the releaser got the lock (contended path), else 0 */
  __u64 waiter_stack;
  __u64 releaser_stack;
  __u32 kind;
  __u32 nchain;
  struct gt_park_span chain[GT_CHAIN_IN_EVENT];
};

#endif
