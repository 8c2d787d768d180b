// arm64: which instructions the kernel simulates for uprobes, which register
// writes a probe at the entry would see, and Go's arm64 stack check.
//
// Simulation, from Linux 6.18 arch/arm64/kernel/probes/decode-insn.c,
// arm_probe_decode_insn() (called by arch_uprobe_analyze_insn() in
// arch/arm64/kernel/probes/uprobes.c), with the handlers in simulate-insn.c:
//  - NOP (exactly d503201f) -> simulate_nop: arm64 commit ac4ad5c09b34
//    "arm64: insn: Simulate nop instruction for better uprobe performance",
//    merged for 6.13. Other hints are stepped or refused.
//  - B.cond (mask ff000010 = 54000000) -> simulate_b_cond. The BC.cond form
//    (bit 4 set) is only matched by 6.18.y stable kernels carrying
//    2ccd8ff980b5; treated here as not simulated.
//  - CBZ/CBNZ (7f000000 = 34000000 / 35000000) -> simulate_cbz_cbnz
//  - TBZ/TBNZ (7f000000 = 36000000 / 37000000) -> simulate_tbz_tbnz
//  - ADR/ADRP (9f000000 = 10000000 / 90000000) -> simulate_adr_adrp
//  - B/BL (fc000000 = 14000000 / 94000000) -> simulate_b_bl
//  - BR/BLR/RET Xn (fffffc1f = d61f0000 / d63f0000 / d65f0000) -> simulate_br_blr_ret
//  - LDR/LDRSW (literal) are no longer simulated for uprobes since
//    "arm64: probes: Remove broken LDR (literal) uprobe support" (6.12): refused.
//  - `stp x29, x30, [sp, #-N]!` is NOT simulated: Liao Chang's "arm64:
//    uprobes: Simulate STP for pushing fp/lr into user stack" was not merged.
//  - everything else that aarch64_insn_is_steppable() accepts is
//    single-stepped out of line; the rest (exclusives, literal loads,
//    pointer-authenticated branches, exceptions, MSR) is refused.
#include "code_internal.h"

