// SPDX-License-Identifier: GPL-2.0
/* gotrace sched: how long goroutines wait to run once runnable, where they
 * resume, what the kernel and the world's stops add.
 *
 *   execute_entry  runtime.execute(gp), on g0, at its emulated JBE: the
 *                  moment a runnable goroutine starts running. The runtime
 *                  itself stamps one goroutine in 8 (g.tracking) with the
 *                  time it became runnable (g.trackingStamp, nanotime: the
 *                  clock bpf_ktime_get_ns reads), for its own
 *                  /sched/latencies metric; casgstatus clears it just after
 *                  this probe. The latency is now - stamp + g.runnableTime.
 *                  Untracked goroutines cost one read of the g and nothing
 *                  else. A timed one is aggregated by the stack it resumes
 *                  at (its saved context, g.sched) and its last wait reason.
 *   stw_entry      stop- and startTheWorldWithSema and the GC's own end of
 *                  a pause: through the ring buffer (rare).
 *   sched_switch / sched_wakeup (tp_btf): for the target's threads, time on a
 *                  CPU, runnable off one, blocked. When the kernel preempts
 *                  a thread, the goroutine it ran (g from the thread's TLS
 *                  slot, else R14, checked against its m) and its stack from
 *                  the saved user registers: the time until the thread runs
 *                  again goes to that stack.
 *   --exact        every runnable moment from the sites that make goroutines
 *                  runnable, and every state change of every goroutine, kept
 *                  per goroutine id (gstates): ready, injectglist (netpoll,
 *                  GC), newproc's runqput, goschedImpl (Gosched and
 *                  preemption), goyield_m, the slow exit from a syscall
 *                  (exitsyscall0, exitsyscallNoP from 1.26); gopark and
 *                  goexit1 leave running. Each interval goes to the budget
 *                  of the goroutine's start function (g.startpc); the
 *                  tracepoints add the kernel's parts (runnable off a CPU,
 *                  asleep in a system call) of the goroutine its thread ran.
 * Everything is aggregated in kernel maps; nothing is written to the target. */
#include "gotrace_common.bpf.h"

#include "commands/sched/sched_types.h"

const volatile __u32 tracking_off = 0;      /* g.tracking */
const volatile __u32 stamp_off = 0;         /* g.trackingStamp (runnableStamp up to 1.19) */
const volatile __u32 runnable_time_off = 0; /* g.runnableTime */
const volatile __u32 waitreason_off = 0;    /* g.waitreason */
const volatile __s64 tls_g_off = -8;        /* g = *(fsbase + tls_g_off) */
const volatile __u32 tls_known = 0;         /* 0: read g from R14 (checked) */
const volatile __u32 exact = 0;             /* --exact */
const volatile __u32 startpc_off = 0;       /* g.startpc */
const volatile __u32 stw_stop_has_reason = 0;
const volatile __u32 stw_start_has_reason = 0;

/* Set by user space: the first moment that counts (0: not yet), and the
 * target's thread group id as the kernel's tasks carry it (learned at the
 * first execute when gotrace runs in another PID namespace). */
volatile __u64 t_begin_ns = 0;
volatile __u32 host_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gt_sched_total);
} total SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct gt_sched_key);
  __type(value, struct gt_sched_val);
} sched_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gt_sched_kernel);
} kernel SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u64);
  __type(value, struct gt_kpreempt_val);
} kpreempt_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct gt_thread_state);
} threads SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 131072);
  __type(key, __u64); /* goid */
  __type(value, struct gt_gstate);
} gstates SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u64); /* startpc */
  __type(value, struct gt_budget);
} budget_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} events SEC(".maps");

static __always_inline bool counting(__u64 now) { return !tracing_stopped && t_begin_ns && now >= t_begin_ns; }

/* The byte at offset o of the struct whose head is h (read from addr). */
static __always_inline __u8 head_u8(const struct gt_head *h, __u64 addr, __u32 o) {
  __u32 i = o >> 3;
  if (i < GT_HEAD_WORDS) return (h->w[i] >> ((o & 7) * 8)) & 0xff;
  __u8 v = 0;
  bpf_probe_read_user(&v, 1, (void *)(addr + o));
  return v;
}

