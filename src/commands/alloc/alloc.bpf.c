// SPDX-License-Identifier: GPL-2.0
/* gotrace alloc: what allocates, how much, of which type; large objects;
 * map growth; GC cycles and stop-the-world pauses.
 *
 *   sample_entry   the sampler chosen by `mode` (the cookie says which):
 *                  runtime.profilealloc(mp, x, size) — the runtime's own
 *                  sampled path, CX = slot size; (*mcache).refill(c, spc) —
 *                  one hit per span handed to an mcache, BL = span class;
 *                  runtime.mallocgc(size, typ, needzero) — every allocation,
 *                  AX = size, BX = type (--exact); in 1.27+ also each
 *                  size-specialized runtime.mallocgc{TinySC2,SmallNoScanSCn,
 *                  SmallScanNoHeaderSCn}(size, typ, needzero), which
 *                  compiled `new(T)` of ≤ 80 bytes calls without mallocgc
 *                  (1.27 cmd/compile/internal/ssagen/ssa.go newObject,
 *                  specializedMallocSym); a hit whose caller is mallocgc
 *                  (its size < 81 dispatch, malloc.go:1079) was counted at
 *                  mallocgc's entry and is skipped.
 *   large_entry    (*mcache).allocLarge(c, size, noscan): every large
 *                  object, BX = size, CL = noscan.
 *   map_grow_entry runtime.hashGrow(t, h) (classic maps, ≤1.23), or the
 *                  swiss map's (*Map).growToSmall(m, typ) / growToTable(m,
 *                  typ) / (*table).rehash(t, typ, m) (1.24+).
 *   map_write_entry every map assignment (--map-writes): runtime.mapassign,
 *                  _fast32, _fast64, _fast64ptr, _faststr (the names stay
 *                  in 1.24+, where internal/runtime/maps linknames them):
 *                  AX = map type, BX = the map, whose first word is its
 *                  entry count (hmap.count / swiss Map.used).
 *   gc_entry       gcStart (AX = trigger kind), startCycle (with the cycle's
 *                  number: memstats.numgc + 1, the N of gctrace's "gc N"),
 *                  stop- and startTheWorldWithSema, and
 *                  (*gcCPULimiterState).finishGCTransition(now), which both
 *                  GC pauses call with the very time the runtime ends them
 *                  (BX; runtime/mgc.go, 1.19–1.27): the sweep-termination
 *                  pause ends after startTheWorldWithSema has restarted the
 *                  Ps, so its entry is early. Events through the ring buffer.
 *
 * The object's type at the samplers and at allocLarge comes from mallocgc's
 * own frame: mallocgc spills its typ argument to its argument slot at
 * BP_m+0x18 before calling anything, in every release 1.19–1.26. Between the
 * probe and mallocgc sit `frame_derefs` frames (the callee has not pushed BP
 * yet at the probe): 0 → BP_m = RBP and the return address into mallocgc is
 * [RSP]; n ≥ 1 → follow RBP n-1 times to fp, the return address is [fp+8]
 * and BP_m = [fp]. The type is read only when that return address lies in
 * runtime.mallocgc; otherwise the sample is kept with type 0 and counted.
 * Go 1.27's size-specialized functions (malloc_generated.go, the range
 * [sc_lo, sc_hi)) take typ in BX but drop it (the noscan ones overwrite BX
 * at once), and mallocgc calls them for sizes < 81 before it spills typ
 * (malloc.go:1079-1091). So when the frame just below mallocgc's (the one
 * that called the probed function, or its caller) lies in that range, the
 * type is not in any frame: the sample is kept with type 0, counted as
 * size-specialized, and user space takes the type from the call site
 * (a constant `LEAQ type, BX` before a compiled `new`).
 * Everything is aggregated in kernel maps keyed by stack, never by thread;
 * nothing is written to the target. */
#include "gotrace_common.bpf.h"

#include "commands/alloc/alloc_types.h"

const volatile __u32 mode = GT_ALLOC_MODE_PROFILEALLOC;
const volatile __u32 sample_derefs = 0; /* frames between the sampler's probe and mallocgc */
const volatile __u32 large_derefs = 0;  /* … and allocLarge's */
const volatile __u64 mallocgc_lo = 0;   /* runtime address range of runtime.mallocgc */
const volatile __u64 mallocgc_hi = 0;
const volatile __u64 sc_lo = 0; /* runtime address range of 1.27's size-specialized mallocs (0: none) */
const volatile __u64 sc_hi = 0;
const volatile __u64 numgc_addr = 0; /* runtime address of memstats.numgc (0: unknown) */
const volatile __u32 stw_stop_has_reason = 0;  /* 1.21+: stopTheWorldWithSema(reason) in AL */
const volatile __u32 stw_start_has_reason = 0; /* 1.22+: startTheWorldWithSema(now, w) BL = reason, CX = start */

