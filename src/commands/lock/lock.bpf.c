// SPDX-License-Identifier: GPL-2.0
/* gotrace lock: contended sync primitives — who waited, who held them (the
 * goroutine whose release handed the lock over), and what that holder was
 * itself blocked on meanwhile.
 *
 *   acquire_entry  the contended entry points (sync.runtime_SemacquireMutex,
 *                  …RWMutexR, …RWMutex, …WaitGroup, sync.runtime_Semacquire,
 *                  sync.runtime_notifyListWait); the cookie says which kind.
 *                  R14 = the waiter, RAX = the semaphore / notify list.
 *   release_entry  runtime.semrelease1 and Cond Signal/Broadcast, on the
 *                  releasing goroutine; RAX = the semaphore / notify list.
 *   handoff_entry  runtime.readyWithTime(s *sudog): only those releases call
 *                  it; s.g is the waiter being woken, R14 the releaser.
 * The uncontended fast paths are inlined into the program and never seen.
 * Each release is also kept in its semaphore's ring of the last few, so a
 * wait that ends is split among the goroutines that held the lock during it,
 * by time held (blame_agg), beside the releaser that ended it (lock_agg).
 * Runtime-internal locks (opt-in): the M that sleeps in lock2 (futexsleep
 * with the "sleeping" value up to 1.23; semasleep from 1.24, then the futex
 * on its m.waitsema) is matched with the futexwakeup of that word.
 * With chains on, park_tracking.bpf.h also follows every goroutine wait and
 * keeps each goroutine's last few, so a release can say what its goroutine
 * was blocked on while it held the lock. No uretprobes; keys are goroutine
 * ids, never threads; nothing is written to the target. */
#include "gotrace_common.bpf.h"

#include "gotrace/bpf/park_types.h"
#include "commands/lock/lock_types.h"

const volatile __u64 min_event_ns = ~0ULL;
const volatile __u64 handoff_check = 0;
const volatile __u32 rt_spinbit = 0; /* 1.24+: lock2 sleeps in semasleep */
/* A park (or a runtime lock's futex sleep) this soon after a contended
 * acquire began belongs to that acquire: it reuses the acquire's stack. */
#define ACQUIRE_PARK_WINDOW_NS 1000000ULL

/* Wait reasons of semaphore and Cond parks (bit per reason value). */
const volatile __u64 sync_reason_mask[4] = {};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* goid */
  __type(value, struct gt_lock_pending);
} pending SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* goid */
  __type(value, struct gt_release);
} releasing SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct gt_held_key);
  __type(value, __u64);
} held SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* goid */
  __type(value, struct gt_park_history);
} history SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64); /* m */
  __type(value, struct gt_rt_wait);
} rt_pending SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64); /* futex word */
  __type(value, struct gt_rt_sleepers);
} rt_sleeper SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct gt_lock_key);
  __type(value, struct gt_lock_val);
} lock_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct gt_chain_key);
  __type(value, struct gt_chain_val);
} chain_agg SEC(".maps");

/* Rings of the last releases per semaphore address; LRU, since heap
 * objects (a WaitGroup per request) come and go. An evicted ring is made
 * again with a later since_ns: the waits it spanned say so (blame truncated). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct gt_release_ring);
} releases SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, struct gt_blame_key);
  __type(value, struct gt_blame_val);
} blame_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 512 * 1024);
} events SEC(".maps");

/* Every finished wait of every goroutine goes into its short history. */
static __always_inline void on_wait_end(__u64 goid, const struct gt_parked *park, __u64 now, __u64 dt,
                                        __u32 waker_kind, __u64 waker_goid, __u64 waker_stack) {
  struct gt_park_history *h = bpf_map_lookup_elem(&history, &goid);
  if (!h) {
    static const struct gt_park_history empty;
    bpf_map_update_elem(&history, &goid, &empty, BPF_NOEXIST);
    h = bpf_map_lookup_elem(&history, &goid);
    if (!h) return;
  }
  __u32 i = h->next % GT_HISTORY;
  h->span[i].t0_ns = park->t_park_ns;
  h->span[i].t1_ns = now;
  h->span[i].stack_id = park->stack_id;
  h->span[i].reason = park->reason;
  h->next = i + 1;
}

