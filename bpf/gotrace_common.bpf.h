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

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct gt_stack);
} stack_scratch SEC(".maps");

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

/* The aggregate for key, created zeroed when absent; NULL (and counted as a
 * drop) when the map is full. */
static __always_inline void *agg_lookup_or_init(void *map, const void *key, const void *zero) {
  void *v = bpf_map_lookup_elem(map, key);
  if (v) return v;
  bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
  v = bpf_map_lookup_elem(map, key);
  if (!v) count(GT_CNT_DROP_AGG_FULL);
  return v;
}

/* Set by user space when the trace ends: detaching probes one by one takes
 * a while, and what happens meanwhile must not be counted. */
volatile __u32 tracing_stopped = 0;

static __always_inline bool in_target(void) {
  if (tracing_stopped) return false;
  return target_tgid == 0 || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
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

/* The user goroutine on whose behalf code runs: g itself, or m.curg when g
 * is the M's g0 (system stack). 0 when g0 runs with no user goroutine. */
static __always_inline __u64 user_g(__u64 g) {
  if (!g) return 0;
  __u64 m = read_u64(g + off.g_m);
  if (!m) return g;
  __u64 g0 = read_u64(m + off.m_g0);
  if (g0 != g) return g;
  return read_u64(m + off.m_curg);
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

static __always_inline bool in_bounds(__u64 fp, __u64 lo, __u64 hi) { return fp >= lo && fp + 16 <= hi; }

struct gt_unwind {
  struct gt_stack *st;
  struct stack_bounds *b;
  __u64 fp;
  __u64 hash;
  __u32 n;
  __u32 switched;
};

/* One frame-pointer step (a bpf_loop callback, so the verifier checks it
 * once): return address at [fp+8], caller's fp at [fp]. 1 stops the walk. */
static long unwind_step(__u32 i, void *data) {
  struct gt_unwind *u = data;
  __u64 fp = u->fp;
  if (!fp || (fp & 7)) return 1;
  bool on_first = !u->switched && in_bounds(fp, u->b->lo1, u->b->hi1);
  bool on_second = u->b->hi2 && in_bounds(fp, u->b->lo2, u->b->hi2);
  if (!on_first && !on_second) return 1;
  if (!on_first) u->switched = 1;
  __u64 frame[2] = {};
  if (bpf_probe_read_user(frame, sizeof(frame), (void *)fp) != 0 || !frame[1]) return 1;
  __u32 n = u->n;
  if (n >= GT_MAX_STACK_DEPTH) {
    count(GT_CNT_STACK_TRUNCATED);
    return 1;
  }
  u->st->pcs[n] = frame[1];
  u->hash = (u->hash ^ frame[1]) * 0x100000001b3ULL;
  u->n = n + 1;
  /* On one stack, callers' frames are at higher addresses; the one allowed
   * exception is the jump from g0 to the user goroutine's stack. */
  if (frame[0] <= fp && !(u->b->hi2 && !u->switched && in_bounds(frame[0], u->b->lo2, u->b->hi2))) return 1;
  u->fp = frame[0];
  return 0;
}

/* Interns the stack walked so far in *u; returns its id (0 = unknown).
 * The PCs in the scratch must still be the ones this walk hashed: uprobe
 * programs run preemptible, and another task's program on this CPU can
 * overwrite the per-CPU scratch meanwhile. Interned under our id, such a
 * stack would misname every later event with that id. */
static __always_inline __u64 intern_walk(struct gt_unwind *u) {
  u->st->len = u->n;
  __u64 id = u->hash | 1;
  if (bpf_map_lookup_elem(&stacks, &id)) return id;
  __u64 h = 0xcbf29ce484222325ULL;
  for (int i = 0; i < GT_MAX_STACK_DEPTH; i++) {
    if ((__u32)i >= u->n) break;
    h = (h ^ u->st->pcs[i]) * 0x100000001b3ULL;
  }
  if (h != u->hash) {
    count(GT_CNT_STACK_CLOBBERED);
    return GT_NO_STACK;
  }
  long err = bpf_map_update_elem(&stacks, &id, u->st, BPF_NOEXIST);
  if (err && err != -GT_EEXIST) {
    count(GT_CNT_DROP_STACKS_FULL);
    return GT_NO_STACK;
  }
  return id;
}

static __always_inline struct gt_stack *walk_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&stack_scratch, &zero);
}

static __always_inline void walk_push(struct gt_unwind *u, __u64 pc) {
  __u32 n = u->n;
  if (n < GT_MAX_STACK_DEPTH) {
    u->st->pcs[n] = pc;
    u->hash = (u->hash ^ pc) * 0x100000001b3ULL;
    u->n = n + 1;
  }
}

/* The stack of a goroutine that is not running on this thread right now,
 * from its saved context (g.sched.pc / g.sched.bp): how Go's own tracer gets
 * a waker's stack while it runs ready() on the system stack. */
static __always_inline __u64 capture_saved_stack(__u64 g) {
  struct gt_stack *st = walk_scratch();
  if (!st || !g) return GT_NO_STACK;
  struct stack_bounds b = {.lo1 = read_u64(g + off.g_stack_lo), .hi1 = read_u64(g + off.g_stack_hi)};
  struct gt_unwind u = {.st = st, .b = &b, .hash = 0xcbf29ce484222325ULL};
  __u64 pc = read_u64(g + off.g_sched_pc);
  if (!pc) return GT_NO_STACK;
  walk_push(&u, pc);
  u.fp = read_u64(g + off.g_sched_bp);
  bpf_loop(GT_MAX_WAKER_DEPTH, unwind_step, &u, 0);
  return intern_walk(&u);
}

/* The stack at a function-entry probe (before the prologue ran): the PC, the
 * return address at [SP], then the frame-pointer chain, at most max_frames
 * deep. Frames must lie on the current stack, or — once, when running on
 * g0 — on the user goroutine's stack that systemstack switched from.
 * (bpf_get_stackid's kernel unwinder would miss [SP], and measured slower
 * here than this walk.) Returns the interned stack id (0 = unknown). */
static __always_inline __u64 capture_entry_stack(struct pt_regs *ctx, struct stack_bounds *b, __u32 max_frames) {
  struct gt_stack *st = walk_scratch();
  if (!st) return GT_NO_STACK;
  struct gt_unwind u = {.st = st, .b = b, .hash = 0xcbf29ce484222325ULL};
  walk_push(&u, PT_REGS_IP(ctx));
  __u64 ret = read_u64(PT_REGS_SP(ctx));
  if (ret) walk_push(&u, ret);
  u.fp = PT_REGS_FP(ctx);
  bpf_loop(max_frames, unwind_step, &u, 0);
  return intern_walk(&u);
}

/* Bounds for unwinding from a probe whose g register holds g. */
static __always_inline void bounds_for(__u64 g, struct stack_bounds *b) {
  b->lo1 = read_u64(g + off.g_stack_lo);
  b->hi1 = read_u64(g + off.g_stack_hi);
  b->lo2 = b->hi2 = 0;
  __u64 ug = user_g(g);
  if (ug && ug != g) {
    b->lo2 = read_u64(ug + off.g_stack_lo);
    b->hi2 = read_u64(ug + off.g_stack_hi);
  }
}

#endif