/* Cookie kinds. */
#define GT_MAP_KIND(c) GT_COOKIE_KIND(c) /* map_grow_entry: enum gt_map_growth */

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, struct gt_alloc_key);
  __type(value, struct gt_alloc_val);
} alloc_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, struct gt_large_key);
  __type(value, struct gt_large_val);
} large_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, struct gt_map_key);
  __type(value, struct gt_map_val);
} map_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct gt_map_write_key);
  __type(value, struct gt_map_write_val);
} map_write_agg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Whether pc lies in 1.27's size-specialized mallocs. */
static __always_inline bool size_specialized(__u64 pc) { return sc_lo && pc >= sc_lo && pc < sc_hi; }

/* The typ mallocgc spilled, read through `derefs` frames (see the header
 * comment); 0 when the frame chain does not lead into mallocgc. */
static __always_inline __u64 mallocgc_type(struct pt_regs *ctx, __u32 derefs) {
  __u64 ret, bp_m;
  if (derefs == 0) {
    ret = read_u64(PT_REGS_SP(ctx));
    bp_m = PT_REGS_FP(ctx);
  } else {
    /* helper_ret: the return address one frame below mallocgc's, into the
     * mallocgcX helper (1.24+) that called toward the probe. */
    __u64 fp = PT_REGS_FP(ctx), helper_ret = read_u64(PT_REGS_SP(ctx));
    if (derefs >= 2) {
      helper_ret = read_u64(fp + 8);
      fp = read_u64(fp);
    }
    if (derefs >= 3) {
      helper_ret = read_u64(fp + 8);
      fp = read_u64(fp);
    }
    /* Below a size-specialized malloc (an SCn function, or the SlowPath it
     * calls, which is in the same range): no type in any frame. */
    if (size_specialized(helper_ret)) {
      count(GT_CNT_ALLOC_SIZE_SPECIALIZED);
      return 0;
    }
    if (!fp) {
      count(GT_CNT_ALLOC_NO_FRAME);
      return 0;
    }
    ret = read_u64(fp + 8);
    bp_m = read_u64(fp);
  }
  if (!bp_m || ret < mallocgc_lo || ret >= mallocgc_hi) {
    count(GT_CNT_ALLOC_NO_FRAME);
    return 0;
  }
  return read_u64(bp_m + 0x18);
}

/* False (and counted) when the probe hit will be repeated after morestack.
 * At a stack-check site the probe sits on the JBE right after the CMP, so
 * the flags say exactly whether it will jump (CF or ZF set). Re-reading
 * stackguard0 instead races with the preemption requests sysmon writes
 * there (stackPreempt): the CMP may have seen the old value, and an
 * allocation would be lost (seen: 1 in ~15,000 at MemProfileRate=1). */
static __always_inline bool entry_ok(struct pt_regs *ctx, __u64 g, __u64 cookie) {
  if (GT_COOKIE_CHECK(cookie) && (ctx->flags & (GT_X86_CF | GT_X86_ZF))) {
    count(GT_CNT_ALLOC_RETRY);
    return false;
  }
  return true;
}

static __always_inline __u64 stack_here(struct pt_regs *ctx, __u64 g) {
  struct stack_bounds b = {};
  bounds_for(g, &b);
  return capture_entry_stack(ctx, &b, GT_MAX_STACK_DEPTH);
}

SEC("uprobe")
int sample_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u64 g = go_g(ctx);
  if (!g || !entry_ok(ctx, g, cookie)) return 0;
  struct gt_alloc_key key = {};
  __u64 bytes = 0;
  if (mode == GT_ALLOC_MODE_PROFILEALLOC) {
    key.size = go_arg3(ctx);
    bytes = go_arg3(ctx);
    key.type = mallocgc_type(ctx, sample_derefs);
  } else if (mode == GT_ALLOC_MODE_REFILL) {
    key.size = go_arg2(ctx) & 0xff; /* spanClass: sizeclass << 1 | noscan */
    key.type = mallocgc_type(ctx, sample_derefs);
  } else {
    if (go_arg1(ctx) == 0) return 0; /* size 0: no allocation (zerobase) */
    if (size_specialized(PT_REGS_IP(ctx))) {
      /* 1.27+: called by mallocgc, whose own entry counted it already. */
      __u64 ret = read_u64(PT_REGS_SP(ctx));
      if (ret >= mallocgc_lo && ret < mallocgc_hi) return 0;
    }
    key.size = go_arg1(ctx);
    bytes = go_arg1(ctx);
    key.type = go_arg2(ctx);
  }
  key.stack_id = stack_here(ctx, g);
  static const struct gt_alloc_val zero;
  struct gt_alloc_val *v = agg_lookup_or_init(&alloc_agg, &key, &zero);
  if (!v) return 0;
  __sync_fetch_and_add(&v->count, 1);
  __sync_fetch_and_add(&v->bytes, bytes);
  count(GT_CNT_ALLOC_SAMPLES);
  return 0;
}

