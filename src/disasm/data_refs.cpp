// data_references(): walks a function with Capstone (instruction detail on)
// and collects the absolute addresses its operands name. See data_refs.h.
#include "gotrace/disasm/data_refs.h"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>

namespace gotrace {

std::string_view data_access_name(DataAccess a) {
  switch (a) {
    case DataAccess::Address:
      return "addr";
    case DataAccess::Read:
      return "read";
    case DataAccess::Write:
      return "write";
  }
  return "?";
}

namespace {

// One detailed Capstone handle per architecture and thread.
class Handle {
 public:
  Handle(cs_arch arch, cs_mode mode) {
    if (cs_open(arch, mode, &h_) != CS_ERR_OK) {
      h_ = 0;
      return;
    }
    cs_option(h_, CS_OPT_DETAIL, CS_OPT_ON);
    insn_ = cs_malloc(h_);
  }
  ~Handle() {
    if (insn_) cs_free(insn_, 1);
    if (h_) cs_close(&h_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  bool ok() const { return h_ && insn_; }
  csh h() const { return h_; }
  cs_insn* insn() const { return insn_; }

 private:
  csh h_ = 0;
  cs_insn* insn_ = nullptr;
};

std::string text_of(const cs_insn& insn) {
  return insn.op_str[0] ? fmt::format("{} {}", insn.mnemonic, insn.op_str) : std::string(insn.mnemonic);
}

void x86_refs(const cs_insn& insn, std::vector<DataRef>& out) {
  const cs_x86& x = insn.detail->x86;
  for (uint8_t i = 0; i < x.op_count; ++i) {
    const cs_x86_op& op = x.operands[i];
    if (op.type != X86_OP_MEM || op.mem.base != X86_REG_RIP || op.mem.index != X86_REG_INVALID) continue;
    DataRef r;
    r.insn_address = insn.address;
    r.target = insn.address + insn.size + static_cast<uint64_t>(op.mem.disp);
    if (insn.id == X86_INS_LEA) {
      r.access = DataAccess::Address;
    } else {
      r.access = (op.access & CS_AC_WRITE) ? DataAccess::Write : DataAccess::Read;
      r.size = op.size;
    }
    r.text = text_of(insn);
    out.push_back(std::move(r));
  }
}

// Bytes a load or store moves, from its data register's name (w/x/b/h/s/d/q)
// and the mnemonic's width suffix.
unsigned arm64_access_size(csh h, const cs_insn& insn) {
  std::string_view m = insn.mnemonic;
  auto ends = [&](std::string_view s) { return m.size() >= s.size() && m.substr(m.size() - s.size()) == s; };
  if (ends("b") || ends("sb")) return 1;
  if (ends("h") || ends("sh")) return 2;
  if (ends("sw")) return 4;
  const cs_arm64& a = insn.detail->arm64;
  if (a.op_count == 0 || a.operands[0].type != ARM64_OP_REG) return 0;
  const char* name = cs_reg_name(h, a.operands[0].reg);
  if (!name) return 0;
  switch (name[0]) {
    case 'w':
    case 's':
      return 4;
    case 'x':
    case 'd':
      return 8;
    case 'q':
      return 16;
    case 'b':
      return 1;
    case 'h':
      return 2;
  }
  return 0;
}

// A load or store through `base` (no index register): its displacement.
std::optional<int64_t> arm64_mem_through(const cs_arm64& a, arm64_reg base) {
  for (uint8_t i = 0; i < a.op_count; ++i) {
    const cs_arm64_op& op = a.operands[i];
    if (op.type == ARM64_OP_MEM && op.mem.base == base && op.mem.index == ARM64_REG_INVALID)
      return op.mem.disp;
  }
  return std::nullopt;
}

// ADRP Xd, page; then (the next instruction) ADD Xd', Xd, #lo or a load/store
// [Xd, #lo]. An ADRP with no such partner is not reported. Go 1.19 also
// emits ADRP; ADD; then the load or store through the sum: the access is
// folded into the pair's reference (`added` remembers the ADD's register).
struct Arm64State {
  std::optional<std::pair<arm64_reg, uint64_t>> page;  // after an ADRP
  std::optional<std::pair<arm64_reg, size_t>> added;   // after ADRP+ADD: register, index in out
};

void arm64_refs(csh h, const cs_insn& insn, Arm64State& st, std::vector<DataRef>& out) {
  const cs_arm64& a = insn.detail->arm64;
  auto prev = st.page;
  auto added = st.added;
  st.page.reset();
  st.added.reset();
  if (added && insn.mnemonic[0] != 'a') {
    if (auto disp = arm64_mem_through(a, added->first)) {
      DataRef& r = out[added->second];
      r.target += static_cast<uint64_t>(*disp);
      r.access = insn.mnemonic[0] == 's' ? DataAccess::Write : DataAccess::Read;
      r.size = arm64_access_size(h, insn);
      r.text += "; " + text_of(insn);
      return;
    }
  }
  if (insn.id == ARM64_INS_ADRP && a.op_count == 2 && a.operands[0].type == ARM64_OP_REG &&
      a.operands[1].type == ARM64_OP_IMM) {
    st.page = std::make_pair(a.operands[0].reg, static_cast<uint64_t>(a.operands[1].imm));
    return;
  }
  if (!prev) return;
  DataRef r;
  r.insn_address = insn.address - 4;  // the pair starts at the ADRP
  r.text = text_of(insn);
  if (insn.id == ARM64_INS_ADD && a.op_count == 3 && a.operands[1].type == ARM64_OP_REG &&
      a.operands[1].reg == prev->first && a.operands[2].type == ARM64_OP_IMM) {
    uint64_t imm = static_cast<uint64_t>(a.operands[2].imm);
    if (a.operands[2].shift.type == ARM64_SFT_LSL) imm <<= a.operands[2].shift.value;
    r.target = prev->second + imm;
    r.access = DataAccess::Address;
    if (a.operands[0].type == ARM64_OP_REG) st.added = std::make_pair(a.operands[0].reg, out.size());
    out.push_back(std::move(r));
    return;
  }
  if (auto disp = arm64_mem_through(a, prev->first)) {
    r.target = prev->second + static_cast<uint64_t>(*disp);
    r.access = insn.mnemonic[0] == 's' ? DataAccess::Write : DataAccess::Read;
    r.size = arm64_access_size(h, insn);
    out.push_back(std::move(r));
  }
}

}  // namespace

std::vector<DataRef> data_references(Arch arch, std::span<const uint8_t> code, uint64_t entry) {
  std::vector<DataRef> out;
  if (arch != Arch::X86_64 && arch != Arch::Arm64) return out;
  thread_local Handle x86(CS_ARCH_X86, CS_MODE_64);
  thread_local Handle arm64(CS_ARCH_ARM64, CS_MODE_ARM);
  Handle& handle = arch == Arch::X86_64 ? x86 : arm64;
  if (!handle.ok()) return out;
  const size_t step = arch == Arch::X86_64 ? 1 : 4;
  Arm64State arm_state;
  size_t off = 0;
  while (off < code.size()) {
    const uint8_t* p = code.data() + off;
    size_t n = code.size() - off;
    uint64_t address = entry + off;
    if (!cs_disasm_iter(handle.h(), &p, &n, &address, handle.insn())) {
      off += step;
      arm_state = {};
      continue;
    }
    const cs_insn& insn = *handle.insn();
    if (arch == Arch::X86_64) {
      x86_refs(insn, out);
    } else {
      arm64_refs(handle.h(), insn, arm_state, out);
    }
    off += insn.size;
  }
  return out;
}

namespace {

// The register ids that alias integer argument register `arg`.
bool is_arg_register(Arch arch, unsigned reg, unsigned arg) {
  if (arch == Arch::X86_64) {
    static const unsigned regs[][4] = {
        {X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL},
        {X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL},
        {X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL},
        {X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL},
        {X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL},
        {X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B},
        {X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B},
    };
    if (arg >= std::size(regs)) return false;
    for (unsigned r : regs[arg])
      if (r == reg) return true;
    return (arg == 0 && reg == X86_REG_AH) || (arg == 1 && reg == X86_REG_BH) ||
           (arg == 2 && reg == X86_REG_CH);
  }
  if (arg > 7) return false;
  return reg == ARM64_REG_X0 + arg || reg == ARM64_REG_W0 + arg;
}

}  // namespace

std::optional<uint64_t> constant_address_argument(Arch arch, std::span<const uint8_t> code, uint64_t entry,
                                                  uint64_t ret, unsigned arg) {
  if (arch != Arch::X86_64 && arch != Arch::Arm64) return std::nullopt;
  if (ret <= entry || ret - entry > code.size()) return std::nullopt;
  thread_local Handle x86(CS_ARCH_X86, CS_MODE_64);
  thread_local Handle arm64(CS_ARCH_ARM64, CS_MODE_ARM);
  Handle& handle = arch == Arch::X86_64 ? x86 : arm64;
  if (!handle.ok()) return std::nullopt;
  const size_t step = arch == Arch::X86_64 ? 1 : 4;

  // Pass 1: where branches land (a value set on one path must not be taken
  // for another's). Pass 2: the register's constant, instruction by
  // instruction, up to the call that ends at ret.
  std::vector<uint64_t> targets;
  struct Insn {
    uint64_t address;
    size_t size;
  };
  auto walk = [&](auto&& each) {
    size_t off = 0;
    while (off < code.size()) {
      const uint8_t* p = code.data() + off;
      size_t n = code.size() - off;
      uint64_t address = entry + off;
      if (!cs_disasm_iter(handle.h(), &p, &n, &address, handle.insn())) {
        off += step;
        continue;
      }
      if (!each(*handle.insn())) return;
      off += handle.insn()->size;
    }
  };
  walk([&](const cs_insn& insn) {
    if (cs_insn_group(handle.h(), &insn, CS_GRP_JUMP)) {
      if (arch == Arch::X86_64) {
        const cs_x86& x = insn.detail->x86;
        if (x.op_count == 1 && x.operands[0].type == X86_OP_IMM)
          targets.push_back(static_cast<uint64_t>(x.operands[0].imm));
      } else {
        const cs_arm64& a = insn.detail->arm64;
        for (uint8_t i = 0; i < a.op_count; ++i)
          if (a.operands[i].type == ARM64_OP_IMM) targets.push_back(static_cast<uint64_t>(a.operands[i].imm));
      }
    }
    return true;
  });

  std::optional<uint64_t> value;
  std::optional<std::pair<unsigned, uint64_t>> page;  // arm64: ADRP register and page
  bool at_call = false;
  walk([&](const cs_insn& insn) {
    if (insn.address >= ret) return false;
    if (std::find(targets.begin(), targets.end(), insn.address) != targets.end()) value.reset(), page.reset();
    if (insn.address + insn.size == ret) {
      at_call = arch == Arch::X86_64 ? insn.id == X86_INS_CALL && insn.detail->x86.op_count == 1 &&
                                           insn.detail->x86.operands[0].type == X86_OP_IMM
                                     : insn.id == ARM64_INS_BL;
      return false;
    }
    bool set = false;
    if (arch == Arch::X86_64) {
      const cs_x86& x = insn.detail->x86;
      if (insn.id == X86_INS_LEA && x.op_count == 2 && x.operands[0].type == X86_OP_REG &&
          is_arg_register(arch, x.operands[0].reg, arg) && x.operands[0].size == 8 &&
          x.operands[1].type == X86_OP_MEM && x.operands[1].mem.base == X86_REG_RIP &&
          x.operands[1].mem.index == X86_REG_INVALID) {
        value = insn.address + insn.size + static_cast<uint64_t>(x.operands[1].mem.disp);
        set = true;
      }
    } else {
      const cs_arm64& a = insn.detail->arm64;
      if (insn.id == ARM64_INS_ADRP && a.op_count == 2 && a.operands[0].type == ARM64_OP_REG &&
          a.operands[1].type == ARM64_OP_IMM) {
        page = std::make_pair(a.operands[0].reg, static_cast<uint64_t>(a.operands[1].imm));
      } else if (insn.id == ARM64_INS_ADD && page && a.op_count == 3 && a.operands[0].type == ARM64_OP_REG &&
                 is_arg_register(arch, a.operands[0].reg, arg) && a.operands[1].type == ARM64_OP_REG &&
                 a.operands[1].reg == page->first && a.operands[2].type == ARM64_OP_IMM) {
        uint64_t imm = static_cast<uint64_t>(a.operands[2].imm);
        if (a.operands[2].shift.type == ARM64_SFT_LSL) imm <<= a.operands[2].shift.value;
        value = page->second + imm;
        set = true;
      }
    }
    if (!set) {
      cs_regs read{}, written{};
      uint8_t nread = 0, nwritten = 0;
      if (cs_regs_access(handle.h(), &insn, read, &nread, written, &nwritten) != CS_ERR_OK) {
        value.reset();
      } else {
        for (uint8_t i = 0; i < nwritten; ++i)
          if (is_arg_register(arch, written[i], arg)) value.reset();
      }
      if (cs_insn_group(handle.h(), &insn, CS_GRP_CALL)) value.reset();
    }
    return true;
  });
  if (!at_call) return std::nullopt;
  return value;
}

}  // namespace gotrace
