/* Following goroutine waits from gopark to their end, shared by the programs
 * that need it (block: the report itself; lock: what a lock holder was
 * blocked on while others waited for it).
 *
 *   runtime.gopark        (entry site)  the goroutine in R14 parks: remember
 *                                       goid -> (time, stack, reason)
 *   runtime.ready         (entry site)  RAX is made runnable by g0.m.curg
 *   runtime.netpollready  (entry site)  the poller wakes pd.rg / pd.wg (IO wait;
 *                                       bypasses ready)
 *   runtime.injectglist   (entry site)  the runtime readies a list of goroutines
 *
 * The including program defines, before including this file:
 *   PARK_WAKER_STACKS  1 to capture the waker's stack at ready (block), 0 not
 *   static void on_wait_end(__u64 goid, const struct gt_parked *park, __u64 now,
 *                           __u64 dt, __u32 waker_kind, __u64 waker_goid,
 *                           __u64 waker_stack);
 * and may define PARK_STACK_HINT(goid, reason, now): a stack id it already
 * holds for this park (saves the unwind), or 0.
 * Parked goroutines are kept in `parked`, an array of 2-way sets indexed by
 * goid: finding or filling a slot is an add and a compare (an array lookup
 * compiles to that), where a hash map update and delete cost ~150 ns each,
 * a fifth of the BPF time per park before this table. A park whose set is
 * full (two other goroutines, with goids equal modulo GT_PARK_SETS, parked
 * there) goes to `parked_spill`, an LRU hash, looked up only while it holds
 * entries. A goroutine whose park was cancelled (its unlock function said
 * no) leaves its entry until it parks again (replaced, counted) or, in the
 * spill, until the LRU lets it go; what the LRU lets go is counted, by
 * difference: parks − wakes − replaced − still parked at the end
 * (park_tracking.h on the user side), and shown among the drops.
 * Everything is keyed by goroutine id, never by thread. */
#ifndef GOTRACE_PARK_TRACKING_BPF_H
#define GOTRACE_PARK_TRACKING_BPF_H

#include "gotrace_common.bpf.h"

#include "gotrace/bpf/park_types.h"

const volatile __u64 reason_mask[4] = {~0ULL, ~0ULL, ~0ULL, ~0ULL};
const volatile __u32 io_wait_reason = 2;
const volatile __u64 gopark_check = 0; /* gt_site_check.frame_adjust_plus1 */
const volatile __u64 ready_check = 0;
const volatile __u64 netpollready_check = 0;
const volatile __u64 injectglist_check = 0;
const volatile __u32 polldesc_rg = 0;
const volatile __u32 polldesc_wg = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2 * GT_PARK_SETS);
  __type(key, __u32);
  __type(value, struct gt_park_slot);
} parked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* goid */
  __type(value, struct gt_parked);
} parked_spill SEC(".maps");

/* Entries put into parked_spill and not yet taken out: while 0, a wake
 * need not look there. (What the LRU lets go keeps it above 0: a lookup
 * too many, never one too few.) */
volatile __s64 spill_live = 0;

/* The slot of goid's set whose index is way (0 or 1). */
static __always_inline struct gt_park_slot *park_way(__u64 goid, __u32 way) {
  __u32 i = ((__u32)goid & (GT_PARK_SETS - 1)) * 2 + way;
  return bpf_map_lookup_elem(&parked, &i);
}

/* Records goid's park. */
static __always_inline void park_put(__u64 goid, const struct gt_parked *p) {
  struct gt_park_slot *s0 = park_way(goid, 0), *s1 = park_way(goid, 1);
  if (!s0 || !s1) return;
  struct gt_park_slot *s = 0;
  if (s0->goid == goid) {
    s = s0;
  } else if (s1->goid == goid) {
    s = s1;
  }
  if (s) {
    /* Its previous park never ended (cancelled): replace it. */
    count(GT_CNT_PARK_REPLACED);
    s->p = *p;
    count(GT_CNT_PARKS);
    return;
  }
  /* A free way, claimed atomically: two goroutines of one set may park at once. */
  if (s0->goid == 0 && __sync_val_compare_and_swap(&s0->goid, 0, goid) == 0) {
    s = s0;
  } else if (s1->goid == 0 && __sync_val_compare_and_swap(&s1->goid, 0, goid) == 0) {
    s = s1;
  }
  if (s) {
    s->p = *p;
    /* A stale record in the spill (an earlier cancelled park) would match
     * nothing now: this one is found first. */
    count(GT_CNT_PARKS);
    return;
  }
  if (bpf_map_update_elem(&parked_spill, &goid, p, BPF_NOEXIST) == 0) {
    __sync_fetch_and_add(&spill_live, 1);
  } else if (bpf_map_update_elem(&parked_spill, &goid, p, BPF_ANY) == 0) {
    count(GT_CNT_PARK_REPLACED);
  } else {
    count(GT_CNT_DROP_PARKED_FULL);
    return;
  }
  count(GT_CNT_PARK_SPILLED);
  count(GT_CNT_PARKS);
}

