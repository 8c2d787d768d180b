// The allocator's size classes: slot size and pages per span of each class.
// The same 68 classes in every Go release 1.19–1.26 (runtime/sizeclasses.go
// up to 1.24, internal/runtime/gc/sizeclasses.go from 1.25); the binary's own
// tables (runtime.class_to_size / class_to_allocnpages, or
// internal/runtime/gc.SizeClassToSize / SizeClassToNPages) are read when the
// symbol table has them, and tests check both agree.
#pragma once

#include <array>
#include <cstdint>

#include "gotrace/elf/elf_image.h"
#include "gotrace/util/result.h"

namespace gotrace {

inline constexpr size_t kNumSizeClasses = 68;
inline constexpr uint64_t kGoPageSize = 8192;

struct SizeClasses {
  std::array<uint16_t, kNumSizeClasses> size{};
  std::array<uint8_t, kNumSizeClasses> npages{};
  // A span class (size class << 1 | noscan), as (*mcache).refill gets it.
  uint64_t slot_size(uint32_t span_class) const;
  uint64_t span_objects(uint32_t span_class) const;  // slots in one span of the class
};

const SizeClasses& builtin_size_classes();
// The binary's tables, from its symbols; fails when it has none.
Result<SizeClasses> size_classes_from_binary(const ElfImage& image);

}  // namespace gotrace
