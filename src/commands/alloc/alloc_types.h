/* Records of the `alloc` BPF program (alloc.bpf.c). Type and map-type
 * fields hold runtime addresses of Go type descriptors (user space subtracts
 * the load bias and decodes the name from the binary); 0 = unknown. */
#ifndef GOTRACE_BPF_ALLOC_TYPES_H
#define GOTRACE_BPF_ALLOC_TYPES_H

#include "gotrace/bpf/common_types.h"
#include "gotrace/bpf/gc_event_types.h"

/* alloc's own counters (common_types.h says how counters are laid out). */
#define GT_ALLOC_COUNTERS(X)                                                                              \
  X(GT_CNT_ALLOC_SAMPLES, "alloc_samples", 0, "sampler hits accepted (profilealloc / refill / mallocgc)") \
  X(GT_CNT_ALLOC_RETRY, "alloc_morestack_retries", 0,                                                     \
    "hits about to call morestack (ignored: the call comes again)")                                       \
  X(GT_CNT_ALLOC_NO_FRAME, "alloc_type_frame_missing", 0,                                                 \
    "mallocgc's frame not where expected: sample kept, type unknown")                                     \
  X(GT_CNT_ALLOC_LARGE, "alloc_large_objects", 0, "large objects seen")                                   \
  X(GT_CNT_ALLOC_MAP_GROWTHS, "alloc_map_growths", 0, "map growth events seen")                           \
  X(GT_CNT_ALLOC_GC_EVENTS, "alloc_gc_events", 0, "GC and stop/start-the-world events seen")              \
  X(GT_CNT_ALLOC_MAP_WRITES, "alloc_map_writes", 0, "map assignments seen (--map-writes)")                \
  X(GT_CNT_ALLOC_MAP_WRITE_RETRY, "alloc_map_write_morestack_retries", 0,                                 \
    "mapassign hits about to call morestack (ignored)")                                                   \
  X(GT_CNT_ALLOC_SIZE_SPECIALIZED, "alloc_size_specialized", 0,                                           \
    "samples through a size-specialized malloc (1.27+): type from the call site")

enum gt_alloc_counter {
  GT_CNT_ALLOC__BEGIN = GT_CNT_OWN_FIRST - 1,
  GT_ALLOC_COUNTERS(GT_CNT_ENUM_ENTRY) GT_CNT_ALLOC__END
};

/* Which allocation path the sampler probes (rodata `mode`). */
enum gt_alloc_mode {
  GT_ALLOC_MODE_PROFILEALLOC = 0, /* runtime.profilealloc: the runtime's own samples (MemProfileRate > 0) */
  GT_ALLOC_MODE_REFILL = 1,       /* (*mcache).refill: one hit per span handed out, weighted by span bytes */
  GT_ALLOC_MODE_EXACT = 2,        /* runtime.mallocgc, and 1.27's size-specialized mallocgc*SC* functions
                                     that compiled `new` calls directly: every allocation (costly) */
};

/* Sampled allocations by (stack, type, size). size is profilealloc's slot
 * size (CX), refill's span class (BL), or mallocgc's requested size (AX). */
struct gt_alloc_key {
  __u64 stack_id;
  __u64 type;
  __u64 size;
};
struct gt_alloc_val {
  __u64 count;
  __u64 bytes; /* sum of the sizes: slot bytes / requested bytes; 0 for refill (weighted in user space) */
};

/* Large objects ((*mcache).allocLarge), every one, by (stack, type, noscan). */
struct gt_large_key {
  __u64 stack_id;
  __u64 type;
  __u32 noscan;
  __u32 pad;
};
struct gt_large_val {
  __u64 count;
  __u64 bytes;
  __u64 max_bytes;
  __u64 max_goid;
  __u64 hist[GT_HIST_BUCKETS]; /* log2(bytes) */
};

/* Map growth by (stack, map type, how it grew). */
enum gt_map_growth {
  GT_MAP_HASHGROW = 0,      /* classic map: buckets doubled (or same-size grow) */
  GT_MAP_GROW_TO_SMALL = 1, /* swiss map: first group */
  GT_MAP_GROW_TO_TABLE = 2, /* swiss map: small map became a table */
  GT_MAP_REHASH = 3,        /* swiss map: a table grew or split */
};
struct gt_map_key {
  __u64 stack_id;
  __u64 map_type;
  __u32 growth;
  __u32 pad;
};
struct gt_map_val {
  __u64 count;
  __u64 max_len; /* entries in the map when it grew (hmap.count / Map.used) */
};

/* Map assignments (runtime.mapassign*, --map-writes), every one, by (stack,
 * map type). */
struct gt_map_write_key {
  __u64 stack_id;
  __u64 map_type;
};
struct gt_map_write_val {
  __u64 count;
  __u64 max_len; /* entries in the map before a write (hmap.count / Map.used) */
};

#endif
