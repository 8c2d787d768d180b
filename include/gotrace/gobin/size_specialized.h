// Go 1.27's size-specialized allocation functions.
//
// With GOEXPERIMENT=sizespecializedmalloc, on by default from 1.27
// (internal/buildcfg/exp.go:88 of go1.27.3), the runtime has one malloc per
// size class up to 80 bytes, generated into runtime/malloc_generated.go:
// mallocgcTinySC2, mallocgcSmallNoScanSC2…7, mallocgcSmallScanNoHeaderSC1…7
// and the SlowPath functions they fall back to. Each takes mallocgc's
// (size, typ, needzero) and samples for the memory profile itself
// (profilealloc). Two callers reach them:
//  - runtime.mallocgc, for every size < 81, through mallocNoScanTable /
//    mallocScanTable before it spills typ (malloc.go:1079-1091);
//  - compiled code: `new(T)` of at most 80 bytes calls the function of its
//    size class directly, without mallocgc (cmd/compile/internal/ssagen/
//    ssa.go: newObject → specializedMallocSym), with typ a constant.
// None of them keeps typ in its frame (the noscan ones overwrite RBX at
// once), so a sampler below them finds the type only at a direct call site.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/pclntab.h"
#include "gotrace/util/result.h"

namespace gotrace {

// Whether a function name is one of the size-specialized mallocs or their
// slow paths (runtime.mallocgc<Kind>SC<n>, runtime.mallocgc<Kind>SlowPath).
bool is_size_specialized_malloc(std::string_view name);

// The link-time range [lo, hi) holding every size-specialized malloc of the
// binary and no other function (the linker lays malloc_generated.go out in
// one run). nullopt: the binary has none (before 1.27, or built with
// GOEXPERIMENT=nosizespecializedmalloc). An error when they are not
// contiguous.
struct SizeSpecializedRange {
  uint64_t lo = 0, hi = 0;
  size_t functions = 0;
  bool contains(uint64_t pc) const { return pc >= lo && pc < hi; }
};
Result<std::optional<SizeSpecializedRange>> find_size_specialized_mallocs(const Pclntab& pclntab);

// The type descriptor (link-time address) that the direct call returning to
// `ret` (link-time) passes as integer argument `arg` (0-based), when it is a
// constant there: what compiled `new(T)` passes a size-specialized malloc
// (arg 1), or `make([]T, n)` runtime.makeslice (arg 0).
std::optional<uint64_t> call_site_type(const ElfImage& image, const Pclntab& pclntab, uint64_t ret,
                                       unsigned arg = 1);

// One allocation site, one stack: the size-specialized mallocs reach the
// profiling call by two paths (the inline fast path, and through their
// SlowPath function), so the same `new(T)` gives two stacks that differ only
// inside the allocator. This returns the stack with the allocator's frames
// between the probed PC (pcs[0]) and the first frame outside them folded
// into one: the outermost size-specialized function, at its entry (entry+1,
// a return address that symbolizes to the function). Unchanged when no
// frame is a size-specialized malloc. pcs are runtime addresses; bias is
// runtime minus link-time.
std::vector<uint64_t> fold_size_specialized_frames(const std::vector<uint64_t>& pcs,
                                                   const SizeSpecializedRange& range, const Pclntab& pclntab,
                                                   uint64_t bias);

// For a runtime function that passes its own type argument on to mallocgc
// unchanged, that argument's position: runtime.newobject(typ) and
// runtime.makeslice(et, len, cap) (malloc.go, slice.go of 1.19–1.27).
std::optional<unsigned> mallocgc_type_argument(std::string_view function);

}  // namespace gotrace
