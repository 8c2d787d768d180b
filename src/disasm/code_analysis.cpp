// The walk over one function's code: decode every instruction with Capstone,
// collect RETs and tail jumps, and find the entry site (see code_analysis.h).
// Which instructions the kernel emulates, and what a Go stack check looks
// like, is per architecture: code_x86.cpp and code_arm64.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "code_internal.h"

namespace gotrace {

std::string_view site_kind_name(SiteKind k) {
  switch (k) {
    case SiteKind::Emulated:
      return "emulated";
    case SiteKind::SingleStepped:
      return "single-step";
  }
  return "single-step";
}

namespace disasm {

uint32_t read_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

std::string insn_text(const cs_insn& insn) {
  if (insn.op_str[0] == '\0') return insn.mnemonic;
  return fmt::format("{} {}", insn.mnemonic, insn.op_str);
}

namespace {

// How many instructions from the entry the entry walk may look at, and how
// many more after the site the stack-check recogniser may look ahead. Go
// prologues are at most seven instructions before their branch.
constexpr size_t kWalkLimit = 48;
constexpr size_t kLookahead = 8;

const ArchDesc* arch_desc(Arch arch) {
  static const ArchDesc x86{CS_ARCH_X86, CS_MODE_64, 1};
  static const ArchDesc arm64{CS_ARCH_ARM64, CS_MODE_ARM, 4};
  switch (arch) {
    case Arch::X86_64:
      return &x86;
    case Arch::Arm64:
      return &arm64;
    default:
      return nullptr;
  }
}

// Capstone handles per architecture and thread, opened on first use: one
// with instruction detail (registers, operands) for the few instructions the
// entry walk looks at, and a faster one without for the rest.
class Decoder {
 public:
  explicit Decoder(const ArchDesc& desc) {
    if (cs_open(desc.arch, desc.mode, &detailed_) != CS_ERR_OK) detailed_ = 0;
    if (cs_open(desc.arch, desc.mode, &plain_) != CS_ERR_OK) plain_ = 0;
    if (!detailed_ || !plain_) return;
    cs_option(detailed_, CS_OPT_DETAIL, CS_OPT_ON);
    detailed_insn_ = cs_malloc(detailed_);
    plain_insn_ = cs_malloc(plain_);
  }
  ~Decoder() {
    if (detailed_insn_) cs_free(detailed_insn_, 1);
    if (plain_insn_) cs_free(plain_insn_, 1);
    if (detailed_) cs_close(&detailed_);
    if (plain_) cs_close(&plain_);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  bool ok() const { return detailed_insn_ != nullptr && plain_insn_ != nullptr; }
  csh handle() const { return detailed_; }
  // Decodes one instruction at code[0..]; nullptr if the bytes are not one.
  // Only a detailed decode fills insn->detail.
  const cs_insn* decode(std::span<const uint8_t> code, uint64_t address, bool detail) {
    const uint8_t* p = code.data();
    size_t n = code.size();
    uint64_t a = address;
    cs_insn* insn = detail ? detailed_insn_ : plain_insn_;
    if (!cs_disasm_iter(detail ? detailed_ : plain_, &p, &n, &a, insn)) return nullptr;
    return insn;
  }

  static Decoder* for_arch(Arch arch) {
    if (!arch_desc(arch)) return nullptr;
    thread_local Decoder x86(*arch_desc(Arch::X86_64));
    thread_local Decoder arm64(*arch_desc(Arch::Arm64));
    Decoder* d = arch == Arch::X86_64 ? &x86 : &arm64;
    return d->ok() ? d : nullptr;
  }

 private:
  csh detailed_ = 0;
  csh plain_ = 0;
  cs_insn* detailed_insn_ = nullptr;
  cs_insn* plain_insn_ = nullptr;
};

// A decoded instruction kept by value (Capstone's cs_insn points at its detail).
// Copies and moves re-point the detail at the copy's own storage.
struct Kept {
  cs_insn insn{};
  cs_detail detail{};
  Kept() = default;
  Kept(const Kept& o) : insn(o.insn), detail(o.detail) { insn.detail = &detail; }
  Kept& operator=(const Kept& o) {
    insn = o.insn;
    detail = o.detail;
    insn.detail = &detail;
    return *this;
  }
  void set(const cs_insn& from) {
    insn = from;
    if (from.detail) detail = *from.detail;
    insn.detail = &detail;
  }
};

SiteKind classify_decoded(Arch arch, const cs_insn& insn) {
  if (arch == Arch::X86_64) return x86_classify(insn);
  if (insn.size != 4) return SiteKind::SingleStepped;
  return arm64_classify(read_le32(insn.bytes));
}

bool is_ret(Arch arch, const cs_insn& insn) {
  return arch == Arch::X86_64 ? x86_is_ret(insn) : arm64_is_ret(insn);
}

std::optional<uint64_t> direct_jump_target(Arch arch, const cs_insn& insn) {
  return arch == Arch::X86_64 ? x86_direct_jump_target(insn) : arm64_direct_jump_target(insn);
}

std::optional<uint64_t> direct_call_target(Arch arch, const cs_insn& insn) {
  return arch == Arch::X86_64 ? x86_direct_call_target(insn) : arm64_direct_call_target(insn);
}

Effect effect_of(Arch arch, csh handle, const cs_insn& insn) {
  return arch == Arch::X86_64 ? x86_effect(handle, insn) : arm64_effect(handle, insn);
}

std::unique_ptr<StackCheckTracker> tracker_for(Arch arch) {
  return arch == Arch::X86_64 ? x86_stack_tracker() : arm64_stack_tracker();
}

CodeSite site_of(Arch arch, const cs_insn& insn) {
  return CodeSite{insn.address, classify_decoded(arch, insn), insn_text(insn)};
}

// The entry walk over the first instructions (see code_analysis.h).
void find_entry_site(Arch arch, csh handle, const std::vector<Kept>& head, FunctionCode& out) {
  auto tracker = tracker_for(arch);
  const size_t limit = std::min(head.size(), kWalkLimit);
  for (size_t i = 0; i < limit; ++i) {
    const cs_insn& insn = head[i].insn;
    if (classify_decoded(arch, insn) == SiteKind::Emulated) {
      out.entry_site = site_of(arch, insn);
      std::vector<cs_insn> following;
      for (size_t j = i + 1; j < head.size() && j <= i + kLookahead; ++j) following.push_back(head[j].insn);
      out.stack_check = tracker->at_branch(insn, following);
      return;
    }
    Effect e = effect_of(arch, handle, insn);
    if (e.changes_state) {
      out.no_entry_site_reason =
          fmt::format("{:#x} `{}` {} before any emulated instruction", insn.address, insn_text(insn), e.what);
      return;
    }
    if (e.leaves_line) {
      out.no_entry_site_reason =
          fmt::format("{:#x} `{}` {} before any emulated instruction", insn.address, insn_text(insn), e.what);
      return;
    }
    tracker->step(insn);
  }
  if (head.empty()) {
    out.no_entry_site_reason = "the function has no decodable instruction at its entry";
  } else if (limit >= kWalkLimit) {
    out.no_entry_site_reason =
        fmt::format("no emulated instruction in the first {} instructions", kWalkLimit);
  } else {
    out.no_entry_site_reason = "the function ends (or stops decoding) before any emulated instruction";
  }
}

}  // namespace
}  // namespace disasm

FunctionCode analyze_function(Arch arch, std::span<const uint8_t> code, uint64_t entry) {
  using namespace disasm;
  FunctionCode out;
  out.entry = entry;
  out.end = entry + code.size();
  if (entry + code.size() < entry) {
    out.end = entry;
    out.decode_error = "the function's range wraps around the address space";
    out.no_entry_site_reason = out.decode_error;
    return out;
  }
  Decoder* decoder = Decoder::for_arch(arch);
  if (!decoder) {
    out.decode_error = fmt::format("no disassembler for architecture {}", arch_name(arch));
    out.no_entry_site_reason = out.decode_error;
    return out;
  }
  const unsigned step = arch_desc(arch)->min_insn_size;

  std::vector<Kept> head;  // the instructions from the entry up to the first undecodable one
  bool head_open = true;
  bool clean = true;
  size_t off = 0;
  while (off < code.size()) {
    uint64_t address = entry + off;
    std::span<const uint8_t> rest = code.subspan(off);
    const cs_insn* insn = rest.size() >= step ? decoder->decode(rest, address, false) : nullptr;
    if (!insn && arch == Arch::X86_64) {
      if (auto len = x86_vex_length(rest)) {
        // A VEX instruction Capstone 4 does not know: its length is certain,
        // its effects are not, so the entry walk stops here.
        out.instruction_starts.push_back(address);
        if (out.instruction_starts.size() == 1)
          out.first_instruction = CodeSite{address, SiteKind::SingleStepped, "(vex)"};
        head_open = false;
        off += *len;
        continue;
      }
    }
    if (!insn && arch == Arch::Arm64 && rest.size() >= 4) {
      const uint32_t word = read_le32(rest.data());
      if (const char* name = arm64_opaque_insn(word); name || (word >> 16) == 0) {
        // An LSE atomic Capstone 4 does not know (its effects unknown: the
        // entry walk stops here), or UDF #imm16 (top half zero): padding or
        // data after a function's last branch, never executed (e.g. 0x1218
        // after the final JMP of (*gcControllerState).startCycle, Go 1.19–1.21).
        out.instruction_starts.push_back(address);
        if (out.instruction_starts.size() == 1)
          out.first_instruction = CodeSite{address, SiteKind::SingleStepped, name ? name : "udf"};
        head_open = false;
        off += step;
        continue;
      }
    }
    if (!insn) {
      // Go's objdump prints "?" and moves on by the minimum instruction size.
      out.instruction_starts.push_back(address);
      if (out.instruction_starts.size() == 1)
        out.first_instruction = CodeSite{address, SiteKind::SingleStepped, "?"};
      if (clean) {
        out.decode_error =
            arch == Arch::Arm64 && rest.size() >= 4
                ? fmt::format(
                      "cannot decode the word {:#010x} at {:#x} (a literal pool, or an instruction "
                      "Capstone 4 does not know)",
                      read_le32(rest.data()), address)
                : fmt::format("cannot decode the bytes at {:#x}", address);
      }
      clean = false;
      head_open = false;
      off += std::min<size_t>(step, rest.size());
      continue;
    }
    out.instruction_starts.push_back(address);
    if (out.instruction_starts.size() == 1) out.first_instruction = site_of(arch, *insn);
    if (head_open) {
      const cs_insn* detailed =
          head.size() < kWalkLimit + kLookahead ? decoder->decode(rest, address, true) : nullptr;
      if (detailed && detailed->size == insn->size) {
        head.emplace_back().set(*detailed);
      } else {
        head_open = false;
      }
    }
    if (is_ret(arch, *insn)) out.rets.push_back(site_of(arch, *insn));
    if (auto target = direct_jump_target(arch, *insn); target && (*target < entry || *target >= out.end))
      out.tail_jumps.push_back(site_of(arch, *insn));
    if (auto target = direct_call_target(arch, *insn)) out.calls.push_back({site_of(arch, *insn), *target});
    off += insn->size;
  }
  out.decoded = clean && !out.instruction_starts.empty();
  if (out.instruction_starts.empty() && out.decode_error.empty())
    out.decode_error = "the function has no code";

  find_entry_site(arch, decoder->handle(), head, out);
  if (out.entry_site) out.no_entry_site_reason.clear();
  return out;
}

SiteKind classify_instruction(Arch arch, std::span<const uint8_t> insn_bytes) {
  using namespace disasm;
  Decoder* decoder = Decoder::for_arch(arch);
  if (!decoder || insn_bytes.empty()) return SiteKind::SingleStepped;
  const cs_insn* insn = decoder->decode(insn_bytes, 0, false);
  if (!insn) return SiteKind::SingleStepped;
  return classify_decoded(arch, *insn);
}

}  // namespace gotrace
