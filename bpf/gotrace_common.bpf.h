/* Helpers shared by gotrace's BPF programs: reading Go runtime structs,
 * unwinding Go stacks by frame pointer, interning stacks, counters and
 * log2 histograms. Every read of target memory goes through
 * bpf_probe_read_user and is checked; nothing is ever written to the target. */
#ifndef GOTRACE_COMMON_BPF_H
#define GOTRACE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "gotrace/bpf/common_types.h"
#include "go_abi.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct gt_offsets off = {};
const volatile __u32 target_tgid = 0;
/* target_tgid is a PID of gotrace's own PID namespace (where the user gave
 * it); when that is not the initial namespace (gotrace in a container or a
 * debug sidecar), these name it (st_dev and st_ino of /proc/self/ns/pid),
 * and the current task's PID is read as seen from there. */
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;
const volatile __u64 min_wait_ns = 0; /* --min: shorter waits are counted, not aggregated */

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, GT_CNT_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

/* Stacks we walk ourselves (wakers, from a goroutine's saved context):
 * id (a hash of the PCs) -> PCs. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, __u64);
  __type(value, struct gt_stack);
} stacks SEC(".maps");

#define GT_EEXIST 17 /* errno: another CPU interned the same stack first */

/* Bit `bit` of a 256-bit mask kept as four u64 in rodata (wait reasons). */
static __always_inline bool bit_in_mask(const volatile __u64 *mask, __u32 bit) {
  return (mask[(bit >> 6) & 3] >> (bit & 63)) & 1;
}

static __always_inline void count(__u32 c) { /* a gt_counter, gt_park_counter or the command's own */
  __u32 k = c;
  __u64 *v = bpf_map_lookup_elem(&counters, &k);
  if (v) *v += 1;
}

/* The aggregate for key, created zeroed when absent; NULL (and counted in
 * full_counter) when the map is full. */
static __always_inline void *agg_lookup_or_init_counted(void *map, const void *key, const void *zero,
                                                        __u32 full_counter) {
  void *v = bpf_map_lookup_elem(map, key);
  if (v) return v;
  bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
  v = bpf_map_lookup_elem(map, key);
  if (!v) count(full_counter);
  return v;
}

/* An event's own aggregate: when full, the event is lost (a drop). */
static __always_inline void *agg_lookup_or_init(void *map, const void *key, const void *zero) {
  return agg_lookup_or_init_counted(map, key, zero, GT_CNT_DROP_AGG_FULL);
}

/* A detail of an event already counted in its own aggregate (its waker, a
 * chain link, a holder's blame): when full, only the detail is lost. */
static __always_inline void *detail_lookup_or_init(void *map, const void *key, const void *zero) {
  return agg_lookup_or_init_counted(map, key, zero, GT_CNT_DETAIL_AGG_FULL);
}

/* Submits a reserved ring buffer record without waking the reader, unless
 * the buffer is over a quarter full. The reader drains the buffer every
 * 100 ms anyway (and at the end), while a wakeup costs the probed thread an
 * interrupt to itself: ~10 us per record on a KVM guest, measured on a real
 * server whose long waits each sent one (ready_entry 12 us -> 2.5 us). */
static __always_inline void ringbuf_submit_lazy(void *rb, void *record) {
  __u64 queued = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
  __u64 size = bpf_ringbuf_query(rb, BPF_RB_RING_SIZE);
  bpf_ringbuf_submit(record, queued > size / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* Set by user space when the trace ends: detaching probes one by one takes
 * a while, and what happens meanwhile must not be counted. */
volatile __u32 tracing_stopped = 0;

static __always_inline bool in_target(void) {
  if (tracing_stopped) return false;
  if (target_tgid == 0) return true;
  __u32 tgid;
  if (pidns_ino) {
    struct bpf_pidns_info ns = {};
    if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) != 0) {
      count(GT_CNT_OTHER_PROCESS); /* a task outside gotrace's namespace */
      return false;
    }
    tgid = ns.tgid;
  } else {
    tgid = bpf_get_current_pid_tgid() >> 32;
  }
  if (tgid == target_tgid) return true;
  count(GT_CNT_OTHER_PROCESS);
  return false;
}

static __always_inline __u64 read_u64(__u64 addr) {
  __u64 v = 0;
  if (addr && bpf_probe_read_user(&v, sizeof(v), (void *)addr) != 0) v = 0;
  return v;
}

