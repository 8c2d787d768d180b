// x86-64: which instructions the kernel emulates for uprobes, which register
// writes a probe at the entry would see, and Go's amd64 stack check.
//
// Emulation, from Linux 6.18 arch/x86/kernel/uprobes.c, arch_uprobe_analyze_insn():
//  - uprobe_init_insn() refuses instructions with a CS/DS/ES/SS segment or
//    LOCK prefix (is_prefix_bad) or outside the good_insns_64 tables; such a
//    probe cannot be attached at all (reported here as single-step).
//  - branch_setup_xol_ops() emulates (branch_emulate_op):
//      * the canonical NOPs x86_nops[1..8] (arch/x86/include/asm/nops.h:
//        90 / 66 90 / 0f 1f 00 / 0f 1f 40 00 / 0f 1f 44 00 00 /
//        66 0f 1f 44 00 00 / 0f 1f 80 0*4 / 0f 1f 84 00 0*4), compared byte
//        for byte — tip commit 610f6e14c29d "uprobes/x86: Add support to
//        emulate NOP instructions", merged for 6.16;
//      * opcode 0x90 with any prefixes ("prefix* + nop"), e.g. PAUSE (f3 90);
//      * JMP rel8/rel32 (eb, e9), CALL rel32 (e8), Jcc rel8 (70-7f) and
//        Jcc rel32 (0f 80-8f); any of these with a 0x66 prefix is refused.
//  - push_setup_xol_ops() emulates PUSH reg (50-57), one byte, or two bytes
//    with exactly the REX prefix 0x41 (push r8-r15) — since Linux 4.18.
//  - everything else (RET, CMP, MOV, SUB, indirect JMP/CALL, …) is copied to
//    the XOL slot and single-stepped (default_xol_ops).
// Measured on this project's machines (README, "How it works"): a probe on an
// emulated JBE/PUSH/NOP/CALL costs about an eighth of one on a single-stepped
// CMP/MOV/SUB/RET.
#include <array>
#include <cstring>

#include "code_internal.h"

