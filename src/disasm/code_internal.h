// Internal to src/disasm: the per-architecture halves of code_analysis.cpp.
// code_analysis.cpp owns the Capstone handles and the walk over a function;
// code_x86.cpp and code_arm64.cpp know which instructions the kernel emulates,
// which register writes matter to a probe, and what a Go stack check looks
// like on their architecture.
#pragma once

#include <capstone/capstone.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "gotrace/disasm/code_analysis.h"

namespace gotrace::disasm {

// What executing one instruction does to the state a probe at the function's
// entry reads (argument registers, g, SP, FP/LR, memory).
struct Effect {
  bool changes_state = false;  // writes memory or a register a probe reads
  bool leaves_line = false;    // control may leave the straight-line path
  std::string what;            // why, for no_entry_site_reason ("writes rax")
};

// Tracks the registers of a Go stack-bound check while the entry walk moves
// forward: which scratch register holds SP - k or g.stackguard0, and what the
// flags were last set from.
class StackCheckTracker {
 public:
  virtual ~StackCheckTracker() = default;
  // Feeds one instruction the walk stepped over (not the site itself).
  virtual void step(const cs_insn& insn) = 0;
  // Whether `site` (an emulated conditional branch) is the branch of a stack
  // check; `following` is the code after the site, used to confirm the
  // underflow branch of the huge-frame form.
  virtual std::optional<StackCheck> at_branch(const cs_insn& site, std::span<const cs_insn> following) = 0;
};

struct ArchDesc {
  cs_arch arch;
  cs_mode mode;
  unsigned min_insn_size;  // how far to skip past undecodable bytes (Go objdump does the same)
};

// --- x86-64 (code_x86.cpp) --------------------------------------------------
SiteKind x86_classify(const cs_insn& insn);
Effect x86_effect(csh handle, const cs_insn& insn);
bool x86_is_ret(const cs_insn& insn);
std::optional<uint64_t> x86_direct_jump_target(const cs_insn& insn);  // unconditional JMP rel
std::optional<uint64_t> x86_direct_call_target(const cs_insn& insn);  // CALL rel32
std::unique_ptr<StackCheckTracker> x86_stack_tracker();
// Length of a VEX-encoded (c4/c5) instruction Capstone 4 cannot decode, such
// as the AVX-512 mask moves (KMOVQ) in Go 1.26's asyncPreempt; nullopt if the
// bytes are not a well-formed VEX instruction.
std::optional<size_t> x86_vex_length(std::span<const uint8_t> code);

// --- arm64 (code_arm64.cpp) -------------------------------------------------
SiteKind arm64_classify(uint32_t word);
Effect arm64_effect(csh handle, const cs_insn& insn);
bool arm64_is_ret(const cs_insn& insn);
std::optional<uint64_t> arm64_direct_jump_target(const cs_insn& insn);  // B (not BL)
std::optional<uint64_t> arm64_direct_call_target(const cs_insn& insn);  // BL
std::unique_ptr<StackCheckTracker> arm64_stack_tracker();
// Names the ARMv8.1 LSE atomics (CAS*, CASP*, LDADD*/LDCLR*/…/SWP*) that
// Capstone 4 does not decode but Go emits behind its CPU-feature checks;
// nullptr for any other word.
const char* arm64_opaque_insn(uint32_t word);

// Helpers shared by both halves.
uint32_t read_le32(const uint8_t* p);
std::string insn_text(const cs_insn& insn);

}  // namespace gotrace::disasm