static __always_inline __u64 goid_of(__u64 g) { return g ? read_u64(g + off.g_goid) : 0; }

/* At an entry site that is the branch of the stack-bound check: will the
 * branch be taken (morestack, then the function is entered again, and the
 * probe fires a second time)? The probe sits on the conditional jump right
 * after the comparison, so the flags answer exactly: JBE jumps when CF or ZF
 * is set. Re-reading stackguard0 instead would race with the preemption
 * requests the runtime writes there (a wait would be lost now and then).
 * Only for frames over StackBig is the site the JB of the underflow check,
 * with the JBE still to come: then the guard is compared as the JBE will. */
#define GT_X86_CF 0x1
#define GT_X86_ZF 0x40
static __always_inline bool will_call_morestack(struct pt_regs *ctx, __u64 g, __u64 check) {
  if (!check) return false;
  if (ctx->flags & (GT_X86_CF | GT_X86_ZF)) return true;
  if (!(check & GT_CHECK_UNDERFLOW) || !g) return false;
  __u64 adjust = (check & (GT_CHECK_UNDERFLOW - 1)) - 1;
  __u64 guard = read_u64(g + off.g_stackguard0);
  return PT_REGS_SP(ctx) - adjust <= guard;
}

static __always_inline __u32 log2_bucket(__u64 v) {
  __u32 r = 0, shift;
  shift = (v > 0xFFFFFFFF) << 5; v >>= shift; r |= shift;
  shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
  shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
  shift = (v > 0xF) << 2; v >>= shift; r |= shift;
  shift = (v > 0x3) << 1; v >>= shift; r |= shift;
  r |= (v >> 1);
  return r < GT_HIST_BUCKETS ? r : GT_HIST_BUCKETS - 1;
}

struct stack_bounds {
  __u64 lo1, hi1; /* the stack the probe runs on */
  __u64 lo2, hi2; /* the user goroutine's stack when running on g0 (else 0) */
};

/* What reading target memory costs decides the shape of everything below.
 * Each bpf_probe_read_user costs ~70 ns on a KVM guest (about a tenth of the
 * uprobe trap itself), nearly regardless of its size up to a few hundred
 * bytes. So the struct fields a probe needs are read in one go (a g's or an
 * m's first GT_HEAD_BYTES), and a stack is copied from its top in one chunk
 * (GT_STACK_CHUNK bytes) whose frame links are then followed in place; only
 * frames beyond the chunk cost a read each. */
#define GT_HEAD_WORDS 25
#define GT_HEAD_BYTES (GT_HEAD_WORDS * 8) /* covers g up to goid, m up to curg (Go 1.17-1.26) */

struct gt_head {
  __u64 w[GT_HEAD_WORDS];
};

/* The first GT_HEAD_BYTES of the struct at addr; false when unreadable. */
static __always_inline bool read_head(__u64 addr, struct gt_head *h) {
  return addr && bpf_probe_read_user(h, sizeof(*h), (void *)addr) == 0;
}

/* The u64 field at offset o of the struct whose head is h (read from addr):
 * from the copy when the head holds it, else read on its own. */
static __always_inline __u64 head_u64(const struct gt_head *h, __u64 addr, __u32 o) {
  if (o + 8 <= GT_HEAD_BYTES && !(o & 7)) return h->w[o / 8];
  return read_u64(addr + o);
}

/* A goroutine's fields the probes need, from one read. */
struct g_view {
  __u64 g, goid, m, lo, hi, sched_sp, sched_pc, sched_bp;
};

static __always_inline bool read_g(__u64 g, struct g_view *v) {
  struct gt_head h;
  if (!read_head(g, &h)) return false;
  v->g = g;
  v->goid = head_u64(&h, g, off.g_goid);
  v->m = head_u64(&h, g, off.g_m);
  v->lo = head_u64(&h, g, off.g_stack_lo);
  v->hi = head_u64(&h, g, off.g_stack_hi);
  v->sched_sp = head_u64(&h, g, off.g_sched_sp);
  v->sched_pc = head_u64(&h, g, off.g_sched_pc);
  v->sched_bp = head_u64(&h, g, off.g_sched_bp);
  return true;
}

/* The user goroutine on whose behalf code runs, knowing g's m: g itself, or
 * m.curg when g is the M's g0 (system stack). 0 when g0 runs with no user
 * goroutine. */