#if PARK_PREWAITS
/* Goroutines parked before the probes went on are put in the park table by
 * gotrace itself, from its snapshot of every goroutine taken just before it
 * attached, with t_park_ns 0 and the stack it interned for them in
 * `stacks`. Their wake is timed from window_start_ns, when the trace's
 * clock started (0 until then: the wait ended before the traced time), so
 * that each wait counts for its part inside the traced time, as the
 * sampler (--sample) counts it. One whose goroutine parks again (it woke
 * unseen, before the probes were on) is replaced like any stale park. */
volatile __u64 window_start_ns = 0;
#endif

/* Whether goid has a park on record (a cheap test before costlier work). */
static __always_inline bool park_known(__u64 goid) {
  struct gt_park_slot *s0 = park_way(goid, 0), *s1 = park_way(goid, 1);
  if (s0 && s0->goid == goid) return true;
  if (s1 && s1->goid == goid) return true;
  return spill_live > 0 && bpf_map_lookup_elem(&parked_spill, &goid);
}

/* Takes goid's park out of the table into *out; false when it has none. */
static __always_inline bool park_take(__u64 goid, struct gt_parked *out) {
  struct gt_park_slot *s0 = park_way(goid, 0), *s1 = park_way(goid, 1);
  struct gt_park_slot *s = 0;
  if (s0 && s0->goid == goid) {
    s = s0;
  } else if (s1 && s1->goid == goid) {
    s = s1;
  }
  if (s) {
    *out = s->p;
    /* Freed only if still ours: a wake seen twice at once takes it once. */
    return __sync_val_compare_and_swap(&s->goid, goid, 0) == goid;
  }
  if (spill_live <= 0) return false;
  struct gt_parked *p = bpf_map_lookup_elem(&parked_spill, &goid);
  if (!p) return false;
  *out = *p;
  if (bpf_map_delete_elem(&parked_spill, &goid) != 0) return false;
  __sync_fetch_and_add(&spill_live, -1);
  return true;
}

static __always_inline bool reason_wanted(__u32 reason) { return bit_in_mask(reason_mask, reason); }

SEC("uprobe")
int gopark_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 g = go_g(ctx);
  if (will_call_morestack(ctx, g, gopark_check)) {
    count(GT_CNT_PARK_RETRY);
    return 0;
  }
  __u32 reason = go_arg3(ctx) & 0xff; /* gopark(unlockf, lock, reason, …): 3rd int arg */
  if (!reason_wanted(reason)) {
    count(GT_CNT_FILTERED);
    return 0;
  }
  struct g_view gv;
  if (!read_g(g, &gv) || !gv.goid) return 0;
  __u64 goid = gv.goid;
  /* gopark runs on the parking goroutine's own stack, never on g0 (its
   * mcall would throw there): one stack range. */
  struct stack_bounds b = {.lo1 = gv.lo, .hi1 = gv.hi};
  struct gt_parked p = {};
  p.t_park_ns = bpf_ktime_get_ns();
  p.reason = reason;
#ifdef PARK_STACK_HINT
  p.stack_id = PARK_STACK_HINT(goid, reason, p.t_park_ns);
  if (!p.stack_id)
#endif
    p.stack_id = capture_entry_stack(ctx, &b, GT_MAX_STACK_DEPTH);
  park_put(goid, &p);
  return 0;
}

/* The wait of goroutine goid ends now; waker_stack/waker_goid describe who
 * ended it. waker_kind WAKER_BY_REASON: netpoll for an IO wait, else the
 * runtime (injectglist, which readies both). */
