// Decodes a function's machine code (Capstone: x86-64 and arm64) to find
// where a uprobe can go cheaply and safely:
//  - the entry site: the first instruction the kernel emulates (branch, call,
//    push, nop) that comes before any change to argument registers, memory or
//    the stack pointer. On a Go function that is the conditional branch of the
//    stack-bound check, e.g. `CMPQ SP, 16(R14); JBE morestack` -> the JBE.
//    For frames over 4 KiB Go first checks SP - N for underflow
//    (`MOVQ SP, R12; SUBQ $N, R12; JB morestack; CMPQ R12, 16(R14); JBE …`,
//    arm64 `SUBS R27, RSP, R17; BLO …; CMP R16, R17; BLS …`): the site is then
//    the JB/BLO, which goes to the same morestack call, with stack_check set.
//  - every RET, and every tail JMP that leaves the function.
// What the kernel emulates is taken from Linux 6.18 (arch/x86/kernel/uprobes.c,
// arch/arm64/kernel/probes/decode-insn.c): on x86-64 JMP/Jcc/CALL rel, PUSH
// reg and the canonical NOPs; on arm64 every PC-relative or register branch
// including RET, ADR/ADRP and NOP. So an arm64 RET probe is cheap, an x86 one
// is not. Instructions the kernel refuses to probe are reported SingleStepped.
// Why the instruction matters: on this project's VMs a single-stepped probe
// costs ~8x an emulated one (README, "How it works").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gotrace/elf/elf_image.h"

namespace gotrace {

// How the kernel executes a probed instruction.
enum class SiteKind : uint8_t { Emulated, SingleStepped };
std::string_view site_kind_name(SiteKind k);  // "emulated", "single-step"

struct StackCheck {
  // The entry site is the branch of `CMP <sp - frame_adjust>, stackguard0`.
  // A BPF program can tell whether the branch will be taken (the function
  // will call morestack and be entered again): sp - frame_adjust <= guard.
  uint64_t frame_adjust = 0;
  uint32_t guard_offset = 16;  // offset of stackguard0 in g
  // The site is the JB/BLO of a big frame's underflow check (the JBE/BLS on
  // the guard is still to come): the flags at the site do not answer alone.
  bool underflow_site = false;
};

struct CodeSite {
  uint64_t address = 0;
  SiteKind kind = SiteKind::SingleStepped;
  std::string text;  // "jbe 0x4321" (for display)
};

// A direct call (x86-64 CALL rel32, arm64 BL) and where it goes.
struct DirectCall {
  CodeSite site;
  uint64_t target = 0;
};

struct FunctionCode {
  uint64_t entry = 0;
  uint64_t end = 0;
  bool decoded = false;      // every byte up to the end decoded cleanly
  std::string decode_error;  // why not
  std::optional<CodeSite> entry_site;
  std::string no_entry_site_reason;       // set when entry_site is empty
  std::optional<StackCheck> stack_check;  // entry site is a stack-check branch
  CodeSite first_instruction;             // what a naive probe would hit
  std::vector<CodeSite> rets;
  std::vector<CodeSite> tail_jumps;          // unconditional jumps to outside [entry, end)
  std::vector<DirectCall> calls;             // direct calls, in address order
  std::vector<uint64_t> instruction_starts;  // every decoded instruction
};

// Analyses code = bytes of [entry, end).
FunctionCode analyze_function(Arch arch, std::span<const uint8_t> code, uint64_t entry);

// Whether the kernel emulates (vs single-steps) this instruction on uprobes.
SiteKind classify_instruction(Arch arch, std::span<const uint8_t> insn_bytes);

}  // namespace gotrace
