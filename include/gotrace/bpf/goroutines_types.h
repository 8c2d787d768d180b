/* Records of the `goroutines` BPF program (bpf/goroutines.bpf.c), used by
 * `gotrace goroutines --watch --leaks`: goroutines created and exited, per
 * creation site, counted in the kernel. PCs are runtime addresses (user
 * space subtracts the load bias). */
#ifndef GOTRACE_BPF_GOROUTINES_TYPES_H
#define GOTRACE_BPF_GOROUTINES_TYPES_H

#include "gotrace/bpf/common_types.h"

/* A creation site: the `go` statement's return PC (g.gopc) and the
 * goroutine's start function (g.startpc; 1.22+ often F.gowrapN). */
struct gt_gsite_key {
  __u64 gopc;
  __u64 startpc;
};
struct gt_gsite_val {
  __u64 created;        /* goroutines created while the probes were on */
  __u64 exited_new;     /* … of which exited (found in the born table) */
  __u64 exited_before;  /* exits of goroutines not in the born table: created
                         * before the probes went on, or evicted from it */
};

/* The born table's value (key: goid): the site of a goroutine created while
 * the probes were on. */
struct gt_gborn {
  struct gt_gsite_key site;
};

/* goroutines' own counters (common_types.h says how counters are laid out). */
enum gt_goroutines_counter {
  GT_CNT_G_CREATED = GT_CNT_OWN_FIRST, /* creations seen (newproc.func1's runqput call) */
  GT_CNT_G_EXITED,                     /* exits seen (gdestroy / goexit0) */
  GT_CNT_G_EXIT_MATCHED,               /* exits of goroutines found in the born table (then removed) */
  GT_CNT_G_EXIT_RETRY,                 /* exit hits about to call morestack (ignored: the call comes again) */
  GT_CNT_G_UNREADABLE,                 /* a g whose goid could not be read: not counted */
  GT_CNT_G_BORN_FAILED,                /* a creation not entered in the born table (update failed) */
  GT_CNT_G__END
};

#endif