#define WAKER_BY_REASON 0xff
static __always_inline void end_wait(__u64 goid, __u32 waker_kind, __u64 waker_goid, __u64 waker_stack) {
  struct gt_parked park;
  if (!park_take(goid, &park)) {
    count(GT_CNT_WAKES_UNMATCHED);
    return;
  }
#if PARK_PREWAITS
  if (!park.t_park_ns) { /* under way when the trace began */
    __u64 start = window_start_ns;
    if (!start) { /* and ended before the traced time began */
      count(GT_CNT_WAKES);
      count(GT_CNT_PREWAITS_BEFORE);
      return;
    }
    park.t_park_ns = start;
    count(GT_CNT_PREWAITS_ENDED);
  }
#endif
  __u64 now = bpf_ktime_get_ns();
  __u64 dt = now > park.t_park_ns ? now - park.t_park_ns : 0;
  if (waker_kind == WAKER_BY_REASON) waker_kind = park.reason == io_wait_reason ? GT_WAKER_NETPOLL : GT_WAKER_RUNTIME;
  count(GT_CNT_WAKES);
  on_wait_end(goid, &park, now, dt, waker_kind, waker_goid, waker_stack);
}

SEC("uprobe")
int ready_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 g = go_g(ctx); /* g0: ready runs on the system stack */
  if (will_call_morestack(ctx, g, ready_check)) return 0;
  __u64 woken = go_arg1(ctx);
  __u64 goid = goid_of(woken);
  if (!goid || !park_known(goid)) {
    count(GT_CNT_WAKES_UNMATCHED);
    return 0;
  }
  __u64 waker = user_g_of(g, read_u64(g + off.g_m));
  __u64 waker_goid = 0, waker_stack = GT_NO_STACK;
#if PARK_WAKER_STACKS
  struct g_view gv = {};
  if (waker && read_g(waker, &gv)) waker_goid = gv.goid;
  if (waker && waker != g) {
    waker_stack = capture_saved_stack(&gv); /* on g0 via systemstack: its saved context */
  } else {
    /* The runtime itself (timers, GC: no user goroutine), or ready called
     * on a goroutine's own stack. */
    if (!waker) read_g(g, &gv);
    struct stack_bounds b = {};
    bounds_of(&gv, &b);
    waker_stack = capture_entry_stack(ctx, &b, GT_MAX_WAKER_DEPTH);
  }
#else
  waker_goid = goid_of(waker);
#endif
  end_wait(goid, waker ? GT_WAKER_GOROUTINE : GT_WAKER_RUNTIME, waker_goid, waker_stack);
  return 0;
}

/* netpollready(toRun *gList, pd *pollDesc, mode int32): the goroutines parked
 * in pd.rg (mode 'r') and pd.wg (mode 'w') are about to be made runnable. */
SEC("uprobe")
int netpollready_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  if (will_call_morestack(ctx, go_g(ctx), netpollready_check)) return 0;
  __u64 pd = go_arg2(ctx);
  __u32 mode = go_arg3(ctx) & 0xffffffff;
  __u64 gs[2] = {};
  if (mode == 'r' || mode == 'r' + 'w') gs[0] = read_u64(pd + polldesc_rg);
  if (mode == 'w' || mode == 'r' + 'w') gs[1] = read_u64(pd + polldesc_wg);
  for (int i = 0; i < 2; i++) {
    if (gs[i] <= 2) continue; /* pdNil, pdReady, pdWait */
    __u64 goid = goid_of(gs[i]);
    if (goid) end_wait(goid, GT_WAKER_NETPOLL, 0, GT_NO_STACK);
  }
  return 0;
}

/* injectglist(glist *gList): goroutines linked through g.schedlink. */
SEC("uprobe")
int injectglist_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  if (will_call_morestack(ctx, go_g(ctx), injectglist_check)) return 0;
  __u64 gp = read_u64(go_arg1(ctx));
  for (int i = 0; i < 64; i++) {
    if (!gp) return 0;
    __u64 goid = goid_of(gp);
    if (goid && park_known(goid)) end_wait(goid, WAKER_BY_REASON, 0, GT_NO_STACK);
    gp = read_u64(gp + off.g_schedlink);
  }
  if (gp) count(GT_CNT_INJECT_TRUNCATED);
  return 0;
}

#endif
