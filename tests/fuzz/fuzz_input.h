// Shared by the libFuzzer targets: the input bytes as an ElfImage (the
// readers' only entry point for file contents).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "gotrace/elf/elf_image.h"

namespace gotrace::fuzz {

inline std::unique_ptr<ElfImage> image_of(const uint8_t* data, size_t size) {
  auto img = ElfImage::from_bytes(std::vector<uint8_t>(data, data + size), "fuzz-input");
  if (!img) return nullptr;
  return std::move(*img);
}

// Keeps a value alive so the optimiser cannot drop the read that made it.
template <typename T>
inline void keep(const T& v) {
  asm volatile("" : : "g"(&v) : "memory");
}

}  // namespace gotrace::fuzz