/* A park on the semaphore a goroutine just entered a contended acquire for
 * has the acquire's user stack: no second unwind. */
static __always_inline __u64 pending_stack(__u64 goid, __u32 reason, __u64 now) {
  if (!bit_in_mask(sync_reason_mask, reason)) return 0;
  struct gt_lock_pending *p = bpf_map_lookup_elem(&pending, &goid);
  if (!p || now - p->t_start_ns > ACQUIRE_PARK_WINDOW_NS) return 0;
  return p->stack_id;
}

#define PARK_WAKER_STACKS 0
#define PARK_STACK_HINT(goid, reason, now) pending_stack(goid, reason, now)
#include "park_tracking.bpf.h"

/* The release ring of a semaphore, made (empty, since now) when absent. */
static __always_inline struct gt_release_ring *ring_for(__u64 addr, __u64 now) {
  struct gt_release_ring *ring = bpf_map_lookup_elem(&releases, &addr);
  if (ring) return ring;
  static const struct gt_release_ring empty;
  if (bpf_map_update_elem(&releases, &addr, &empty, BPF_NOEXIST) == 0) {
    ring = bpf_map_lookup_elem(&releases, &addr);
    if (ring) ring->since_ns = now;
    return ring;
  }
  return bpf_map_lookup_elem(&releases, &addr); /* another CPU made it first */
}

SEC("uprobe")
int acquire_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u64 g = go_g(ctx);
  if (will_call_morestack(ctx, g, GT_COOKIE_CHECK(cookie))) return 0;
  struct stack_bounds b = {};
  __u64 goid = bounds_for(g, &b);
  if (!goid) return 0;
  struct gt_lock_pending p = {};
  p.t_start_ns = bpf_ktime_get_ns();
  p.addr = go_arg1(ctx);
  p.kind = GT_COOKIE_KIND(cookie);
  p.stack_id = capture_entry_stack(ctx, &b, GT_MAX_STACK_DEPTH);
  if (bpf_map_update_elem(&pending, &goid, &p, BPF_NOEXIST) != 0) {
    /* Its previous acquire got the semaphore without a hand-over: replace it. */
    if (bpf_map_update_elem(&pending, &goid, &p, BPF_ANY) != 0) {
      count(GT_CNT_DROP_PENDING_FULL);
      return 0;
    }
    count(GT_CNT_PENDING_REPLACED);
  }
  /* The ring must exist from the wait's start on: one made later cannot
   * know who held the lock at its start (see blame_wait). */
  ring_for(p.addr, p.t_start_ns);
  count(GT_CNT_PENDING_ADDED);
  count(GT_CNT_LOCK_WAITS);
  return 0;
}

SEC("uprobe")
int release_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u64 g = go_g(ctx);
  if (will_call_morestack(ctx, g, GT_COOKIE_CHECK(cookie))) return 0;
  struct stack_bounds b = {};
  __u64 goid = bounds_for(g, &b);
  if (!goid) return 0;
  __u64 now = bpf_ktime_get_ns();
  struct gt_release r = {.addr = go_arg1(ctx)};
  r.stack_id = capture_entry_stack(ctx, &b, GT_MAX_STACK_DEPTH);
  bpf_map_update_elem(&releasing, &goid, &r, BPF_ANY);
  /* It held the lock until now. (Two releases of one semaphore at once, as
   * a WaitGroup's can be, each take their own slot.) */
  struct gt_release_ring *ring = ring_for(r.addr, now);
  if (ring) {
    __u64 i = __sync_fetch_and_add(&ring->total, 1);
    struct gt_release_rec *rec = &ring->rec[i & (GT_RELEASES - 1)];
    rec->t_ns = now;
    rec->goid = goid;
    rec->stack_id = r.stack_id;
  }
  return 0;
}