static __always_inline struct gt_budget *budget_of(__u64 startpc) {
  static const struct gt_budget zero_budget;
  return detail_lookup_or_init(&budget_agg, &startpc, &zero_budget);
}

/* Ends st's interval at now, into its start function's budget. */
static __always_inline void close_interval(const struct gt_gstate *st, __u64 now) {
  if (!st->since || now <= st->since) return;
  __u64 d = now - st->since;
  struct gt_budget *b = budget_of(st->startpc);
  if (!b) return;
  if (st->state == GT_G_RUNNING) __sync_fetch_and_add(&b->running_ns, d);
  if (st->state == GT_G_RUNNABLE) __sync_fetch_and_add(&b->runnable_ns, d);
  if (st->state == GT_G_PARKED) __sync_fetch_and_add(&b->parked_ns, d);
}

/* Goroutine gp (its id goid) enters state `to` at now; returns its state
 * before (0: not seen yet) and, in *since, since when. */
static __always_inline __u32 transition(__u64 gp, __u64 goid, __u32 to, __u64 now, __u64 *since) {
  *since = 0;
  if (!goid) return 0;
  struct gt_gstate *st = bpf_map_lookup_elem(&gstates, &goid);
  if (st) {
    __u32 was = st->state;
    *since = st->since;
    close_interval(st, now);
    st->state = to;
    st->since = now;
    return was;
  }
  struct gt_gstate fresh = {.since = now, .startpc = read_u64(gp + startpc_off), .state = to};
  if (bpf_map_update_elem(&gstates, &goid, &fresh, BPF_ANY)) {
    count(GT_CNT_SCHED_GOROUTINES_FULL);
    return 0;
  }
  struct gt_budget *b = budget_of(fresh.startpc);
  if (b) __sync_fetch_and_add(&b->goroutines, 1);
  return 0;
}

/* Records one timed runnable-to-running wait of gp (head h). */
static __always_inline void record_latency(__u64 gp, const struct gt_head *h, __u64 lat) {
  __u32 zero = 0;
  struct gt_sched_total *t = bpf_map_lookup_elem(&total, &zero);
  if (t) {
    t->count++;
    t->total_ns += lat;
    t->hist[log2_bucket(lat)]++;
    if (lat > t->max_ns) t->max_ns = lat;
  }
  if (lat < min_wait_ns) {
    count(GT_CNT_UNDER_MIN);
    return;
  }
  struct g_view gv = {
      .g = gp,
      .goid = head_u64(h, gp, off.g_goid),
      .m = head_u64(h, gp, off.g_m),
      .lo = head_u64(h, gp, off.g_stack_lo),
      .hi = head_u64(h, gp, off.g_stack_hi),
      .sched_sp = head_u64(h, gp, off.g_sched_sp),
      .sched_pc = head_u64(h, gp, off.g_sched_pc),
      .sched_bp = head_u64(h, gp, off.g_sched_bp),
  };
  struct gt_sched_key key = {.stack_id = capture_saved_stack(&gv), .reason = head_u8(h, gp, waitreason_off)};
  static const struct gt_sched_val zero_val;
  struct gt_sched_val *v = agg_lookup_or_init(&sched_agg, &key, &zero_val);
  if (!v) return;
  __sync_fetch_and_add(&v->count, 1);
  __sync_fetch_and_add(&v->total_ns, lat);
  __sync_fetch_and_add(&v->hist[log2_bucket(lat)], 1);
  if (lat > v->max_ns) { /* racy max: it only bounds percentiles */
    v->max_ns = lat;
    v->max_goid = gv.goid;
  }
}