namespace gotrace::disasm {
namespace {

bool matches(uint32_t word, uint32_t mask, uint32_t value) { return (word & mask) == value; }

bool is_scratch(arm64_reg reg) {
  switch (reg) {
    case ARM64_REG_X16:
    case ARM64_REG_W16:
    case ARM64_REG_X17:
    case ARM64_REG_W17:
    case ARM64_REG_X19:
    case ARM64_REG_W19:
    case ARM64_REG_X20:
    case ARM64_REG_W20:
    case ARM64_REG_X21:
    case ARM64_REG_W21:
    case ARM64_REG_X22:
    case ARM64_REG_W22:
    case ARM64_REG_X23:
    case ARM64_REG_W23:
    case ARM64_REG_X24:
    case ARM64_REG_W24:
    case ARM64_REG_X25:
    case ARM64_REG_W25:
    case ARM64_REG_X27:
    case ARM64_REG_W27:
    case ARM64_REG_XZR:
    case ARM64_REG_WZR:
    case ARM64_REG_NZCV:
      return true;
    default:
      return false;
  }
}

// Capstone 4 reports the first operand of the compare aliases (CMP = SUBS
// xzr, CMN, TST) as written; they only set NZCV.
bool is_compare(unsigned id) {
  switch (id) {
    case ARM64_INS_CMP:
    case ARM64_INS_CMN:
    case ARM64_INS_TST:
    case ARM64_INS_CCMP:
    case ARM64_INS_CCMN:
    case ARM64_INS_FCMP:
    case ARM64_INS_FCMPE:
    case ARM64_INS_FCCMP:
    case ARM64_INS_FCCMPE:
      return true;
    default:
      return false;
  }
}

// Stores and read-modify-write atomics, by mnemonic: st*, swp*, cas*,
// ld<op>* atomics, dc zva. A backstop for operand access flags Capstone 4
// does not always set.
bool mnemonic_writes_memory(const char* m) {
  std::string_view s(m);
  if (s.starts_with("st") || s.starts_with("swp") || s.starts_with("cas")) return true;
  for (std::string_view op : {"ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin"})
    if (s.starts_with(op)) return true;
  return s == "dc" || s == "zva";
}

uint64_t shifted_imm(const cs_arm64_op& op) {
  uint64_t v = static_cast<uint64_t>(op.imm);
  if (op.shift.type == ARM64_SFT_LSL && op.shift.value < 64) v <<= op.shift.value;
  return v;
}

bool is_x(const cs_arm64_op& op, arm64_reg reg) { return op.type == ARM64_OP_REG && op.reg == reg; }

// Go arm64 stack checks (cmd/internal/obj/arm64/obj7.go, stacksplit):
//   small frame:  MOVD 16(g), R16; CMP R16, RSP; BLS morestack
//   frame > 128:  MOVD 16(g), R16; SUB $N, RSP, R17; CMP R16, R17; BLS morestack
//   huge frame:   MOVD 16(g), R16; MOVD $N, R27; SUBS R27, RSP, R17; BLO morestack;
//                 CMP R16, R17; BLS morestack
// (Capstone prints CMP R16, RSP as `cmp sp, x16`.) In the huge form the walk
// stops at the BLO (underflow check); it is a stack-check site when the CMP
// and a BLS to the same place follow.
class Arm64Tracker : public StackCheckTracker {
 public:
  void step(const cs_insn& insn) override {
    const cs_arm64& d = insn.detail->arm64;
    Value result;  // the value written to operand 0, when tracked
    bool flags_set = d.update_flags || is_compare(insn.id);
    Flags new_flags = Flags::Unknown;
    uint64_t flags_k = 0;

    if (insn.id == ARM64_INS_LDR && d.op_count == 2 && d.operands[1].type == ARM64_OP_MEM &&
        d.operands[1].mem.base == ARM64_REG_X28 && d.operands[1].mem.index == ARM64_REG_INVALID &&
        d.operands[1].mem.disp == 16 && !d.writeback) {
      result = Value{Kind::Guard, 0};
    } else if (insn.id == ARM64_INS_CMP && d.op_count == 2 && d.operands[1].type == ARM64_OP_REG &&
               value_of(d.operands[1]).kind == Kind::Guard) {
      Value lhs = is_x(d.operands[0], ARM64_REG_SP) ? Value{Kind::SpMinus, 0} : value_of(d.operands[0]);
      if (lhs.kind == Kind::SpMinus) {
        new_flags = Flags::CmpGuard;
        flags_k = lhs.k;
      }
    } else if ((insn.id == ARM64_INS_MOVZ || insn.id == ARM64_INS_MOV) && d.op_count == 2 &&
               d.operands[1].type == ARM64_OP_IMM) {
      result = Value{Kind::Const, shifted_imm(d.operands[1])};
    } else if (insn.id == ARM64_INS_MOVK && d.op_count == 2 && d.operands[1].type == ARM64_OP_IMM &&
               value_of(d.operands[0]).kind == Kind::Const) {
      unsigned shift = d.operands[1].shift.type == ARM64_SFT_LSL ? d.operands[1].shift.value : 0;
      if (shift < 64) {
        uint64_t v = value_of(d.operands[0]).k & ~(uint64_t{0xffff} << shift);
        result = Value{Kind::Const, v | (static_cast<uint64_t>(d.operands[1].imm & 0xffff) << shift)};
      }
    } else if (insn.id == ARM64_INS_SUB && d.op_count == 3 && is_x(d.operands[1], ARM64_REG_SP)) {
      std::optional<uint64_t> n;
      if (d.operands[2].type == ARM64_OP_IMM) n = shifted_imm(d.operands[2]);
      if (d.operands[2].type == ARM64_OP_REG && d.operands[2].shift.type == ARM64_SFT_INVALID &&
          value_of(d.operands[2]).kind == Kind::Const)
        n = value_of(d.operands[2]).k;
      if (n) {
        result = Value{Kind::SpMinus, *n};
        if (d.update_flags) {
          new_flags = Flags::Underflow;
          flags_k = *n;
        }
      }
    }

    // Registers written by this instruction lose what we knew about them.
    cs_regs_written_(insn, result);
    if (flags_set) {
      flags_ = new_flags;
      flags_k_ = flags_k;
    }
  }