/* Splitting one wait [t0, now] among the holders during it. */
struct blame_scan {
  struct gt_release_ring *ring;
  __u64 t0, now;
  __u64 prev;      /* end of the last hold blamed */
  __u32 start;     /* slot of the oldest record kept */
  __u32 blamed;    /* bit i: the i-th oldest record was blamed on its own stack */
  bool covered;    /* who held the lock at t0 is known */
  bool ender_seen; /* the releaser that ended the wait was blamed already */
  struct gt_blame_key key;
};

/* Adds ns held by (stack, goid) to the entry's blame. first: the first
 * time this stack is blamed in this wait (count the wait once). */
static __always_inline void blame_add(struct blame_scan *s, __u64 stack, __u64 goid, __u64 ns, bool first) {
  s->key.holder_stack = stack;
  static const struct gt_blame_val zero_blame;
  struct gt_blame_val *v = detail_lookup_or_init(&blame_agg, &s->key, &zero_blame);
  if (!v) return;
  __sync_fetch_and_add(&v->total_ns, ns);
  if (first) __sync_fetch_and_add(&v->waits, 1);
  if (ns > v->max_hold_ns) { /* racy, like lock_agg's max */
    v->max_hold_ns = ns;
    v->max_goid = goid;
  }
}

/* Record i (oldest first): a release in (t0, now] ends the hold
 * [prev, release] of its goroutine. */
static long blame_step(__u32 i, void *data) {
  struct blame_scan *s = data;
  if (i >= GT_RELEASES) return 1;
  struct gt_release_rec r = s->ring->rec[(s->start + i) & (GT_RELEASES - 1)];
  if (r.t_ns <= s->t0 || r.t_ns > s->now) return 0;
  __u64 ns = r.t_ns > s->prev ? r.t_ns - s->prev : 0;
  bool first_hold = s->prev == s->t0;
  if (r.t_ns > s->prev) s->prev = r.t_ns;
  if (!ns) return 0;
  if (first_hold && !s->covered) {
    /* Releases since t0 were overwritten (or the ring was evicted): who
     * held the lock before this one is not known. */
    blame_add(s, GT_BLAME_NOT_KEPT, 0, ns, true);
    count(GT_CNT_BLAME_TRUNCATED);
    return 0;
  }
  bool first = true;
  for (int k = 0; k < GT_RELEASES; k++) {
    if ((__u32)k >= i) break;
    if (!(s->blamed & (1U << k))) continue;
    if (s->ring->rec[(s->start + k) & (GT_RELEASES - 1)].stack_id == r.stack_id) first = false;
  }
  s->blamed |= 1U << i;
  if (r.stack_id == s->key.releaser_stack) s->ender_seen = true;
  blame_add(s, r.stack_id, r.goid, ns, first);
  return 0;
}

/* Splits the wait [t0, now] that rgoid's release ended among the holders
 * of its semaphore meanwhile (see gt_release_ring); the rest, from the last
 * release kept to now, is the ender's. */
static __always_inline void blame_wait(const struct gt_lock_key *key, __u64 t0, __u64 now, __u64 rgoid) {
  struct blame_scan s = {.t0 = t0, .now = now, .prev = t0};
  s.key.waiter_stack = key->waiter_stack;
  s.key.releaser_stack = key->releaser_stack;
  s.key.addr = key->addr;
  s.key.kind = key->kind;
  s.ring = bpf_map_lookup_elem(&releases, &key->addr);
  if (!s.ring) {
    blame_add(&s, GT_BLAME_NOT_KEPT, 0, now - t0, true);
    count(GT_CNT_BLAME_TRUNCATED);
    return;
  }
  __u64 total = s.ring->total;
  s.start = total >= GT_RELEASES ? (__u32)(total & (GT_RELEASES - 1)) : 0;
  s.covered = s.ring->since_ns <= t0 &&
              (total <= GT_RELEASES || s.ring->rec[total & (GT_RELEASES - 1)].t_ns <= t0);
  bpf_loop(GT_RELEASES, blame_step, &s, 0);
  if (now > s.prev) blame_add(&s, key->releaser_stack, rgoid, now - s.prev, !s.ender_seen);
}

struct chain_scan {
  struct gt_park_history *h;
  __u64 from, to;
  __u64 held_since; /* when the releaser got the lock through a hand-over, else 0 */
  struct gt_chain_key key;
  __u64 releaser_goid;
  __u32 overlapping;
  __u32 nchain;
  struct gt_park_span chain[GT_CHAIN_IN_EVENT]; /* the first few, for the event */
};