SEC("uprobe")
int execute_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (!host_tgid) host_tgid = bpf_get_current_pid_tgid() >> 32;
  if (!counting(now)) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  if (will_call_morestack(ctx, go_g(ctx), GT_COOKIE_CHECK(cookie))) {
    count(GT_CNT_SCHED_RETRY);
    return 0;
  }
  count(GT_CNT_SCHED_EXECUTES);
  __u64 gp = go_arg1(ctx);
  struct gt_head h;
  if (!read_head(gp, &h)) return 0;
  if (exact) {
    __u64 since = 0;
    __u32 was = transition(gp, head_u64(&h, gp, off.g_goid), GT_G_RUNNING, now, &since);
    if (was == GT_G_RUNNABLE) {
      count(GT_CNT_SCHED_TRACKED);
      record_latency(gp, &h, now - since);
    } else {
      count(GT_CNT_SCHED_EXACT_UNTIMED);
    }
    return 0;
  }
  if (!head_u8(&h, gp, tracking_off)) return 0;
  count(GT_CNT_SCHED_TRACKED);
  __u64 stamp = head_u64(&h, gp, stamp_off);
  if (!stamp) {
    count(GT_CNT_SCHED_NO_STAMP);
    return 0;
  }
  if (stamp > now) {
    count(GT_CNT_SCHED_CLOCK_BACK);
    return 0;
  }
  record_latency(gp, &h, now - stamp + head_u64(&h, gp, runnable_time_off));
  return 0;
}

/* --exact: the sites that change a goroutine's state. Each is an entry
 * site (its stack check's JBE: a hit about to call morestack is ignored,
 * the function comes again) except newproc's CALL runqput. */
static __always_inline bool exact_hit(struct pt_regs *ctx, __u64 g, __u64 *now) {
  if (!exact || !in_target()) return false;
  *now = bpf_ktime_get_ns();
  if (!counting(*now)) return false;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  return !will_call_morestack(ctx, g, GT_COOKIE_CHECK(cookie));
}

/* The registers a program needs, each read once from the context (clang
 * may otherwise compute a field's address from another's, which the
 * verifier refuses for the context). */
#define GT_REG(var, expr) \
  __u64 var = (expr);     \
  asm volatile("" : "+r"(var))

static __always_inline void to_state(__u64 gp, __u32 to, __u64 now) {
  __u64 since;
  transition(gp, goid_of(gp), to, now, &since);
}

/* ready(gp), goschedImpl(gp, …), goyield_m(gp), exitsyscall0(gp) /
 * exitsyscallNoP(gp): gp (AX) becomes runnable. */
SEC("uprobe")
int runnable_exact(struct pt_regs *ctx) {
  GT_REG(g, go_g(ctx));
  GT_REG(gp, go_arg1(ctx));
  __u64 now;
  if (!exact_hit(ctx, g, &now)) return 0;
  to_state(gp, GT_G_RUNNABLE, now);
  return 0;
}

/* newproc.func1's CALL runqput(pp, newg, true): the new goroutine (BX). */
SEC("uprobe")
int newproc_exact(struct pt_regs *ctx) {
  if (!exact || !in_target()) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (!counting(now)) return 0;
  to_state(go_arg2(ctx), GT_G_RUNNABLE, now);
  return 0;
}

/* injectglist(glist *gList): goroutines linked through g.schedlink. */
SEC("uprobe")
int inject_exact(struct pt_regs *ctx) {
  GT_REG(g, go_g(ctx));
  GT_REG(list, go_arg1(ctx));
  __u64 now;
  if (!exact_hit(ctx, g, &now)) return 0;
  __u64 gp = read_u64(list);
  for (int i = 0; i < 64; i++) {
    if (!gp) return 0;
    to_state(gp, GT_G_RUNNABLE, now);
    gp = read_u64(gp + off.g_schedlink);
  }
  return 0;
}

/* gopark: the running goroutine (R14) parks. */
SEC("uprobe")
int gopark_exact(struct pt_regs *ctx) {
  GT_REG(g, go_g(ctx));
  __u64 now;
  if (!exact_hit(ctx, g, &now)) return 0;
  to_state(g, GT_G_PARKED, now);
  return 0;
}