  std::optional<StackCheck> at_branch(const cs_insn& site, std::span<const cs_insn> following) override {
    const cs_arm64& d = site.detail->arm64;
    if (site.id != ARM64_INS_B) return std::nullopt;
    if (d.cc == ARM64_CC_LS && flags_ == Flags::CmpGuard) return StackCheck{flags_k_, 16};
    if (d.cc != ARM64_CC_LO || flags_ != Flags::Underflow || following.size() < 2) return std::nullopt;
    const cs_insn& cmp = following[0];
    const cs_insn& bls = following[1];
    const cs_arm64& c = cmp.detail->arm64;
    if (cmp.id != ARM64_INS_CMP || c.op_count != 2 || c.operands[0].type != ARM64_OP_REG ||
        c.operands[1].type != ARM64_OP_REG || value_of(c.operands[1]).kind != Kind::Guard)
      return std::nullopt;
    Value lhs = value_of(c.operands[0]);
    if (lhs.kind != Kind::SpMinus || lhs.k != flags_k_) return std::nullopt;
    if (bls.id != ARM64_INS_B || bls.detail->arm64.cc != ARM64_CC_LS) return std::nullopt;
    auto t1 = arm64_branch_target(site);
    auto t2 = arm64_branch_target(bls);
    if (!t1 || !t2 || *t1 != *t2) return std::nullopt;
    return StackCheck{flags_k_, 16, true};
  }

  static std::optional<uint64_t> arm64_branch_target(const cs_insn& insn) {
    const cs_arm64& d = insn.detail->arm64;
    if (d.op_count == 1 && d.operands[0].type == ARM64_OP_IMM)
      return static_cast<uint64_t>(d.operands[0].imm);
    return std::nullopt;
  }

 private:
  enum class Kind { Unknown, Guard, SpMinus, Const };
  enum class Flags { Unknown, CmpGuard, Underflow };
  struct Value {
    Kind kind = Kind::Unknown;
    uint64_t k = 0;
  };
  static int slot(arm64_reg reg) {
    if (reg >= ARM64_REG_X0 && reg <= ARM64_REG_X28) return reg - ARM64_REG_X0;
    if (reg >= ARM64_REG_W0 && reg <= ARM64_REG_W30) return -1;  // 32-bit views are not tracked
    return -1;
  }
  Value value_of(const cs_arm64_op& op) const {
    if (op.type != ARM64_OP_REG) return {};
    int s = slot(static_cast<arm64_reg>(op.reg));
    return s < 0 ? Value{} : regs_[s];
  }
  // Forgets every register the instruction writes; stores `result` into the
  // first operand when the instruction was one we understood.
  void cs_regs_written_(const cs_insn& insn, Value result) {
    const cs_arm64& d = insn.detail->arm64;
    if (is_compare(insn.id)) return;
    for (uint8_t i = 0; i < d.op_count; ++i) {
      const cs_arm64_op& op = d.operands[i];
      if (op.type == ARM64_OP_REG && (op.access & CS_AC_WRITE)) forget(static_cast<arm64_reg>(op.reg));
      if (op.type == ARM64_OP_MEM && d.writeback) forget(static_cast<arm64_reg>(op.mem.base));
    }
    for (uint8_t i = 0; i < insn.detail->regs_write_count; ++i)
      forget(static_cast<arm64_reg>(insn.detail->regs_write[i]));
    if (result.kind != Kind::Unknown && d.op_count > 0 && d.operands[0].type == ARM64_OP_REG) {
      int s = slot(static_cast<arm64_reg>(d.operands[0].reg));
      if (s >= 0) regs_[s] = result;
    }
  }
  void forget(arm64_reg reg) {
    int s = slot(reg);
    if (s >= 0) regs_[s] = Value{};
    if (reg >= ARM64_REG_W0 && reg <= ARM64_REG_W30) {
      int x = reg - ARM64_REG_W0;
      if (x <= 28) regs_[x] = Value{};
    }
  }