static long chain_step(__u32 i, void *data) {
  struct chain_scan *c = data;
  if (i >= GT_HISTORY) return 1;
  struct gt_park_span s = c->h->span[i];
  if (!s.t1_ns || s.t1_ns <= c->from || s.t0_ns >= c->to) return 0;
  /* A park that began before the releaser got the lock is its own wait for it. */
  if (c->held_since && s.t0_ns < c->held_since) return 0;
  __u64 lo = s.t0_ns > c->from ? s.t0_ns : c->from;
  __u64 hi = s.t1_ns < c->to ? s.t1_ns : c->to;
  c->overlapping++;
  c->key.chain_stack = s.stack_id;
  c->key.reason = s.reason;
  static const struct gt_chain_val zero_chain;
  struct gt_chain_val *v = detail_lookup_or_init(&chain_agg, &c->key, &zero_chain);
  /* count is waits, not parks: a (stack, reason) that an earlier span of
   * this scan already had is not counted again. */
  bool seen = false;
  for (int k = 0; k < GT_HISTORY; k++) {
    if ((__u32)k >= i) break;
    struct gt_park_span *o = &c->h->span[k];
    if (o->stack_id == s.stack_id && o->reason == s.reason && o->t1_ns > c->from && o->t0_ns < c->to &&
        !(c->held_since && o->t0_ns < c->held_since))
      seen = true;
  }
  if (v) {
    if (!seen) __sync_fetch_and_add(&v->count, 1);
    __sync_fetch_and_add(&v->overlap_ns, hi - lo);
    v->example_goid = c->releaser_goid;
  }
  __u32 n = c->nchain;
  if (n < GT_CHAIN_IN_EVENT) {
    c->chain[n] = s;
    c->nchain = n + 1;
  }
  return 0;
}

/* A wait of goroutine goid ended now, handed over by rgoid: aggregate it,
 * look for what the releaser was blocked on meanwhile, send it if long. */
static __always_inline void finish_wait(const struct gt_lock_pending *pw, __u64 goid, __u64 rgoid,
                                        __u64 releaser_stack, __u64 now, __u64 held_since, bool chains,
                                        bool blame) {
  struct gt_lock_pending p = *pw;
  __u64 dt = now > p.t_start_ns ? now - p.t_start_ns : 0;
  if (dt < min_wait_ns) {
    count(GT_CNT_UNDER_MIN);
    return;
  }
  struct gt_lock_key key = {.waiter_stack = p.stack_id, .releaser_stack = releaser_stack, .addr = p.addr,
                            .kind = p.kind};
  static const struct gt_lock_val zero_lock;
  struct gt_lock_val *v = agg_lookup_or_init(&lock_agg, &key, &zero_lock);
  if (v) {
    __sync_fetch_and_add(&v->count, 1);
    __sync_fetch_and_add(&v->total_ns, dt);
    __sync_fetch_and_add(&v->hist[log2_bucket(dt)], 1);
    if (!v->min_ns || dt < v->min_ns) v->min_ns = dt; /* racy like the max: it only bounds percentiles */
    if (dt > v->max_ns) { /* racy max: good enough */
      v->max_ns = dt;
      v->max_goid = goid;
      v->max_releaser_goid = rgoid;
    }
  }
  if (blame) blame_wait(&key, p.t_start_ns, now, rgoid);

  struct chain_scan c = {.to = now, .releaser_goid = rgoid};
  c.h = chains ? bpf_map_lookup_elem(&history, &rgoid) : 0;
  if (c.h) {
    c.from = held_since > p.t_start_ns ? held_since : p.t_start_ns;
    c.held_since = held_since;
    c.key.waiter_stack = p.stack_id;
    c.key.releaser_stack = releaser_stack;
    c.key.kind = p.kind;
    bpf_loop(GT_HISTORY, chain_step, &c, 0);
    if (c.overlapping >= GT_HISTORY) count(GT_CNT_CHAIN_TRUNCATED);
  }

  if (dt < min_event_ns) return;
  struct gt_lock_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count(GT_CNT_DROP_RINGBUF);
    return;
  }
  e->goid = goid;
  e->releaser_goid = rgoid;
  e->addr = p.addr;
  e->t_start_ns = p.t_start_ns;
  e->t_end_ns = now;
  e->t_held_ns = held_since;
  e->waiter_stack = p.stack_id;
  e->releaser_stack = releaser_stack;
  e->kind = p.kind;
  e->nchain = c.nchain;
  for (int i = 0; i < GT_CHAIN_IN_EVENT; i++) e->chain[i] = c.chain[i];
  ringbuf_submit_lazy(&events, e);
  count(GT_CNT_EVENTS);
}

