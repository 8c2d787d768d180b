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
 * Everything is aggregated in kernel maps; nothing is written to the target. */
#include "gotrace_common.bpf.h"

#include "commands/sched/sched_types.h"

const volatile __u32 tracking_off = 0;      /* g.tracking */
const volatile __u32 stamp_off = 0;         /* g.trackingStamp (runnableStamp up to 1.19) */
const volatile __u32 runnable_time_off = 0; /* g.runnableTime */
const volatile __u32 waitreason_off = 0;    /* g.waitreason */
const volatile __s64 tls_g_off = -8;        /* g = *(fsbase + tls_g_off) */
const volatile __u32 tls_known = 0;         /* 0: read g from R14 (checked) */
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
  __u64 lat = now - stamp + head_u64(&h, gp, runnable_time_off);

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
    return 0;
  }
  struct g_view gv = {
      .g = gp,
      .goid = head_u64(&h, gp, off.g_goid),
      .m = head_u64(&h, gp, off.g_m),
      .lo = head_u64(&h, gp, off.g_stack_lo),
      .hi = head_u64(&h, gp, off.g_stack_hi),
      .sched_sp = head_u64(&h, gp, off.g_sched_sp),
      .sched_pc = head_u64(&h, gp, off.g_sched_pc),
      .sched_bp = head_u64(&h, gp, off.g_sched_bp),
  };
  struct gt_sched_key key = {.stack_id = capture_saved_stack(&gv), .reason = head_u8(&h, gp, waitreason_off)};
  static const struct gt_sched_val zero_val;
  struct gt_sched_val *v = agg_lookup_or_init(&sched_agg, &key, &zero_val);
  if (!v) return 0;
  __sync_fetch_and_add(&v->count, 1);
  __sync_fetch_and_add(&v->total_ns, lat);
  __sync_fetch_and_add(&v->hist[log2_bucket(lat)], 1);
  if (lat > v->max_ns) { /* racy max: it only bounds percentiles */
    v->max_ns = lat;
    v->max_goid = gv.goid;
  }
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

/* The goroutine a preempted thread of the target was running, and its stack
 * from the thread's saved user registers (0 when unknown). */
static __always_inline __u64 preempted_stack(struct task_struct *task) {
  struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
  if (!regs) return GT_NO_STACK;
  __u64 ip = regs->ip, sp = regs->sp, bp = regs->bp;
  __u64 g = tls_known ? read_u64(task->thread.fsbase + tls_g_off) : regs->r14;
  struct g_view gv = {};
  if (!g || !read_g(g, &gv) || !gv.m) return GT_NO_STACK;
  /* A g is the one running on its thread when its m says so. */
  if (read_u64(gv.m + off.m_g0) != g && read_u64(gv.m + off.m_curg) != g) return GT_NO_STACK;
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
  st->preempted = prev_state == 0; /* TASK_RUNNING: still runnable */
  if (st->preempted) {
    count(GT_CNT_SCHED_PREEMPTED);
    if (k) k->preemptions++;
    st->stack_id = preempted_stack(prev);
    if (!st->stack_id) count(GT_CNT_SCHED_NO_G);
  } else if (k) {
    k->sleeps++;
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
