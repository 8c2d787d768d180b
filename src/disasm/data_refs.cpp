// data_references(): walks a function with Capstone (instruction detail on)
// and collects the absolute addresses its operands name. See data_refs.h.
#include "gotrace/disasm/data_refs.h"

#include <capstone/capstone.h>
#include <fmt/format.h>

#include <cstring>
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

}  // namespace gotrace