SEC("uprobe")
int handoff_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 g = go_g(ctx);
  if (will_call_morestack(ctx, g, handoff_check)) return 0;
  __u64 woken = read_u64(go_arg1(ctx)); /* sudog.g, offset 0 in every release */
  __u64 goid = goid_of(woken);
  struct gt_lock_pending *pp = goid ? bpf_map_lookup_elem(&pending, &goid) : 0;
  if (!pp) {
    count(GT_CNT_HANDOFF_UNMATCHED);
    return 0;
  }
  struct gt_lock_pending p = *pp;
  __u64 rgoid = goid_of(user_g(g));
  struct gt_release *rp = rgoid ? bpf_map_lookup_elem(&releasing, &rgoid) : 0;
  if (!rp || rp->addr != p.addr) {
    /* Woken from a semaphore we did not see it enter (the runtime's own):
     * the pending acquire ended without a wait. */
    if (bpf_map_delete_elem(&pending, &goid) == 0) count(GT_CNT_PENDING_REMOVED);
    count(GT_CNT_HANDOFF_UNMATCHED);
    return 0;
  }
  __u64 releaser_stack = rp->stack_id;
  if (bpf_map_delete_elem(&pending, &goid) == 0) count(GT_CNT_PENDING_REMOVED);
  __u64 now = bpf_ktime_get_ns();
  count(GT_CNT_HANDOFFS);

  /* The waiter holds it from now; the releaser held it since it got it
   * through this path (unknown if its own acquire was uncontended). */
  struct gt_held_key hk = {.goid = goid, .addr = p.addr};
  bpf_map_update_elem(&held, &hk, &now, BPF_ANY);
  struct gt_held_key rk = {.goid = rgoid, .addr = p.addr};
  __u64 *t_held = bpf_map_lookup_elem(&held, &rk);
  __u64 held_since = t_held ? *t_held : 0;
  if (t_held) bpf_map_delete_elem(&held, &rk); /* it let go */

  finish_wait(&p, goid, rgoid, releaser_stack, now, held_since, true, true);
  return 0;
}

/* The Ms asleep on a futex word, oldest first: push (once) and pop. */
static __always_inline void push_sleeper(__u64 futex, __u64 m) {
  struct gt_rt_sleepers *q = bpf_map_lookup_elem(&rt_sleeper, &futex);
  if (!q) {
    struct gt_rt_sleepers one = {.n = 1};
    one.m[0] = m;
    bpf_map_update_elem(&rt_sleeper, &futex, &one, BPF_ANY);
    return;
  }
  for (int i = 0; i < GT_RT_SLEEPERS; i++)
    if (i < q->n && q->m[i] == m) return; /* asleep again after a spurious wake */
  __u32 n = q->n;
  if (n >= GT_RT_SLEEPERS) { /* full: the oldest is forgotten */
    for (int i = 0; i + 1 < GT_RT_SLEEPERS; i++) q->m[i] = q->m[i + 1];
    n = GT_RT_SLEEPERS - 1;
  }
  q->m[n & (GT_RT_SLEEPERS - 1)] = m;
  q->n = n + 1;
}

static __always_inline __u64 pop_sleeper(__u64 futex) {
  struct gt_rt_sleepers *q = bpf_map_lookup_elem(&rt_sleeper, &futex);
  if (!q || !q->n) return 0;
  __u64 m = q->m[0];
  for (int i = 0; i + 1 < GT_RT_SLEEPERS; i++) q->m[i] = q->m[i + 1];
  q->m[GT_RT_SLEEPERS - 1] = 0;
  q->n -= 1;
  return m;
}