  Value regs_[29];
  Flags flags_ = Flags::Unknown;
  uint64_t flags_k_ = 0;
};

}  // namespace

SiteKind arm64_classify(uint32_t w) {
  if (w == 0xd503201f) return SiteKind::Emulated;                     // NOP
  if (matches(w, 0xff000010, 0x54000000)) return SiteKind::Emulated;  // B.cond
  if (matches(w, 0x7f000000, 0x34000000) || matches(w, 0x7f000000, 0x35000000))
    return SiteKind::Emulated;  // CBZ, CBNZ
  if (matches(w, 0x7f000000, 0x36000000) || matches(w, 0x7f000000, 0x37000000))
    return SiteKind::Emulated;  // TBZ, TBNZ
  if (matches(w, 0x9f000000, 0x10000000) || matches(w, 0x9f000000, 0x90000000))
    return SiteKind::Emulated;  // ADR, ADRP
  if (matches(w, 0xfc000000, 0x14000000) || matches(w, 0xfc000000, 0x94000000))
    return SiteKind::Emulated;  // B, BL
  if (matches(w, 0xfffffc1f, 0xd61f0000) || matches(w, 0xfffffc1f, 0xd63f0000) ||
      matches(w, 0xfffffc1f, 0xd65f0000))
    return SiteKind::Emulated;  // BR, BLR, RET
  return SiteKind::SingleStepped;
}

Effect arm64_effect(csh handle, const cs_insn& insn) {
  Effect e;
  const cs_arm64& d = insn.detail->arm64;
  bool mem_write = mnemonic_writes_memory(insn.mnemonic);
  for (uint8_t i = 0; i < d.op_count; ++i)
    if (d.operands[i].type == ARM64_OP_MEM && (d.operands[i].access & CS_AC_WRITE)) mem_write = true;
  if (mem_write) {
    e.changes_state = true;
    e.what = "writes memory";
    return e;
  }
  cs_regs read, written;
  uint8_t nread = 0, nwritten = 0;
  if (cs_regs_access(handle, &insn, read, &nread, written, &nwritten) != CS_ERR_OK) {
    e.changes_state = true;
    e.what = "has effects the disassembler cannot describe";
    return e;
  }
  if (!is_compare(insn.id)) {
    for (uint8_t i = 0; i < nwritten; ++i) {
      auto reg = static_cast<arm64_reg>(written[i]);
      if (is_scratch(reg)) continue;
      e.changes_state = true;
      const char* name = cs_reg_name(handle, reg);
      e.what = std::string("writes ") + (name ? name : "a register");
      return e;
    }
  }
  for (uint8_t i = 0; i < insn.detail->groups_count; ++i) {
    switch (insn.detail->groups[i]) {
      case CS_GRP_JUMP:
      case CS_GRP_CALL:
      case CS_GRP_RET:
      case CS_GRP_INT:
      case CS_GRP_IRET:
        e.leaves_line = true;
        e.what = "transfers control (and is not simulated)";
        return e;
      default:
        break;
    }
  }
  return e;
}

bool arm64_is_ret(const cs_insn& insn) { return insn.id == ARM64_INS_RET; }

std::optional<uint64_t> arm64_direct_jump_target(const cs_insn& insn) {
  // From the word (no Capstone detail needed): B imm26.
  if (insn.size != 4) return std::nullopt;
  uint32_t w = read_le32(insn.bytes);
  if (!matches(w, 0xfc000000, 0x14000000)) return std::nullopt;
  int64_t imm = static_cast<int64_t>(static_cast<int32_t>(w << 6) >> 6) * 4;
  return insn.address + static_cast<uint64_t>(imm);
}

std::optional<uint64_t> arm64_direct_call_target(const cs_insn& insn) {
  // BL imm26.
  if (insn.size != 4) return std::nullopt;
  uint32_t w = read_le32(insn.bytes);
  if (!matches(w, 0xfc000000, 0x94000000)) return std::nullopt;
  int64_t imm = static_cast<int64_t>(static_cast<int32_t>(w << 6) >> 6) * 4;
  return insn.address + static_cast<uint64_t>(imm);
}

std::unique_ptr<StackCheckTracker> arm64_stack_tracker() { return std::make_unique<Arm64Tracker>(); }

const char* arm64_opaque_insn(uint32_t w) {
  // Arm ARM C4.1.94 "Loads and Stores": compare and swap, and the atomic
  // memory operations (size 111 0 00 A R 1 Rs o3 opc 00 Rn Rt).
  if (matches(w, 0x3fa07c00, 0x08a07c00)) return "cas";
  if (matches(w, 0xbfa07c00, 0x08207c00)) return "casp";
  if (matches(w, 0x3f200c00, 0x38200000)) return "ldop/swp";
  return nullptr;
}

}  // namespace gotrace::disasm
