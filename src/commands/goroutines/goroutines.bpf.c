// SPDX-License-Identifier: GPL-2.0
/* gotrace goroutines --leaks: every goroutine created and exited, counted per
 * creation site in the kernel. Two probes, both on instructions the kernel
 * emulates, both running on g0 (the system stack):
 *
 *   create_site  the CALL runtime.runqput in runtime.newproc.func1 (the
 *                closure newproc runs on the system stack): runqput(pp,
 *                newg, true), so BX = the new g, with its final goid, gopc
 *                and startpc already set (1.19–1.26). The goroutine cannot
 *                run, let alone exit, before it is queued.
 *   exit_entry   runtime.gdestroy (1.22+; goexit0 and coroutine exits call
 *                it) or runtime.goexit0 (up to 1.21), at the entry site (the
 *                stack check's branch): AX = the exiting g, goid and gopc
 *                still intact.
 *
 * A goroutine created while the probes are on is entered in `born` (goid ->
 * site); its exit finds it there and removes it. An exit not found there is
 * a goroutine created before the probes (or evicted from `born`, which user
 * space accounts: created - matched exits - entries left). Nothing is written
 * to the target; there is no return probe. */
#include "gotrace_common.bpf.h"

#include "commands/goroutines/goroutines_types.h"

const volatile __u32 g_gopc = 0;    /* offset of g.gopc */
const volatile __u32 g_startpc = 0; /* offset of g.startpc */

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct gt_gsite_key);
  __type(value, struct gt_gsite_val);
} sites SEC(".maps");

/* LRU: a leak fills it with goroutines that never exit; the oldest go first,
 * and every eviction is accounted in user space. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 262144);
  __type(key, __u64);
  __type(value, struct gt_gborn);
} born SEC(".maps");

static __always_inline void site_of(__u64 g, struct gt_gsite_key *k) {
  k->gopc = read_u64(g + g_gopc);
  k->startpc = read_u64(g + g_startpc);
}

SEC("uprobe")
int create_site(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  __u64 newg = go_arg2(ctx);
  __u64 goid = goid_of(newg);
  if (!goid) {
    count(GT_CNT_G_UNREADABLE);
    return 0;
  }
  struct gt_gborn b = {};
  site_of(newg, &b.site);
  struct gt_gsite_val zero = {};
  struct gt_gsite_val *v = agg_lookup_or_init(&sites, &b.site, &zero);
  if (v) __sync_fetch_and_add(&v->created, 1);
  count(GT_CNT_G_CREATED);
  if (bpf_map_update_elem(&born, &goid, &b, BPF_ANY) != 0) count(GT_CNT_G_BORN_FAILED);
  return 0;
}

SEC("uprobe")
int exit_entry(struct pt_regs *ctx) {
  if (!in_target()) return 0;
  if (will_call_morestack(ctx, go_g(ctx), GT_COOKIE_CHECK(bpf_get_attach_cookie(ctx)))) {
    count(GT_CNT_G_EXIT_RETRY);
    return 0;
  }
  __u64 gp = go_arg1(ctx);
  __u64 goid = goid_of(gp);
  if (!goid) {
    count(GT_CNT_G_UNREADABLE);
    return 0;
  }
  count(GT_CNT_G_EXITED);
  struct gt_gsite_key k = {};
  bool matched = false;
  struct gt_gborn *b = bpf_map_lookup_elem(&born, &goid);
  if (b) {
    k = b->site;
    matched = bpf_map_delete_elem(&born, &goid) == 0;
  }
  if (!matched) site_of(gp, &k);
  struct gt_gsite_val zero = {};
  struct gt_gsite_val *v = agg_lookup_or_init(&sites, &k, &zero);
  if (matched) count(GT_CNT_G_EXIT_MATCHED);
  if (!v) return 0;
  if (matched)
    __sync_fetch_and_add(&v->exited_new, 1);
  else
    __sync_fetch_and_add(&v->exited_before, 1);
  return 0;
}