namespace gotrace::disasm {
namespace {

// arch/x86/include/asm/nops.h, CONFIG_64BIT: BYTES_NOP1 … BYTES_NOP8.
constexpr std::array<std::array<uint8_t, 8>, 9> kX86Nops = {{
    {},
    {0x90},
    {0x66, 0x90},
    {0x0f, 0x1f, 0x00},
    {0x0f, 0x1f, 0x40, 0x00},
    {0x0f, 0x1f, 0x44, 0x00, 0x00},
    {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
    {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
    {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
}};

bool is_legacy_prefix(uint8_t b) {
  switch (b) {
    case 0xf0:
    case 0xf2:
    case 0xf3:
    case 0x2e:
    case 0x36:
    case 0x3e:
    case 0x26:
    case 0x64:
    case 0x65:
    case 0x66:
    case 0x67:
      return true;
    default:
      return false;
  }
}

// The raw layout the kernel's decoder sees: legacy prefixes, REX, opcode.
struct RawX86 {
  bool prefix_66 = false;
  bool bad_prefix = false;  // is_prefix_bad(): ES/CS/SS/DS segment or LOCK
  uint8_t rex = 0;
  uint8_t opc1 = 0;
  uint8_t opc2 = 0;  // second opcode byte after 0x0f
  bool two_byte = false;
};

RawX86 parse_raw(const uint8_t* b, size_t n) {
  RawX86 r;
  size_t i = 0;
  while (i < n && is_legacy_prefix(b[i])) {
    switch (b[i]) {
      case 0x66:
        r.prefix_66 = true;
        break;
      case 0x26:
      case 0x2e:
      case 0x36:
      case 0x3e:
      case 0xf0:
        r.bad_prefix = true;
        break;
      default:
        break;
    }
    ++i;
  }
  if (i < n && (b[i] & 0xf0) == 0x40) r.rex = b[i++];
  if (i < n) r.opc1 = b[i++];
  if (r.opc1 == 0x0f && i < n) {
    r.two_byte = true;
    r.opc2 = b[i];
  }
  return r;
}

bool is_scratch(x86_reg reg) {
  switch (reg) {
    case X86_REG_R12:
    case X86_REG_R12D:
    case X86_REG_R12W:
    case X86_REG_R12B:
    case X86_REG_R13:
    case X86_REG_R13D:
    case X86_REG_R13W:
    case X86_REG_R13B:
    case X86_REG_R15:
    case X86_REG_R15D:
    case X86_REG_R15W:
    case X86_REG_R15B:
    case X86_REG_EFLAGS:
    case X86_REG_RIP:
      return true;
    default:
      return false;
  }
}

bool is_reg(const cs_x86_op& op, x86_reg reg) { return op.type == X86_OP_REG && op.reg == reg; }

// `[r14 + 0x10]`: g.stackguard0 through the g register.
bool is_stackguard0(const cs_x86_op& op) {
  return op.type == X86_OP_MEM && op.mem.base == X86_REG_R14 && op.mem.index == X86_REG_INVALID &&
         op.mem.segment == X86_REG_INVALID && op.mem.disp == 16;
}

// Go amd64 stack checks (cmd/internal/obj/x86/obj6.go, stacksplit):
//   small frame:  CMPQ SP, 16(R14); JBE morestack
//   frame > 128:  LEAQ -N(SP), R12; CMPQ R12, 16(R14); JBE morestack
//   huge frame:   MOVQ SP, R12; SUBQ $N, R12; JB morestack;
//                 CMPQ R12, 16(R14); JBE morestack
// In the huge form the walk stops at the JB (the underflow check); it is a
// stack-check site when the CMPQ and a JBE to the same place follow.
class X86Tracker : public StackCheckTracker {
 public:
  void step(const cs_insn& insn) override {
    const cs_x86& d = insn.detail->x86;
    std::optional<uint64_t> new_r12;  // SP - k now in R12
    Flags new_flags = Flags::Unknown;
    uint64_t flags_k = 0;
    bool r12_written = writes_r12(insn);
    if (insn.id == X86_INS_CMP && d.op_count == 2 && is_stackguard0(d.operands[1])) {
      if (is_reg(d.operands[0], X86_REG_RSP)) {
        new_flags = Flags::CmpGuard;
        flags_k = 0;
      } else if (is_reg(d.operands[0], X86_REG_R12) && r12_) {
        new_flags = Flags::CmpGuard;
        flags_k = *r12_;
      }
    } else if (insn.id == X86_INS_LEA && d.op_count == 2 && is_reg(d.operands[0], X86_REG_R12) &&
               d.operands[1].type == X86_OP_MEM && d.operands[1].mem.base == X86_REG_RSP &&
               d.operands[1].mem.index == X86_REG_INVALID && d.operands[1].mem.disp <= 0) {
      new_r12 = static_cast<uint64_t>(-d.operands[1].mem.disp);
    } else if (insn.id == X86_INS_MOV && d.op_count == 2 && is_reg(d.operands[0], X86_REG_R12) &&
               is_reg(d.operands[1], X86_REG_RSP)) {
      new_r12 = 0;
    } else if (insn.id == X86_INS_SUB && d.op_count == 2 && is_reg(d.operands[0], X86_REG_R12) &&
               d.operands[1].type == X86_OP_IMM && d.operands[1].imm >= 0 && r12_) {
      new_r12 = *r12_ + static_cast<uint64_t>(d.operands[1].imm);
      new_flags = Flags::Underflow;
      flags_k = *new_r12;
    }
    if (writes_flags(insn)) {
      flags_ = new_flags;
      flags_k_ = flags_k;
    }
    if (r12_written) r12_ = new_r12;
  }

  std::optional<StackCheck> at_branch(const cs_insn& site, std::span<const cs_insn> following) override {
    if (site.id == X86_INS_JBE && flags_ == Flags::CmpGuard) return StackCheck{flags_k_, 16};
    if (site.id != X86_INS_JB || flags_ != Flags::Underflow || following.size() < 2) return std::nullopt;
    const cs_insn& cmp = following[0];
    const cs_insn& jbe = following[1];
    const cs_x86& c = cmp.detail->x86;
    if (cmp.id != X86_INS_CMP || c.op_count != 2 || !is_reg(c.operands[0], X86_REG_R12) ||
        !is_stackguard0(c.operands[1]) || jbe.id != X86_INS_JBE)
      return std::nullopt;
    auto t1 = branch_target(site);
    auto t2 = branch_target(jbe);
    if (!t1 || !t2 || *t1 != *t2) return std::nullopt;
    return StackCheck{flags_k_, 16, true};
  }

 private:
  enum class Flags { Unknown, CmpGuard, Underflow };

  static bool writes_flags(const cs_insn& insn) {
    for (uint8_t i = 0; i < insn.detail->regs_write_count; ++i)
      if (insn.detail->regs_write[i] == X86_REG_EFLAGS) return true;
    return insn.detail->x86.eflags != 0;
  }
  static bool writes_r12(const cs_insn& insn) {
    const cs_x86& d = insn.detail->x86;
    for (uint8_t i = 0; i < d.op_count; ++i) {
      const cs_x86_op& op = d.operands[i];
      if (op.type == X86_OP_REG && (op.access & CS_AC_WRITE) &&
          (op.reg == X86_REG_R12 || op.reg == X86_REG_R12D || op.reg == X86_REG_R12W ||
           op.reg == X86_REG_R12B))
        return true;
    }
    return false;
  }
  static std::optional<uint64_t> branch_target(const cs_insn& insn) {
    const cs_x86& d = insn.detail->x86;
    if (d.op_count == 1 && d.operands[0].type == X86_OP_IMM) return static_cast<uint64_t>(d.operands[0].imm);
    return std::nullopt;
  }

  std::optional<uint64_t> r12_;
  Flags flags_ = Flags::Unknown;
  uint64_t flags_k_ = 0;
};

}  // namespace

SiteKind x86_classify(const cs_insn& insn) {
  const uint8_t* b = insn.bytes;
  const size_t n = insn.size;
  if (n >= 1 && n <= 8 && std::memcmp(b, kX86Nops[n].data(), n) == 0) return SiteKind::Emulated;
  RawX86 r = parse_raw(b, n);
  if (r.bad_prefix) return SiteKind::SingleStepped;  // refused by uprobe_init_insn()
  if (!r.two_byte) {
    switch (r.opc1) {
      case 0x90:
        // The kernel takes any 0x90 as a NOP; with REX.B it is XCHG r8, rax,
        // which it would then skip. Never offer that as a cheap site.
        return (r.rex & 0x1) ? SiteKind::SingleStepped : SiteKind::Emulated;
      case 0xeb:
      case 0xe9:
      case 0xe8:
        return r.prefix_66 ? SiteKind::SingleStepped : SiteKind::Emulated;
      default:
        break;
    }
    if (r.opc1 >= 0x70 && r.opc1 <= 0x7f) return r.prefix_66 ? SiteKind::SingleStepped : SiteKind::Emulated;
    if (r.opc1 >= 0x50 && r.opc1 <= 0x57) {
      if (n == 1) return SiteKind::Emulated;
      if (n == 2 && r.rex == 0x41) return SiteKind::Emulated;
    }
    return SiteKind::SingleStepped;
  }
  if (r.opc2 >= 0x80 && r.opc2 <= 0x8f) return r.prefix_66 ? SiteKind::SingleStepped : SiteKind::Emulated;
  return SiteKind::SingleStepped;
}

Effect x86_effect(csh handle, const cs_insn& insn) {
  Effect e;
  const cs_x86& d = insn.detail->x86;
  for (uint8_t i = 0; i < d.op_count; ++i) {
    const cs_x86_op& op = d.operands[i];
    bool unknown_access = op.access == CS_AC_INVALID && insn.id != X86_INS_LEA && insn.id != X86_INS_NOP;
    if (op.type == X86_OP_MEM && ((op.access & CS_AC_WRITE) || unknown_access)) {
      e.changes_state = true;
      e.what = "writes memory";
      return e;
    }
  }
  cs_regs read, written;
  uint8_t nread = 0, nwritten = 0;
  if (cs_regs_access(handle, &insn, read, &nread, written, &nwritten) != CS_ERR_OK) {
    e.changes_state = true;
    e.what = "has effects the disassembler cannot describe";
    return e;
  }
  for (uint8_t i = 0; i < nwritten; ++i) {
    auto reg = static_cast<x86_reg>(written[i]);
    if (is_scratch(reg)) continue;
    e.changes_state = true;
    const char* name = cs_reg_name(handle, reg);
    e.what = std::string("writes ") + (name ? name : "a register");
    return e;
  }
  for (uint8_t i = 0; i < insn.detail->groups_count; ++i) {
    switch (insn.detail->groups[i]) {
      case CS_GRP_JUMP:
      case CS_GRP_CALL:
      case CS_GRP_RET:
      case CS_GRP_INT:
      case CS_GRP_IRET:
        e.leaves_line = true;
        e.what = "transfers control (and is single-stepped)";
        return e;
      default:
        break;
    }
  }
  return e;
}

bool x86_is_ret(const cs_insn& insn) { return insn.id == X86_INS_RET; }

std::optional<uint64_t> x86_direct_jump_target(const cs_insn& insn) {
  // From the bytes (no Capstone detail needed): JMP rel8 (eb) / rel32 (e9).
  RawX86 r = parse_raw(insn.bytes, insn.size);
  if (r.two_byte || r.prefix_66) return std::nullopt;
  const uint64_t next = insn.address + insn.size;
  if (r.opc1 == 0xeb && insn.size >= 2) return next + static_cast<int8_t>(insn.bytes[insn.size - 1]);
  if (r.opc1 == 0xe9 && insn.size >= 5)
    return next + static_cast<int32_t>(read_le32(insn.bytes + insn.size - 4));
  return std::nullopt;
}

std::optional<uint64_t> x86_direct_call_target(const cs_insn& insn) {
  // CALL rel32 (e8); Go never emits the 16-bit form.
  RawX86 r = parse_raw(insn.bytes, insn.size);
  if (r.two_byte || r.prefix_66 || r.opc1 != 0xe8 || insn.size < 5) return std::nullopt;
  return insn.address + insn.size + static_cast<int32_t>(read_le32(insn.bytes + insn.size - 4));
}

std::unique_ptr<StackCheckTracker> x86_stack_tracker() { return std::make_unique<X86Tracker>(); }

std::optional<size_t> x86_vex_length(std::span<const uint8_t> code) {
  // VEX2: c5 [R vvvv L pp] opcode modrm …       (map 0f)
  // VEX3: c4 [R X B mmmmm] [W vvvv L pp] opcode modrm …
  if (code.size() < 4) return std::nullopt;
  size_t i;
  unsigned map;
  if (code[0] == 0xc5) {
    map = 1;
    i = 2;
  } else if (code[0] == 0xc4) {
    map = code[1] & 0x1f;
    if (map < 1 || map > 3) return std::nullopt;
    i = 3;
  } else {
    return std::nullopt;
  }
  const uint8_t opcode = code[i++];
  if (i >= code.size()) return std::nullopt;
  const uint8_t modrm = code[i++];
  const unsigned mod = modrm >> 6, rm = modrm & 7;
  if (mod != 3 && rm == 4) {
    if (i >= code.size()) return std::nullopt;
    const uint8_t sib = code[i++];
    if (mod == 0 && (sib & 7) == 5) i += 4;
  }
  if (mod == 0 && rm == 5) i += 4;  // RIP-relative
  if (mod == 1) i += 1;
  if (mod == 2) i += 4;
  // An 8-bit immediate: every map-0f3a instruction, and a few in map 0f.
  if (map == 3) i += 1;
  if (map == 1) {
    switch (opcode) {
      case 0x70:
      case 0x71:
      case 0x72:
      case 0x73:
      case 0xc2:
      case 0xc4:
      case 0xc5:
      case 0xc6:
        i += 1;
        break;
      default:
        break;
    }
  }
  if (i > code.size() || i > 15) return std::nullopt;
  return i;
}

}  // namespace gotrace::disasm