/* goexit1: the running goroutine (R14) ends: its last interval, and its entry. */
SEC("uprobe")
int goexit_exact(struct pt_regs *ctx) {
  GT_REG(g, go_g(ctx));
  __u64 now;
  if (!exact_hit(ctx, g, &now)) return 0;
  __u64 goid = goid_of(g);
  struct gt_gstate *st = bpf_map_lookup_elem(&gstates, &goid);
  if (!st) return 0;
  close_interval(st, now);
  bpf_map_delete_elem(&gstates, &goid);
  return 0;
}

SEC("uprobe")
int stw_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (!counting(now)) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u64 g = go_g(ctx);
  if (GT_COOKIE_CHECK(cookie) && (ctx->flags & (GT_X86_CF | GT_X86_ZF))) return 0; /* morestack, then again */
  __u32 kind = GT_COOKIE_KIND(cookie);
  count(GT_CNT_SCHED_STW_EVENTS);
  struct gt_gc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count(GT_CNT_DROP_RINGBUF);
    return 0;
  }
  e->t_ns = now;
  e->kind = kind;
  e->arg = GT_STW_REASON_UNKNOWN;
  e->arg2 = 0;
  e->goid = goid_of(user_g(g));
  if (kind == GT_GC_STW_STOP && stw_stop_has_reason) e->arg = (__u32)(go_arg1(ctx) & 0xff);
  if (kind == GT_GC_STW_START && stw_start_has_reason) {
    e->arg = (__u32)(go_arg2(ctx) & 0xff);
    e->arg2 = go_arg3(ctx);
  }
  if (kind == GT_GC_PAUSE_END) e->arg2 = go_arg2(ctx);
  ringbuf_submit_lazy(&events, e);
  count(GT_CNT_EVENTS);
  return 0;
}

/* The goroutine a thread of the target is running (from its TLS slot, else
 * R14), checked against its m: a g is the one running on its thread when
 * its m says so. 0 when unknown. *user: the user goroutine (not g0). */
static __always_inline __u64 running_g(struct task_struct *task, struct pt_regs *regs, struct g_view *gv,
                                       bool *user) {
  __u64 g = tls_known ? read_u64(task->thread.fsbase + tls_g_off) : regs->r14;
  *user = false;
  if (!g || !read_g(g, gv) || !gv->m) return 0;
  __u64 g0 = read_u64(gv->m + off.m_g0);
  if (g0 != g && read_u64(gv->m + off.m_curg) != g) return 0;
  *user = g0 != g;
  return g;
}

/* The goroutine a preempted thread of the target was running, and its stack
 * from the thread's saved user registers (0 when unknown); --exact: the
 * start function of that goroutine (or of the one a g0 ran for) in *startpc. */
static __always_inline __u64 preempted_stack(struct task_struct *task, __u64 *startpc) {
  struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
  if (!regs) return GT_NO_STACK;
  __u64 ip = regs->ip, sp = regs->sp, bp = regs->bp;
  struct g_view gv = {};
  bool user;
  __u64 g = running_g(task, regs, &gv, &user);
  if (!g) return GT_NO_STACK;
  if (exact && user) *startpc = read_u64(g + startpc_off);
  struct stack_bounds b = {};
  bounds_of(&gv, &b);
  if (sp < b.lo1 || sp >= b.hi1) return GT_NO_STACK; /* not on its stack: C code, a signal stack */
  struct gt_unwind u = {};
  if (!walk_begin(&u, &b, sp)) return GT_NO_STACK;
  walk_push(u.w, ip);
  u.w->fp = bp;
  bpf_loop(GT_MAX_STACK_DEPTH, unwind_step, &u, 0);
  return intern_walk(&u);
}

static __always_inline struct gt_sched_kernel *kernel_totals(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&kernel, &zero);
}