SEC("uprobe")
int large_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u64 g = go_g(ctx);
  if (!g || !entry_ok(ctx, g, cookie)) return 0;
  __u64 size = go_arg2(ctx);
  struct gt_large_key key = {.noscan = go_arg3(ctx) & 1};
  key.type = mallocgc_type(ctx, large_derefs);
  key.stack_id = stack_here(ctx, g);
  static const struct gt_large_val zero;
  struct gt_large_val *v = agg_lookup_or_init(&large_agg, &key, &zero);
  count(GT_CNT_ALLOC_LARGE);
  if (!v) return 0;
  __sync_fetch_and_add(&v->count, 1);
  __sync_fetch_and_add(&v->bytes, size);
  __sync_fetch_and_add(&v->hist[log2_bucket(size)], 1);
  if (size > v->max_bytes) { /* racy max: good enough */
    v->max_bytes = size;
    v->max_goid = goid_of(g);
  }
  return 0;
}

SEC("uprobe")
int map_grow_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u64 g = go_g(ctx);
  if (!g || !entry_ok(ctx, g, cookie)) return 0;
  __u32 growth = GT_MAP_KIND(cookie);
  struct gt_map_key key = {.growth = growth};
  __u64 len = 0;
  switch (growth) {
    case GT_MAP_HASHGROW: /* hashGrow(t *maptype, h *hmap): hmap.count at 0 */
      key.map_type = go_arg1(ctx);
      len = read_u64(go_arg2(ctx));
      break;
    case GT_MAP_GROW_TO_SMALL: /* (m *Map).growTo*(typ): Map.used at 0 */
    case GT_MAP_GROW_TO_TABLE:
      key.map_type = go_arg2(ctx);
      len = read_u64(go_arg1(ctx));
      break;
    default: /* (t *table).rehash(typ, m) */
      key.map_type = go_arg2(ctx);
      len = read_u64(go_arg3(ctx));
      break;
  }
  key.stack_id = stack_here(ctx, g);
  static const struct gt_map_val zero;
  struct gt_map_val *v = agg_lookup_or_init(&map_agg, &key, &zero);
  count(GT_CNT_ALLOC_MAP_GROWTHS);
  if (!v) return 0;
  __sync_fetch_and_add(&v->count, 1);
  if (len > v->max_len) v->max_len = len;
  return 0;
}

/* Every map write: hot (one trap per `m[k] = v`), so it does only what it
 * must — the stack, one read of the map's count, one aggregate update. A
 * write into a nil map is counted too (it panics inside mapassign, after
 * the probe). Morestack re-entries are counted apart and ignored. */
SEC("uprobe")
int map_write_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  if (GT_COOKIE_CHECK(cookie) && (ctx->flags & (GT_X86_CF | GT_X86_ZF))) {
    count(GT_CNT_ALLOC_MAP_WRITE_RETRY);
    return 0;
  }
  __u64 g = go_g(ctx);
  if (!g) return 0;
  struct gt_map_write_key key = {.map_type = go_arg1(ctx)};
  __u64 len = read_u64(go_arg2(ctx));
  key.stack_id = stack_here(ctx, g);
  static const struct gt_map_write_val zero;
  struct gt_map_write_val *v = agg_lookup_or_init(&map_write_agg, &key, &zero);
  count(GT_CNT_ALLOC_MAP_WRITES);
  if (!v) return 0;
  __sync_fetch_and_add(&v->count, 1);
  if (len > v->max_len) v->max_len = len; /* racy max: good enough */
  return 0;
}

SEC("uprobe")
int gc_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u64 g = go_g(ctx);
  if (g && !entry_ok(ctx, g, cookie)) return 0;
  __u32 kind = GT_COOKIE_KIND(cookie);
  struct gt_gc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  count(GT_CNT_ALLOC_GC_EVENTS);
  if (!e) {
    count(GT_CNT_DROP_RINGBUF);
    return 0;
  }
  e->t_ns = bpf_ktime_get_ns();
  e->kind = kind;
  e->arg = 0;
  e->arg2 = 0;
  e->goid = goid_of(user_g(g));
  switch (kind) {
    case GT_GC_START:
      e->arg = (__u32)go_arg1(ctx);
      break;
    case GT_GC_STW_STOP:
      e->arg = stw_stop_has_reason ? (__u32)(go_arg1(ctx) & 0xff) : GT_STW_REASON_UNKNOWN;
      break;
    case GT_GC_STW_START:
      e->arg = stw_start_has_reason ? (__u32)(go_arg2(ctx) & 0xff) : GT_STW_REASON_UNKNOWN;
      e->arg2 = stw_start_has_reason ? go_arg3(ctx) : 0;
      break;
    case GT_GC_CYCLE:
      /* Cycles are serial: at startCycle every earlier one has finished
       * mark termination, which counts it in numgc. */
      if (numgc_addr) {
        __u32 done = 0;
        if (bpf_probe_read_user(&done, sizeof(done), (const void *)numgc_addr) == 0) e->arg2 = (__u64)done + 1;
      }
      break;
    case GT_GC_PAUSE_END:
      e->arg2 = go_arg2(ctx); /* now (the receiver is in AX) */
      break;
    default:
      break;
  }
  ringbuf_submit_lazy(&events, e);
  count(GT_CNT_EVENTS);
  return 0;
}