/* Runtime-internal locks. rt_lock_sleep: futexsleep(addr, 2, -1) from lock2
 * (up to 1.23), or semasleep(-1) (1.24+, the spinbit mutex). */
SEC("uprobe")
int rt_lock_sleep(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 g = go_g(ctx);
  if (will_call_morestack(ctx, g, GT_COOKIE_CHECK(bpf_get_attach_cookie(ctx)))) return 0;
  __u64 futex = 0;
  if (rt_spinbit) {
    if ((__s64)go_arg1(ctx) != -1) return 0;
  } else {
    if ((go_arg2(ctx) & 0xffffffff) != 2 || (__s64)go_arg3(ctx) != -1) return 0; /* mutex_sleeping, no timeout */
    futex = go_arg1(ctx);
  }
  __u64 m = read_u64(g + off.g_m);
  if (!m) return 0;
  struct stack_bounds b = {};
  struct gt_rt_wait w = {.t_start_ns = bpf_ktime_get_ns(), .futex = futex, .lock = futex};
  w.goid = bounds_for(g, &b);
  w.stack_id = capture_entry_stack(ctx, &b, GT_MAX_STACK_DEPTH);
  bpf_map_update_elem(&rt_pending, &m, &w, BPF_ANY);
  if (futex) push_sleeper(futex, m);
  count(GT_CNT_LOCK_WAITS);
  return 0;
}

/* 1.24+: the futex an M sleeping in semasleep waits on (its m.waitsema). */
SEC("uprobe")
int rt_futex_sleep(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 g = go_g(ctx);
  if (will_call_morestack(ctx, g, GT_COOKIE_CHECK(bpf_get_attach_cookie(ctx)))) return 0;
  __u64 m = read_u64(g + off.g_m);
  struct gt_rt_wait *w = m ? bpf_map_lookup_elem(&rt_pending, &m) : 0;
  if (!w || w->futex || bpf_ktime_get_ns() - w->t_start_ns > ACQUIRE_PARK_WINDOW_NS) return 0;
  if ((__s32)(go_arg2(ctx) & 0xffffffff) >= 0) return 0; /* semasleep passes its negative count; notes pass 0 */
  __u64 futex = go_arg1(ctx);
  w->futex = futex;
  push_sleeper(futex, m);
  return 0;
}

/* futexwakeup(addr, cnt): the unlock that wakes the M asleep on addr. */
SEC("uprobe")
int rt_futex_wake(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 g = go_g(ctx);
  if (will_call_morestack(ctx, g, GT_COOKIE_CHECK(bpf_get_attach_cookie(ctx)))) return 0;
  __u64 futex = go_arg1(ctx);
  __u64 m = pop_sleeper(futex);
  if (!m) return 0;
  struct gt_rt_wait *wp = bpf_map_lookup_elem(&rt_pending, &m);
  if (!wp || wp->futex != futex) return 0;
  if (m == read_u64(g + off.g_m)) {
    /* Its own record: it slept, found the lock free, took it, and is now
     * unlocking it. No one was waiting on it here. */
    bpf_map_delete_elem(&rt_pending, &m);
    return 0;
  }
  struct gt_rt_wait w = *wp;
  bpf_map_delete_elem(&rt_pending, &m);
  __u64 now = bpf_ktime_get_ns();
  count(GT_CNT_HANDOFFS);
  struct stack_bounds b = {};
  __u64 releaser_goid = bounds_for(g, &b);
  __u64 releaser_stack = capture_entry_stack(ctx, &b, GT_MAX_STACK_DEPTH);
  struct gt_lock_pending p = {.t_start_ns = w.t_start_ns, .addr = w.lock, .stack_id = w.stack_id,
                              .kind = GT_LOCK_RUNTIME};
  /* Runtime locks: who held one in between is not followed (no blame). */
  finish_wait(&p, w.goid, releaser_goid, releaser_stack, now, 0, false, false);
  return 0;
}
