/* Records of the `goroutines` BPF program (goroutines.bpf.c), used by
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
  __u64 created;       /* goroutines created while the probes were on */
  __u64 exited_new;    /* … of which exited (found in the born table) */
  __u64 exited_before; /* exits of goroutines not in the born table: created
                        * before the probes went on, or evicted from it */
};

/* The born table's value (key: goid): the site of a goroutine created while
 * the probes were on. */
struct gt_gborn {
  struct gt_gsite_key site;
};

/* goroutines' own counters (common_types.h says how counters are laid out). */
#define GT_GOROUTINES_COUNTERS(X)                                                                 \
  X(GT_CNT_G_CREATED, "goroutines_created", 0, "creations seen (newproc.func1's runqput call)")   \
  X(GT_CNT_G_EXITED, "goroutines_exited", 0, "exits seen (gdestroy / goexit0)")                   \
  X(GT_CNT_G_EXIT_MATCHED, "exits_of_created", 0,                                                 \
    "exits of goroutines found in the born table (then removed)")                                 \
  X(GT_CNT_G_EXIT_RETRY, "exit_morestack_retries", 0,                                             \
    "exit hits about to call morestack (ignored: the call comes again)")                          \
  X(GT_CNT_G_UNREADABLE, "drop_g_unreadable", 1, "a g whose goid could not be read: not counted") \
  X(GT_CNT_G_BORN_FAILED, "drop_born_table", 1, "a creation not entered in the born table (update failed)")

enum gt_goroutines_counter {
  GT_CNT_G__BEGIN = GT_CNT_OWN_FIRST - 1,
  GT_GOROUTINES_COUNTERS(GT_CNT_ENUM_ENTRY) GT_CNT_G__END
};

#endif