static __always_inline __u64 user_g_of(__u64 g, __u64 m) {
  if (!m) return g;
  struct gt_head h;
  if (!read_head(m, &h)) return g;
  if (head_u64(&h, m, off.m_g0) != g) return g;
  return head_u64(&h, m, off.m_curg);
}

/* The same, from g alone. */
static __always_inline __u64 user_g(__u64 g) {
  if (!g) return 0;
  return user_g_of(g, read_u64(g + off.g_m));
}

static __always_inline bool in_bounds(__u64 fp, __u64 lo, __u64 hi) { return fp >= lo && fp + 16 <= hi; }

/* Per-CPU scratch of one unwind, and its state: kept in the map, not on the
 * BPF stack, so that the verifier sees the walk's values as unknown and
 * checks the bpf_loop callback once rather than once per frame count.
 * seq is bumped by every walk on this CPU: uprobe programs run preemptible,
 * and another task's program on this CPU can overwrite the scratch
 * meanwhile; a walk whose seq moved is discarded (interned, such a stack
 * would misname every later event with its id). */
struct gt_walk {
  struct gt_stack st; /* first: interned as is */
  __u64 seq;
  struct stack_bounds b;
  __u64 cbase, clen; /* the chunk copies [cbase, cbase + clen) */
  __u64 fp;
  __u64 hash;
  __u32 n;
  __u32 switched;
  __u8 chunk[GT_STACK_CHUNK];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gt_walk);
} walk_scratch SEC(".maps");

struct gt_unwind {
  struct gt_walk *w;
  __u64 seq; /* w->seq when this walk began */
};

/* The frame record {saved fp, return address} at fp: from the chunk when it
 * holds it, else read. */
static __always_inline bool frame_at(struct gt_walk *w, __u64 fp, __u64 frame[2]) {
  __u64 rel = fp - w->cbase;
  if (fp >= w->cbase && rel + 16 <= w->clen) {
    __u32 o = rel & (GT_STACK_CHUNK - 1);
    if (o > GT_STACK_CHUNK - 16) return false;
    frame[0] = *(__u64 *)&w->chunk[o];
    frame[1] = *(__u64 *)&w->chunk[o + 8];
    return true;
  }
  return bpf_probe_read_user(frame, 16, (void *)fp) == 0;
}

/* Appends pc; false (and counted) when the stack is full. */
static __always_inline bool walk_push(struct gt_walk *w, __u64 pc) {
  __u32 n = w->n;
  if (n >= GT_MAX_STACK_DEPTH) {
    count(GT_CNT_STACK_TRUNCATED);
    return false;
  }
  w->st.pcs[n] = pc;
  w->hash = (w->hash ^ pc) * 0x100000001b3ULL;
  w->n = n + 1;
  return true;
}

/* One frame-pointer step (a bpf_loop callback): return address at [fp+8],
 * caller's fp at [fp]. 1 stops the walk. */
static long unwind_step(__u32 i, void *data) {
  struct gt_walk *w = ((struct gt_unwind *)data)->w;
  __u64 fp = w->fp;
  if (!fp || (fp & 7)) return 1;
  bool on_first = !w->switched && in_bounds(fp, w->b.lo1, w->b.hi1);
  bool on_second = w->b.hi2 && in_bounds(fp, w->b.lo2, w->b.hi2);
  if (!on_first && !on_second) return 1;
  if (!on_first) w->switched = 1;
  __u64 frame[2] = {};
  if (!frame_at(w, fp, frame) || !frame[1]) return 1;
  if (!walk_push(w, frame[1])) return 1;
  /* On one stack, callers' frames are at higher addresses; the one allowed
   * exception is the jump from g0 to the user goroutine's stack. */
  if (frame[0] <= fp && !(w->b.hi2 && !w->switched && in_bounds(frame[0], w->b.lo2, w->b.hi2))) return 1;
  w->fp = frame[0];
  return 0;
}

/* Starts a walk of the stack(s) in b whose top is sp (on b->lo1/hi1): takes
 * the scratch and copies the chunk. false when there is no scratch. */
