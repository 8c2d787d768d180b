// Whether a process's code still equals its executable's file: a byte that
// differs in an executable segment is a breakpoint a tracer placed (an
// attached uprobe) or left behind (a uprobe the kernel failed to take out,
// "leaking uprobe" in its log), or code the program patched itself.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gotrace {

class ElfImage;

struct CodeChange {
  uint64_t vaddr = 0;  // link-time address (runtime address - load bias)
  uint8_t file_byte = 0;
  uint8_t memory_byte = 0;  // 0xcc on x86 (int3): a breakpoint
};

struct CodeCheck {
  std::string error;  // set when the code could not be read (nothing compared)
  uint64_t bytes_compared = 0;
  uint64_t bytes_differing = 0;   // all of them, however many are listed
  std::vector<CodeChange> first;  // the first `keep` of them, by address
};

// Compares every executable PT_LOAD segment of image (the process's pinned
// executable) with the process's memory at load_bias, through
// /proc/PID/mem.
CodeCheck compare_code_with_file(pid_t pid, const ElfImage& image, uint64_t load_bias, size_t keep = 16);

}  // namespace gotrace
