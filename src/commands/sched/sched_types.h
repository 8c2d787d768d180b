/* Records of the `sched` BPF program (sched.bpf.c, beside this file). */
#ifndef GOTRACE_BPF_SCHED_TYPES_H
#define GOTRACE_BPF_SCHED_TYPES_H

#include "gotrace/bpf/common_types.h"
#include "gotrace/bpf/gc_event_types.h"

#define GT_SCHED_COUNTERS(X)                                                                                \
  X(GT_CNT_SCHED_EXECUTES, "executes", 0, "goroutines that started running (runtime.execute hits)")         \
  X(GT_CNT_SCHED_TRACKED, "transitions_tracked", 0,                                                         \
    "runnable-to-running transitions the runtime tracked (one goroutine in 8): timed")                      \
  X(GT_CNT_SCHED_NO_STAMP, "tracked_without_stamp", 0,                                                      \
    "tracked goroutines without a runnable stamp (not timed)")                                              \
  X(GT_CNT_SCHED_CLOCK_BACK, "stamp_in_future", 0,                                                          \
    "runnable stamps later than the probe's clock (not timed)")                                             \
  X(GT_CNT_SCHED_RETRY, "execute_morestack_retries", 0, "execute hits about to call morestack (ignored)")   \
  X(GT_CNT_SCHED_SWITCHES, "thread_switches", 0, "context switches of the target's threads (off a CPU)")    \
  X(GT_CNT_SCHED_PREEMPTED, "thread_preemptions", 0,                                                        \
    "switches that left a target thread runnable (the kernel took its CPU)")                                \
  X(GT_CNT_SCHED_NO_G, "preemptions_without_goroutine", 0,                                                  \
    "kernel preemptions whose goroutine could not be read (attributed to no site)")                         \
  X(GT_CNT_SCHED_THREADS_FULL, "lost_thread_table_full", 0, "a thread's switch state lost (table full)")    \
  X(GT_CNT_SCHED_STW_EVENTS, "stw_events", 0, "stop/start-the-world events seen")                           \
  X(GT_CNT_SCHED_EXACT_UNTIMED, "runs_without_runnable_moment", 0,                                          \
    "--exact: runs whose runnable moment no probe saw (before the trace, or a path not probed): not timed") \
  X(GT_CNT_SCHED_GOROUTINES_FULL, "lost_goroutine_table_full", 0,                                           \
    "--exact: a goroutine's state lost (table full): its budget misses an interval")

enum gt_sched_counter {
  GT_CNT_SCHED__BEGIN = GT_CNT_OWN_FIRST - 1,
  GT_SCHED_COUNTERS(GT_CNT_ENUM_ENTRY) GT_CNT_SCHED__END
};

/* Run-queue latency, all transitions (a per-CPU array of one). */
struct gt_sched_total {
  __u64 count;
  __u64 total_ns;
  __u64 max_ns;
  __u64 hist[GT_HIST_BUCKETS];
};

/* Run-queue latency by where the goroutine resumes: its saved stack, and
 * the wait reason it parked with (meaningful only when it was woken from a
 * park; user space decides from the stack). */
struct gt_sched_key {
  __u64 stack_id;
  __u32 reason;
  __u32 pad;
};
struct gt_sched_val {
  __u64 count;
  __u64 total_ns;
  __u64 max_ns;
  __u64 max_goid;
  __u64 hist[GT_HIST_BUCKETS];
};

/* The kernel's side, for the target's threads: time on a CPU, runnable but
 * off one (preempted, or woken and not yet running), and blocked. A per-CPU
 * array of one. */
struct gt_sched_kernel {
  __u64 running_ns;
  __u64 preempted_ns; /* runnable after the kernel took the CPU */
  __u64 wakeup_ns;    /* runnable after a wakeup, before running */
  __u64 blocked_ns;
  __u64 preemptions;
  __u64 sleeps;
};

/* Time a thread waited for a CPU after the kernel preempted it, by the
 * stack of the goroutine it was running. */
struct gt_kpreempt_val {
  __u64 count;
  __u64 total_ns;
  __u64 max_ns;
};

/* --exact: each goroutine's state since its last transition (keyed by goid). */
enum gt_gstate_kind {
  GT_G_RUNNING = 1,
  GT_G_RUNNABLE = 2,
  GT_G_PARKED = 3,
};
struct gt_gstate {
  __u64 since;   /* when it entered the state */
  __u64 startpc; /* the function the goroutine started with: its budget's site */
  __u32 state;
  __u32 pad;
};

/* --exact: goroutine-time by start function, split by state; the kernel's
 * parts (runnable off a CPU, asleep in a system call) lie inside running. */
struct gt_budget {
  __u64 running_ns;
  __u64 runnable_ns;
  __u64 parked_ns;
  __u64 kernel_runnable_ns;
  __u64 syscall_ns;
  __u64 goroutines;
};

/* A thread's state between two switches (keyed by thread id for one
 * switch interval only: the entry is rewritten at every switch). */
struct gt_thread_state {
  __u64 t_on;     /* switched in (0: not seen) */
  __u64 t_off;    /* switched out (0: running or not seen) */
  __u64 t_wake;   /* woken after t_off (0: not yet) */
  __u64 stack_id; /* preempted: the goroutine's stack */
  __u64 startpc;  /* --exact: the start function of the goroutine it ran (0: none, or g0) */
  __u32 preempted;
  __u32 pad;
};

#endif