static __always_inline bool walk_begin(struct gt_unwind *u, const struct stack_bounds *b, __u64 sp) {
  __u32 zero = 0;
  struct gt_walk *w = bpf_map_lookup_elem(&walk_scratch, &zero);
  if (!w) return false;
  u->w = w;
  u->seq = ++w->seq;
  w->b = *b;
  w->n = 0;
  w->switched = 0;
  w->fp = 0;
  w->hash = 0xcbf29ce484222325ULL;
  w->cbase = w->clen = 0;
  if (sp >= b->lo1 && sp < b->hi1) {
    __u64 len = b->hi1 - sp;
    if (len > GT_STACK_CHUNK) len = GT_STACK_CHUNK;
    if (bpf_probe_read_user(w->chunk, len, (void *)sp) == 0) {
      w->cbase = sp;
      w->clen = len;
    }
  }
  return true;
}

/* Interns the stack walked in *u; returns its id (0 = unknown). */
static __always_inline __u64 intern_walk(struct gt_unwind *u) {
  struct gt_walk *w = u->w;
  w->st.len = w->n;
  __u64 id = w->hash | 1;
  if (w->seq != u->seq) {
    count(GT_CNT_STACK_CLOBBERED);
    return GT_NO_STACK;
  }
  if (bpf_map_lookup_elem(&stacks, &id)) return id;
  long err = bpf_map_update_elem(&stacks, &id, &w->st, BPF_NOEXIST);
  if (err && err != -GT_EEXIST) {
    count(GT_CNT_DROP_STACKS_FULL);
    return GT_NO_STACK;
  }
  return id;
}

/* The stack of a goroutine that is not running on this thread right now,
 * from its saved context (g.sched): how Go's own tracer gets a waker's stack
 * while it runs ready() on the system stack. */
static __always_inline __u64 capture_saved_stack(const struct g_view *gv) {
  if (!gv->sched_pc) return GT_NO_STACK;
  struct stack_bounds b = {.lo1 = gv->lo, .hi1 = gv->hi};
  struct gt_unwind u = {};
  if (!walk_begin(&u, &b, gv->sched_sp)) return GT_NO_STACK;
  walk_push(u.w, gv->sched_pc);
  u.w->fp = gv->sched_bp;
  bpf_loop(GT_MAX_WAKER_DEPTH, unwind_step, &u, 0);
  return intern_walk(&u);
}

/* The stack at a function-entry probe (before the prologue ran): the PC, the
 * return address at [SP], then the frame-pointer chain, at most max_frames
 * deep. Frames must lie on the current stack, or — once, when running on
 * g0 — on the user goroutine's stack that systemstack switched from.
 * (bpf_get_stack's kernel unwinder would miss [SP], and measured slower here
 * than this walk: ~1.7 against ~1.1 µs per call for a 6-frame stack before
 * the chunk, which made this walk faster still.) Returns the interned stack
 * id (0 = unknown). */
static __always_inline __u64 capture_entry_stack(struct pt_regs *ctx, struct stack_bounds *b, __u32 max_frames) {
  struct gt_unwind u = {};
  __u64 sp = PT_REGS_SP(ctx);
  if (!walk_begin(&u, b, sp)) return GT_NO_STACK;
  struct gt_walk *w = u.w;
  walk_push(w, PT_REGS_IP(ctx));
  __u64 ret = w->clen >= 8 ? *(__u64 *)&w->chunk[0] : read_u64(sp);
  if (ret) walk_push(w, ret);
  w->fp = PT_REGS_FP(ctx);
  bpf_loop(max_frames, unwind_step, &u, 0);
  return intern_walk(&u);
}

/* Bounds for unwinding from a probe on the stack of gv's goroutine, which
 * may be an M's g0 (then the user goroutine's stack is the second range).
 * Returns the id of the user goroutine on whose behalf the code runs (0:
 * none, g0 on its own). */
static __always_inline __u64 bounds_of(const struct g_view *gv, struct stack_bounds *b) {
  b->lo1 = gv->lo;
  b->hi1 = gv->hi;
  b->lo2 = b->hi2 = 0;
  __u64 ug = user_g_of(gv->g, gv->m);
  if (ug == gv->g) return gv->goid;
  struct g_view uv = {};
  if (!ug || !read_g(ug, &uv)) return 0;
  b->lo2 = uv.lo;
  b->hi2 = uv.hi;
  return uv.goid;
}

/* The same for a probe whose g register holds g. */
static __always_inline __u64 bounds_for(__u64 g, struct stack_bounds *b) {
  struct g_view gv = {};
  b->lo1 = b->hi1 = b->lo2 = b->hi2 = 0;
  return read_g(g, &gv) ? bounds_of(&gv, b) : 0;
}

#endif
