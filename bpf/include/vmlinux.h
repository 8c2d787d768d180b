/* The kernel types gotrace's BPF programs use, and only those: checked in so
 * that building needs no kernel BTF on the build host (the usual vmlinux.h is
 * dumped from /sys/kernel/btf/vmlinux). The values are the kernel's stable
 * UAPI (include/uapi/linux/bpf.h); struct pt_regs is x86-64's, marked
 * preserve_access_index so that libbpf relocates its field offsets (CO-RE)
 * against the running kernel's BTF at load time.
 *
 * The BPF programs are amd64-only: they read Go's amd64 register ABI (see
 * go_abi.bpf.h). cmake/bpf.cmake is the one place that says so.
 *
 * A program that needs another kernel type adds it here, with the fields it
 * reads only, under preserve_access_index. */
#ifndef __VMLINUX_H__
/* The name libbpf's bpf_tracing.h looks for: with it, it reads pt_regs by
 * the kernel's field names (sp, ip), as below. */
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef _Bool bool;
enum { false = 0, true = 1 };

enum bpf_map_type {
  BPF_MAP_TYPE_UNSPEC = 0,
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_PERCPU_HASH = 5,
  BPF_MAP_TYPE_PERCPU_ARRAY = 6,
  BPF_MAP_TYPE_LRU_HASH = 9,
  BPF_MAP_TYPE_RINGBUF = 27,
};

/* bpf_map_update_elem flags */
enum {
  BPF_ANY = 0,
  BPF_NOEXIST = 1,
  BPF_EXIST = 2,
};

/* bpf_ringbuf_output/submit flags */
enum {
  BPF_RB_NO_WAKEUP = 1,
  BPF_RB_FORCE_WAKEUP = 2,
};

/* bpf_ringbuf_query */
enum {
  BPF_RB_AVAIL_DATA = 0,
  BPF_RB_RING_SIZE = 1,
  BPF_RB_CONS_POS = 2,
  BPF_RB_PROD_POS = 3,
};

/* bpf_get_ns_current_pid_tgid */
struct bpf_pidns_info {
  __u32 pid;
  __u32 tgid;
};

#if defined(__clang__)
#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
#endif

struct pt_regs {
  unsigned long r15;
  unsigned long r14;
  unsigned long r13;
  unsigned long r12;
  unsigned long bp;
  unsigned long bx;
  unsigned long r11;
  unsigned long r10;
  unsigned long r9;
  unsigned long r8;
  unsigned long ax;
  unsigned long cx;
  unsigned long dx;
  unsigned long si;
  unsigned long di;
  unsigned long orig_ax;
  unsigned long ip;
  unsigned long cs;
  unsigned long flags;
  unsigned long sp;
  unsigned long ss;
};

/* sched's tracepoints (tp_btf/sched_switch, sched_wakeup) read the tasks'
 * ids and, for a thread of the target, its FS base (where Go keeps g). */
struct thread_struct {
  unsigned long fsbase;
};

struct task_struct {
  int pid;
  int tgid;
  struct thread_struct thread;
};

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif
