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
 * `parked` is an LRU table: a goroutine whose park was cancelled (its unlock
 * function said no) and which then exited leaves an entry nobody removes,
 * and the LRU lets such entries go when it is full. What it lets go is
 * counted, by difference: parks − wakes − replaced − still parked at the end
 * (park_tracking.h on the user side), and shown among the drops.
 * Everything is keyed by goroutine id, never by thread. */
#ifndef GOTRACE_PARK_TRACKING_BPF_H
#define GOTRACE_PARK_TRACKING_BPF_H

#include "gotrace_common.bpf.h"

#include "gotrace/bpf/block_types.h"

const volatile __u64 reason_mask[4] = {~0ULL, ~0ULL, ~0ULL, ~0ULL};
const volatile __u32 io_wait_reason = 2;
const volatile __u64 gopark_check = 0; /* gt_site_check.frame_adjust_plus1 */
const volatile __u64 ready_check = 0;
const volatile __u64 netpollready_check = 0;
const volatile __u64 injectglist_check = 0;
const volatile __u32 polldesc_rg = 0;
const volatile __u32 polldesc_wg = 0;

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 131072);
  __type(key, __u64); /* goid */
  __type(value, struct gt_parked);
} parked SEC(".maps");

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
  __u64 goid = goid_of(g);
  if (!goid) return 0;

  struct stack_bounds b = {};
  bounds_for(g, &b);
  struct gt_parked p = {};
  p.t_park_ns = bpf_ktime_get_ns();
  p.reason = reason;
#ifdef PARK_STACK_HINT
  p.stack_id = PARK_STACK_HINT(goid, reason, p.t_park_ns);
  if (!p.stack_id)
#endif
    p.stack_id = capture_entry_stack(ctx, &b, GT_MAX_STACK_DEPTH);
  if (bpf_map_update_elem(&parked, &goid, &p, BPF_NOEXIST) != 0) {
    /* Its previous park never ended (cancelled): replace it. */
    if (bpf_map_update_elem(&parked, &goid, &p, BPF_ANY) != 0) {
      count(GT_CNT_DROP_PARKED_FULL);
      return 0;
    }
    count(GT_CNT_PARK_REPLACED);
  }
  count(GT_CNT_PARKS);
  return 0;
}

/* The wait of goroutine goid ends now; waker_stack/waker_goid describe who ended it. */
static __always_inline void end_wait(__u64 goid, __u32 waker_kind, __u64 waker_goid, __u64 waker_stack) {
  struct gt_parked *p = bpf_map_lookup_elem(&parked, &goid);
  if (!p) {
    count(GT_CNT_WAKES_UNMATCHED);
    return;
  }
  struct gt_parked park = *p;
  bpf_map_delete_elem(&parked, &goid);
  __u64 now = bpf_ktime_get_ns();
  __u64 dt = now > park.t_park_ns ? now - park.t_park_ns : 0;
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
  if (!goid || !bpf_map_lookup_elem(&parked, &goid)) {
    count(GT_CNT_WAKES_UNMATCHED);
    return 0;
  }
  __u64 waker = user_g(g);
  __u64 waker_stack = GT_NO_STACK;
#if PARK_WAKER_STACKS
  if (waker && waker != g) {
    waker_stack = capture_saved_stack(waker); /* on g0 via systemstack: its saved context */
  } else {
    struct stack_bounds b = {};
    bounds_for(g, &b);
    waker_stack = capture_entry_stack(ctx, &b, GT_MAX_WAKER_DEPTH); /* the runtime itself (timers, GC) */
  }
#endif
  end_wait(goid, waker ? GT_WAKER_GOROUTINE : GT_WAKER_RUNTIME, goid_of(waker), waker_stack);
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
    struct gt_parked *p = goid ? bpf_map_lookup_elem(&parked, &goid) : 0;
    if (p) {
      __u32 kind = p->reason == io_wait_reason ? GT_WAKER_NETPOLL : GT_WAKER_RUNTIME;
      end_wait(goid, kind, 0, GT_NO_STACK);
    }
    gp = read_u64(gp + off.g_schedlink);
  }
  if (gp) count(GT_CNT_INJECT_TRUNCATED);
  return 0;
}

#endif
