// SPDX-License-Identifier: GPL-2.0
/* gotrace block: how long goroutines wait, where, why, and who woke them.
 * The waits themselves are followed in park_tracking.bpf.h (gopark -> ready,
 * netpollready, injectglist); this file aggregates each finished wait by
 * (stack, reason) and by (stack, reason, waker stack) in kernel maps, and
 * sends only waits longer than min_event_ns through the ring buffer. */
#include "gotrace_common.bpf.h"

#include "commands/block/block_types.h"

const volatile __u64 min_event_ns = ~0ULL;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct gt_block_key);
  __type(value, struct gt_block_val);
} block_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, struct gt_waker_key);
  __type(value, struct gt_waker_val);
} waker_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void on_wait_end(__u64 goid, const struct gt_parked *p, __u64 now, __u64 dt,
                                        __u32 waker_kind, __u64 waker_goid, __u64 waker_stack) {
  struct gt_parked park = *p;
  if (dt < min_wait_ns) {
    count(GT_CNT_UNDER_MIN);
    return;
  }

  struct gt_block_key key = {.stack_id = park.stack_id, .reason = park.reason};
  static const struct gt_block_val zero_block;
  struct gt_block_val *v = agg_lookup_or_init(&block_agg, &key, &zero_block);
  if (!v) return;
  __sync_fetch_and_add(&v->count, 1);
  __sync_fetch_and_add(&v->total_ns, dt);
  __sync_fetch_and_add(&v->hist[log2_bucket(dt)], 1);
  if (!v->min_ns || dt < v->min_ns) v->min_ns = dt; /* racy like the max: it only bounds percentiles */
  if (dt > v->max_ns) { /* racy max: good enough, never lost for long */
    v->max_ns = dt;
    v->max_goid = goid;
  }

  struct gt_waker_key wk = {.stack_id = park.stack_id, .waker_stack_id = waker_stack,
                            .reason = park.reason, .waker_kind = waker_kind};
  static const struct gt_waker_val zero_waker;
  struct gt_waker_val *w = detail_lookup_or_init(&waker_agg, &wk, &zero_waker);
  if (w) {
    __sync_fetch_and_add(&w->count, 1);
    __sync_fetch_and_add(&w->total_ns, dt);
  }

  if (dt >= min_event_ns) {
    struct gt_block_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
      count(GT_CNT_DROP_RINGBUF);
      return;
    }
    e->goid = goid;
    e->waker_goid = waker_goid;
    e->duration_ns = dt;
    e->t_wake_ns = now;
    e->stack_id = park.stack_id;
    e->waker_stack_id = waker_stack;
    e->reason = park.reason;
    e->waker_kind = waker_kind;
    ringbuf_submit_lazy(&events, e);
    count(GT_CNT_EVENTS);
  }
}

#define PARK_WAKER_STACKS 1
#define PARK_PREWAITS 1
#include "park_tracking.bpf.h"