static __always_inline void switched_out(struct task_struct *prev, unsigned int prev_state, __u64 now) {
  __u32 tid = prev->pid;
  struct gt_thread_state *st = bpf_map_lookup_elem(&threads, &tid);
  if (!st) {
    static const struct gt_thread_state zero_state;
    bpf_map_update_elem(&threads, &tid, &zero_state, BPF_ANY);
    st = bpf_map_lookup_elem(&threads, &tid);
    if (!st) {
      count(GT_CNT_SCHED_THREADS_FULL);
      return;
    }
  }
  count(GT_CNT_SCHED_SWITCHES);
  struct gt_sched_kernel *k = kernel_totals();
  if (k && st->t_on && now > st->t_on) k->running_ns += now - st->t_on;
  st->t_on = 0;
  st->t_off = now;
  st->t_wake = 0;
  st->stack_id = GT_NO_STACK;
  st->startpc = 0;
  st->preempted = prev_state == 0; /* TASK_RUNNING: still runnable */
  if (st->preempted) {
    count(GT_CNT_SCHED_PREEMPTED);
    if (k) k->preemptions++;
    __u64 startpc = 0;
    st->stack_id = preempted_stack(prev, &startpc);
    st->startpc = startpc;
    if (!st->stack_id) count(GT_CNT_SCHED_NO_G);
  } else {
    if (k) k->sleeps++;
    /* --exact: a user goroutine asleep in the kernel is in a system call
     * (the runtime's own sleeps run on g0). */
    if (exact) {
      struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(prev);
      struct g_view gv = {};
      bool user = false;
      __u64 g = regs ? running_g(prev, regs, &gv, &user) : 0;
      if (g && user) st->startpc = read_u64(g + startpc_off);
    }
  }
}

static __always_inline void switched_in(struct task_struct *next, __u64 now) {
  __u32 tid = next->pid;
  struct gt_thread_state *st = bpf_map_lookup_elem(&threads, &tid);
  if (!st) {
    struct gt_thread_state fresh = {.t_on = now};
    if (bpf_map_update_elem(&threads, &tid, &fresh, BPF_ANY)) count(GT_CNT_SCHED_THREADS_FULL);
    return;
  }
  struct gt_sched_kernel *k = kernel_totals();
  if (k && st->t_off && now > st->t_off) {
    __u64 off_for = now - st->t_off;
    if (st->startpc) {
      struct gt_budget *b = budget_of(st->startpc);
      if (b && st->preempted) __sync_fetch_and_add(&b->kernel_runnable_ns, off_for);
      if (b && !st->preempted) __sync_fetch_and_add(&b->syscall_ns, off_for);
    }
    if (st->preempted) {
      k->preempted_ns += off_for;
      if (st->stack_id) {
        __u64 id = st->stack_id;
        static const struct gt_kpreempt_val zero_kp;
        struct gt_kpreempt_val *v = detail_lookup_or_init(&kpreempt_agg, &id, &zero_kp);
        if (v) {
          __sync_fetch_and_add(&v->count, 1);
          __sync_fetch_and_add(&v->total_ns, off_for);
          if (off_for > v->max_ns) v->max_ns = off_for;
        }
      }
    } else if (st->t_wake >= st->t_off && st->t_wake <= now) {
      k->blocked_ns += st->t_wake - st->t_off;
      k->wakeup_ns += now - st->t_wake;
    } else {
      k->blocked_ns += off_for;
    }
  }
  st->t_on = now;
  st->t_off = 0;
  st->t_wake = 0;
  st->stack_id = GT_NO_STACK;
  st->startpc = 0;
  st->preempted = 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_tp, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state) {
  __u64 now = bpf_ktime_get_ns();
  __u32 tgid = host_tgid;
  if (!tgid || !counting(now)) return 0;
  if ((__u32)prev->tgid == tgid) switched_out(prev, prev_state, now);
  if ((__u32)next->tgid == tgid) switched_in(next, now);
  return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_tp, struct task_struct *p) {
  __u64 now = bpf_ktime_get_ns();
  __u32 tgid = host_tgid;
  if (!tgid || !counting(now) || (__u32)p->tgid != tgid) return 0;
  __u32 tid = p->pid;
  struct gt_thread_state *st = bpf_map_lookup_elem(&threads, &tid);
  if (st && st->t_off && !st->preempted && !st->t_wake) st->t_wake = now;
  return 0;
}
