// Entry-site analysis against Go's own disassembler: for every fixture and
// every runtime/main/sync function, our instruction boundaries and RETs must
// equal `go tool objdump`'s, each entry site must be an instruction start, and
// a function that opens with a stack check must get its branch as the site.
#include "gotrace/disasm/code_analysis.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/gobin/pclntab.h"
#include "gotrace/probes/runtime_roles.h"
#include "support/fixtures.h"

using namespace gotrace;
using gotrace::test::Fixture;

namespace {

// ---------------------------------------------------------------------------
// Ground truth: `go tool objdump`, parsed and cached on disk per fixture.

constexpr size_t kTextRows = 12;  // rows whose text is kept (prologue recognition)

struct OdRow {
  uint64_t addr = 0;
  bool ret = false;
  bool tail = false;               // an unconditional direct jump out of the function
  std::optional<uint64_t> target;  // of an unconditional direct jump (while parsing)
  bool vex = false;                // hex starts c4/c5/62: VEX/EVEX, which Go's x86 decoder does not know
  uint8_t len = 0;
  std::string text;  // only for the first kTextRows rows of a function
};
struct OdFunc {
  std::string name;
  std::vector<OdRow> rows;
};
using Objdump = std::vector<OdFunc>;

// Go 1.<minor> of a fixture, from the version `go version` printed.
int minor_of(const Fixture& f) {
  auto v = GoVersion::parse(f.version);
  REQUIRE(v);
  return v->minor;
}

const char* kObjdumpPattern = "^runtime\\.|^main\\.|^sync\\.|^internal/sync\\.";

std::string cache_dir() {
  const char* d = std::getenv("GOTRACE_TEST_CACHE");
  std::string dir = d ? d : "/tmp/gotrace-test-cache";
  std::filesystem::create_directories(dir);
  return dir;
}

std::string cache_key(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  uint64_t h = 1469598103934665603ull;
  for (char c : fmt::format("{}|{}|{}|{}|v5", path, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec)) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

void mark_tail_jumps(Objdump& od) {
  for (auto& f : od) {
    if (f.rows.empty()) continue;
    uint64_t begin = f.rows.front().addr, end = f.rows.back().addr + f.rows.back().len;
    for (auto& r : f.rows) r.tail = r.target && (*r.target < begin || *r.target >= end);
  }
}

// Go's objdump names a JMP's target "sym(SB)", "0xADDR" or "N(PC)" (arm64).
std::optional<uint64_t> go_jump_target(const OdFunc& f, const OdRow& row, const std::string& text) {
  static const std::regex hex(R"(^JMP (0x[0-9a-f]+)$)");
  static const std::regex pc(R"(^JMP (-?\d+)\(PC\)$)");
  static const std::regex sym(R"(^JMP (.+)\(SB\)$)");
  std::smatch m;
  if (std::regex_match(text, m, hex)) return std::stoull(m[1], nullptr, 16);
  if (std::regex_match(text, m, pc)) return row.addr + std::stoll(m[1]) * 4;
  if (std::regex_match(text, m, sym))
    return m[1] == f.name && !f.rows.empty() ? f.rows.front().addr : ~uint64_t{0};
  return std::nullopt;
}

Objdump parse_objdump(const std::string& out) {
  Objdump funcs;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("TEXT ", 0) == 0) {
      // "TEXT <name>(SB) <file>"; generic instantiations put spaces in names.
      size_t sb = line.rfind("(SB) ");
      if (sb == std::string::npos || sb < 5) sb = line.rfind("(SB)");
      std::string name = line.substr(5, sb == std::string::npos ? std::string::npos : sb - 5);
      funcs.push_back({name, {}});
      continue;
    }
    if (funcs.empty()) continue;
    std::vector<std::string> fields;
    std::string field;
    std::istringstream ls(line);
    while (std::getline(ls, field, '\t')) {
      size_t b = field.find_first_not_of(' '), e = field.find_last_not_of(' ');
      if (b != std::string::npos) fields.push_back(field.substr(b, e - b + 1));
    }
    if (fields.size() < 4) continue;
    OdRow row;
    row.addr = std::stoull(fields[1], nullptr, 16);
    row.ret = fields[3] == "RET" || fields[3].rfind("RET ", 0) == 0;
    row.vex = fields[2].rfind("c4", 0) == 0 || fields[2].rfind("c5", 0) == 0 || fields[2].rfind("62", 0) == 0;
    row.len = static_cast<uint8_t>(fields[2].size() / 2);
    row.target = go_jump_target(funcs.back(), row, fields[3]);
    if (funcs.back().rows.size() < kTextRows) row.text = fields[3];
    funcs.back().rows.push_back(std::move(row));
  }
  mark_tail_jumps(funcs);
  return funcs;
}

void save(const std::string& file, const Objdump& od) {
  std::ofstream out(file + ".tmp");
  for (const auto& f : od) {
    out << "T " << f.name << '\n';
    for (const auto& r : f.rows)
      out << std::hex << r.addr << std::dec << ' '
          << (r.ret    ? 'R'
              : r.tail ? 'J'
                       : '-')
          << ' ' << r.text << '\n';
  }
  out.close();
  std::filesystem::rename(file + ".tmp", file);
}

bool load(const std::string& file, Objdump& od) {
  std::ifstream in(file);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("T ", 0) == 0) {
      od.push_back({line.substr(2), {}});
      continue;
    }
    if (od.empty() || line.size() < 3) return false;
    OdRow r;
    size_t sp = line.find(' ');
    r.addr = std::stoull(line.substr(0, sp), nullptr, 16);
    r.ret = line[sp + 1] == 'R';
    r.tail = line[sp + 1] == 'J';
    if (line.size() > sp + 3) r.text = line.substr(sp + 3);
    od.back().rows.push_back(std::move(r));
  }
  return !od.empty();
}

// Go's x86 disassembler (golang.org/x/arch/x86asm) does not decode VEX or
// EVEX instructions (AVX code in memclr, memmove, indexbyte …): it prints
// garbage and loses the instruction boundaries after them. For those
// functions the boundaries come from GNU objdump instead, which decodes AVX.
void repair_vex_functions(const std::string& path, Objdump& od) {
  static const std::regex line(R"(^\s*([0-9a-f]+):\t(\S+)(.*)$)");
  for (auto& f : od) {
    if (std::none_of(f.rows.begin(), f.rows.end(), [](const OdRow& r) { return r.vex; })) continue;
    uint64_t start = f.rows.front().addr, stop = f.rows.back().addr + f.rows.back().len;
    auto r = test::run_command(
        fmt::format("objdump -d --no-show-raw-insn --start-address={:#x} --stop-address={:#x} {}", start,
                    stop, test::shell_quote(path)));
    REQUIRE(r.status == 0);
    std::vector<OdRow> rows;
    std::istringstream in(r.out);
    std::string l;
    std::smatch m;
    while (std::getline(in, l)) {
      if (!std::regex_match(l, m, line)) continue;
      OdRow row;
      row.addr = std::stoull(m[1], nullptr, 16);
      row.ret = m[2] == "ret" || m[2] == "retq";
      std::smatch j;
      static const std::regex jmp(R"(^\s+([0-9a-f]+)( <.*>)?$)");
      std::string operands = m[3];
      if ((m[2] == "jmp" || m[2] == "jmpq") && std::regex_match(operands, j, jmp))
        row.target = std::stoull(j[1], nullptr, 16);
      rows.push_back(std::move(row));
    }
    REQUIRE(!rows.empty());
    REQUIRE(rows.front().addr == start);
    // Keep Go's text for the prologue rows (they precede any AVX code).
    for (size_t i = 0; i < rows.size() && i < kTextRows && i < f.rows.size(); ++i)
      if (rows[i].addr == f.rows[i].addr && !f.rows[i].vex) rows[i].text = f.rows[i].text;
    f.rows = std::move(rows);
    uint64_t end = stop;
    for (auto& r : f.rows) r.tail = r.target && (*r.target < start || *r.target >= end);
  }
}

const Objdump& objdump_of(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, Objdump> memo;
  std::lock_guard lock(mu);
  if (auto it = memo.find(path); it != memo.end()) return it->second;
  Objdump od;
  std::string file = fmt::format("{}/objdump-{}.txt", cache_dir(), cache_key(path));
  if (!load(file, od)) {
    od.clear();
    auto r = test::run_command(fmt::format("{} tool objdump -s '{}' {}", test::go_command(), kObjdumpPattern,
                                           test::shell_quote(path)));
    REQUIRE(r.status == 0);
    od = parse_objdump(r.out);
    REQUIRE(!od.empty());
    repair_vex_functions(path, od);
    save(file, od);
  }
  return memo.emplace(path, std::move(od)).first->second;
}

// The default-variant fixture of the same release and architecture (the
// stripped build has no symbols for objdump; its code is laid out the same).
const Fixture& default_of(const Fixture& f) {
  for (const auto& g : test::fixtures())
    if (minor_of(g) == minor_of(f) && g.arch == f.arch && g.variant == "default" && g.program == f.program)
      return g;
  FAIL("no default fixture for " << f.label());
  throw 0;
}

// ---------------------------------------------------------------------------
// What objdump's text says about the prologue, independently of Capstone.

struct ExpectedCheck {
  size_t site_row = 0;  // index of the branch row the site must be
  uint64_t frame_adjust = 0;
  bool underflow = false;  // the site is the underflow check's JB/BCC, the guard's JBE/BLS follows
};

uint64_t hex_or_dec(const std::string& s) {
  return s.rfind("0x", 0) == 0 ? std::stoull(s, nullptr, 16) : std::stoull(s);
}

// Recognises Go's stack-check prologues in objdump text; nullopt if the
// function does not open with one. Sets `unknown` when it starts like one
// but continues in a way not listed here.
std::optional<ExpectedCheck> expected_check(const OdFunc& f, bool amd64, bool& unknown) {
  unknown = false;
  std::vector<std::string> t;
  for (const auto& r : f.rows) t.push_back(r.text);
  auto at = [&](size_t i) -> const std::string& {
    static const std::string empty;
    return i < t.size() ? t[i] : empty;
  };
  std::smatch m;
  if (amd64) {
    static const std::regex lea(R"(^LEAQ (0x[0-9a-f]+|-0x[0-9a-f]+)\(SP\), R12$)");
    static const std::regex subq(R"(^SUBQ \$(0x[0-9a-f]+|\d+), R12$)");
    if (at(0) == "CMPQ SP, 0x10(R14)") {
      if (at(1).rfind("JBE ", 0) == 0) return ExpectedCheck{1, 0};
    } else if (std::regex_match(at(0), m, lea) && at(1) == "CMPQ R12, 0x10(R14)") {
      std::string d = m[1];
      int64_t disp = d[0] == '-' ? -static_cast<int64_t>(std::stoull(d.substr(1), nullptr, 16))
                                 : static_cast<int32_t>(std::stoull(d, nullptr, 16));
      if (at(2).rfind("JBE ", 0) == 0) return ExpectedCheck{2, static_cast<uint64_t>(-disp)};
    } else if (at(0) == "MOVQ SP, R12" && std::regex_match(at(1), m, subq)) {
      if (at(2).rfind("JB ", 0) == 0 && at(3) == "CMPQ R12, 0x10(R14)" && at(4).rfind("JBE ", 0) == 0)
        return ExpectedCheck{2, hex_or_dec(m[1]), true};
    } else {
      return std::nullopt;
    }
    unknown = true;
    return std::nullopt;
  }
  if (at(0) != "MOVD 16(R28), R16") return std::nullopt;
  static const std::regex sub(R"(^SUBS? \$?(\d+), RSP, R17$)");
  static const std::regex movd(R"(^MOVD \$?(\d+), R27$)");
  static const std::regex movk(R"(^MOVK \$\((\d+)<<(\d+)\), R27$)");
  if (at(1) == "CMP R16, RSP" && at(2).rfind("BLS ", 0) == 0) return ExpectedCheck{2, 0};
  if (std::regex_match(at(1), m, sub)) {
    uint64_t n = std::stoull(m[1]);
    if (at(1).rfind("SUBS", 0) == 0) {
      if (at(2).rfind("BCC ", 0) == 0 && at(3) == "CMP R16, R17" && at(4).rfind("BLS ", 0) == 0)
        return ExpectedCheck{2, n, true};
    } else if (at(2) == "CMP R16, R17" && at(3).rfind("BLS ", 0) == 0) {
      return ExpectedCheck{3, n};
    }
  } else if (std::regex_match(at(1), m, movd)) {
    uint64_t n = std::stoull(m[1]);
    size_t i = 2;
    while (std::regex_match(at(i), m, movk)) {
      unsigned shift = std::stoul(m[2]);
      n = (n & ~(uint64_t{0xffff} << shift)) | (std::stoull(m[1]) << shift);
      ++i;
    }
    if (at(i) == "SUBS R27, RSP, R17" && at(i + 1).rfind("BCC ", 0) == 0 && at(i + 2) == "CMP R16, R17" &&
        at(i + 3).rfind("BLS ", 0) == 0)
      return ExpectedCheck{i + 1, n, true};
  }
  unknown = true;
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Function bounds: ELF .symtab when present, else the pclntab.

struct Bounds {
  uint64_t entry = 0;
  uint64_t size = 0;
};

class FixtureCode {
 public:
  explicit FixtureCode(const Fixture& f) : fixture_(f) {
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    image_ = std::move(*img);
    if (!image_->has_symtab()) {
      auto p = Pclntab::load(*image_);
      INFO(f.label() << ": " << (p.ok() ? "" : p.error().message));
      REQUIRE(p.ok());
      pclntab_ = std::move(*p);
    }
  }
  const ElfImage& image() const { return *image_; }
  Arch arch() const { return image_->arch(); }

  std::optional<Bounds> bounds(const std::string& name) const {
    if (pclntab_) {
      auto fn = pclntab_->function_by_name(name);
      if (!fn) return std::nullopt;
      return Bounds{fn->entry, fn->end - fn->entry};
    }
    const ElfSymbol* s = image_->symbol(name);
    if (!s) return std::nullopt;
    return Bounds{s->value, s->size};
  }

  std::optional<FunctionCode> analyze(const std::string& name) const {
    auto b = bounds(name);
    if (!b) return std::nullopt;
    auto bytes = image_->bytes_at_vaddr(b->entry, b->size);
    if (!bytes) return std::nullopt;
    return analyze_function(arch(), *bytes, b->entry);
  }

 private:
  const Fixture& fixture_;
  std::unique_ptr<ElfImage> image_;
  std::unique_ptr<Pclntab> pclntab_;
};

bool stats_wanted() { return std::getenv("GOTRACE_CODE_STATS") != nullptr; }

}  // namespace

TEST_CASE("analysis agrees with go tool objdump on every function of every fixture", "[code]") {
  // The analyze fixture: the static-analysis program, in every release,
  // architecture and build variant.
  for (const auto& f : test::fixtures_of("analyze")) {
    // PIE and cgo builds on the releases whose every build the runtime
    // tests trace (go tool objdump of each took CI seconds; the others are
    // decoded by the cheaper tests below, on every fixture).
    if (!test::key_release(f.minor) && (f.variant == "pie" || f.variant == "cgo")) continue;
    const Fixture& truth_fixture = f.variant == "stripped" ? default_of(f) : f;
    const Objdump& od = objdump_of(truth_fixture.path);
    FixtureCode code(f);
    const bool amd64 = code.arch() == Arch::X86_64;
    const bool relative = &truth_fixture != &f;  // compare offsets from the entry

    size_t checked = 0, with_site = 0, with_check = 0, check_funcs = 0;
    std::vector<std::string> problems;
    std::map<std::string, int> no_site, undecoded;
    auto problem = [&](std::string s) {
      if (problems.size() < 20)
        problems.push_back(std::move(s));
      else if (problems.size() == 20)
        problems.push_back("…");
    };

    // Every function of the default build, every second of the stripped one
    // (same code, bounds from the pclntab), every fourth of the PIE and cgo
    // builds (their code differs only where addresses are loaded), on the
    // releases whose every build the runtime tests trace; half as many on
    // the releases between them. The offset rotates with the release so
    // each function is seen somewhere.
    const size_t base = f.variant == "default" ? 1 : f.variant == "stripped" ? 2 : 4;
    const size_t stride = test::key_release(f.minor) ? base : 2 * base;
    const size_t first = static_cast<size_t>(minor_of(f)) % stride;
    size_t sampled = 0;
    for (size_t k = first; k < od.size(); k += stride) {
      const OdFunc& fn = od[k];
      ++sampled;
      if (fn.rows.empty()) continue;
      auto analyzed = code.analyze(fn.name);
      if (!analyzed) {
        problem(fmt::format("{}: no bounds for it", fn.name));
        continue;
      }
      const FunctionCode& fc = *analyzed;
      ++checked;
      const uint64_t truth_entry = fn.rows.front().addr;
      auto ours = [&](uint64_t a) { return a - fc.entry; };
      auto theirs = [&](uint64_t a) { return a - truth_entry; };

      // Instruction boundaries: equal, except that a pclntab range may run on
      // into the padding after the function (INT3 on amd64).
      std::vector<uint64_t> expected, got;
      for (const auto& r : fn.rows) expected.push_back(relative ? theirs(r.addr) : r.addr);
      uint64_t truth_end = relative ? theirs(fn.rows.back().addr) + 1 : fn.rows.back().addr + 1;
      for (uint64_t a : fc.instruction_starts) {
        uint64_t v = relative ? ours(a) : a;
        if (v < truth_end)
          got.push_back(v);
        else if (auto b = code.image().bytes_at_vaddr(a, 1); !b || ((*b)[0] != 0xcc && (*b)[0] != 0))
          problem(fmt::format("{}: instruction at {:#x} beyond objdump's end is not padding", fn.name, a));
      }
      if (got != expected) {
        size_t i = 0;
        while (i < got.size() && i < expected.size() && got[i] == expected[i]) ++i;
        problem(fmt::format("{}: {} starts vs objdump {}; first difference at #{} ({:#x} vs {:#x})", fn.name,
                            got.size(), expected.size(), i, i < got.size() ? got[i] : 0,
                            i < expected.size() ? expected[i] : 0));
      }

      std::vector<uint64_t> rets_expected, rets_got;
      for (const auto& r : fn.rows)
        if (r.ret) rets_expected.push_back(relative ? theirs(r.addr) : r.addr);
      for (const auto& r : fc.rets) rets_got.push_back(relative ? ours(r.address) : r.address);
      if (rets_got != rets_expected)
        problem(fmt::format("{}: {} RETs vs objdump's {}", fn.name, rets_got.size(), rets_expected.size()));

      std::vector<uint64_t> tails_expected, tails_got;
      for (const auto& r : fn.rows)
        if (r.tail) tails_expected.push_back(relative ? theirs(r.addr) : r.addr);
      for (const auto& t : fc.tail_jumps) {
        uint64_t v = relative ? ours(t.address) : t.address;
        if (v < truth_end) tails_got.push_back(v);
      }
      if (tails_got != tails_expected)
        problem(fmt::format("{}: {} tail jumps vs objdump's {}", fn.name, tails_got.size(),
                            tails_expected.size()));

      std::set<uint64_t> starts(expected.begin(), expected.end());
      if (fc.entry_site) {
        ++with_site;
        uint64_t s = relative ? ours(fc.entry_site->address) : fc.entry_site->address;
        if (!starts.count(s))
          problem(fmt::format("{}: entry site {:#x} is not an instruction start", fn.name, s));
        if (fc.entry_site->kind != SiteKind::Emulated)
          problem(fmt::format("{}: entry site `{}` is not emulated", fn.name, fc.entry_site->text));
      } else {
        std::string reason = fc.no_entry_site_reason;
        if (reason.empty()) problem(fmt::format("{}: no entry site and no reason", fn.name));
        // Group reasons by what happened, not where.
        auto tick = reason.find('`');
        auto tick2 = reason.find('`', tick + 1);
        no_site[tick2 != std::string::npos ? reason.substr(tick2 + 2) : reason]++;
      }
      if (fc.stack_check) ++with_check;
      if (!fc.decoded) {
        std::string why = fc.decode_error;
        if (auto sp = why.rfind("0x"); sp != std::string::npos) {
          uint64_t a = std::stoull(why.substr(sp), nullptr, 16);
          if (auto b = code.image().bytes_at_vaddr(a, 4))
            why = fmt::format("undecodable {:02x}{:02x}{:02x}{:02x}", (*b)[3], (*b)[2], (*b)[1], (*b)[0]);
        }
        undecoded[why]++;
      }

      bool unknown = false;
      auto exp = expected_check(fn, amd64, unknown);
      if (unknown)
        problem(fmt::format("{}: a stack-check prologue this test does not know: {} / {} / {}", fn.name,
                            fn.rows[0].text, fn.rows.size() > 1 ? fn.rows[1].text : "",
                            fn.rows.size() > 2 ? fn.rows[2].text : ""));
      if (exp) {
        ++check_funcs;
        uint64_t want = relative ? theirs(fn.rows[exp->site_row].addr) : fn.rows[exp->site_row].addr;
        if (!fc.entry_site) {
          problem(fmt::format("{}: stack check but no entry site ({})", fn.name, fc.no_entry_site_reason));
        } else {
          uint64_t s = relative ? ours(fc.entry_site->address) : fc.entry_site->address;
          if (s != want || s == (relative ? 0 : fc.entry))
            problem(fmt::format("{}: site {:#x} `{}`, objdump's branch is {:#x} `{}`", fn.name, s,
                                fc.entry_site->text, want, fn.rows[exp->site_row].text));
          if (!fc.stack_check)
            problem(fmt::format("{}: stack check not recognised at `{}`", fn.name, fc.entry_site->text));
          else if (fc.stack_check->underflow_site != exp->underflow)
            problem(fmt::format("{}: underflow site {}, objdump says {}", fn.name,
                                fc.stack_check->underflow_site, exp->underflow));
          else if (fc.stack_check->frame_adjust != exp->frame_adjust || fc.stack_check->guard_offset != 16)
            problem(fmt::format("{}: frame_adjust {} guard {}, objdump says {} / 16", fn.name,
                                fc.stack_check->frame_adjust, fc.stack_check->guard_offset,
                                exp->frame_adjust));
        }
      } else if (fc.stack_check) {
        problem(fmt::format("{}: stack_check claimed at `{}` but objdump shows no stack-check prologue ({})",
                            fn.name, fc.entry_site ? fc.entry_site->text : "?", fn.rows[0].text));
      }
    }
    INFO(f.label() << ": " << checked << " functions, problems:\n"
                   << fmt::format("{}", fmt::join(problems, "\n")));
    CHECK(checked == sampled);
    CHECK(check_funcs > sampled / 2);  // most Go functions open with a stack check
    CHECK(problems.empty());
    if (stats_wanted()) {
      fmt::print("{}: {} functions, {} with an entry site, {} stack checks ({} expected from objdump)\n",
                 f.label(), checked, with_site, with_check, check_funcs);
      for (auto& [why, n] : no_site) fmt::print("    no site x{}: {}\n", n, why);
      for (auto& [why, n] : undecoded) fmt::print("    not decoded x{}: {}\n", n, why);
    }
  }
}

TEST_CASE("core runtime functions have an emulated stack-check entry site in every fixture", "[code]") {
  const ProbeRole core[] = {ProbeRole::Gopark,
                            ProbeRole::Ready,
                            ProbeRole::Semrelease1,
                            ProbeRole::Newproc1,
                            ProbeRole::Goexit0,
                            ProbeRole::Gdestroy,
                            ProbeRole::Mallocgc,
                            ProbeRole::Semacquire1,
                            ProbeRole::SemacquireMutex,
                            ProbeRole::SemacquireRWMutexR,
                            ProbeRole::SemacquireRWMutex,
                            ProbeRole::SemacquireWaitGroup,
                            ProbeRole::SyncSemacquire,
                            ProbeRole::Mapassign,
                            ProbeRole::MapassignFast32,
                            ProbeRole::MapassignFast64,
                            ProbeRole::MapassignFast64ptr,
                            ProbeRole::MapassignFaststr,
                            ProbeRole::Profilealloc,
                            ProbeRole::AllocLarge,
                            ProbeRole::Refill,
                            ProbeRole::HashGrow,
                            ProbeRole::MapGrowToSmall,
                            ProbeRole::MapGrowToTable,
                            ProbeRole::MapTableRehash,
                            ProbeRole::GcStart,
                            ProbeRole::GcStartCycle,
                            ProbeRole::StopTheWorld,
                            ProbeRole::StartTheWorld,
                            ProbeRole::GcPauseEnd,
                            ProbeRole::Execute};
  for (const auto& f : test::fixtures()) {
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    auto tab = Pclntab::load(**img);
    REQUIRE(tab.ok());
    for (ProbeRole role : core) {
      auto symbol = expected_symbol(role, minor_of(f));
      if (!symbol) continue;  // not in this release
      // Functions linked only when used: the analyze fixture uses them all.
      if (!role_spec(role).always_linked && f.program != "analyze") continue;
      auto fn = (*tab)->function_by_name(*symbol);
      INFO(f.label() << " " << *symbol);
      REQUIRE(fn);
      auto bytes = (*img)->bytes_at_vaddr(fn->entry, fn->end - fn->entry);
      REQUIRE(bytes);
      FunctionCode fc = analyze_function((*img)->arch(), *bytes, fn->entry);
      INFO("first `" << fc.first_instruction.text << "`; " << fc.no_entry_site_reason);
      REQUIRE(fc.entry_site);
      CHECK(fc.entry_site->kind == SiteKind::Emulated);
      CHECK(fc.entry_site->address != fn->entry);
      // A //go:systemstack function compares stackguard1 (0x18(R14)), which
      // is not a morestack check gotrace models; it runs on g0 only, where
      // the branch is never taken.
      if (role == ProbeRole::StopTheWorld && minor_of(f) >= 23)
        CHECK(!fc.stack_check);
      else
        CHECK(fc.stack_check);
      CHECK(fc.first_instruction.kind == SiteKind::SingleStepped);
    }
  }
}

TEST_CASE("every role's function decodes completely, and the required ones have a cheap site",
          "[code][roles]") {
  // With GOTRACE_CODE_STATS set it also prints which roles have no cheap
  // entry site and why.
  for (const auto& f : test::fixtures()) {
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    auto tab = Pclntab::load(**img);
    REQUIRE(tab.ok());
    for (const auto& spec : all_roles()) {
      auto version = GoVersion::parse(f.version);
      auto symbol = resolve_role(spec.role, version, **tab);
      if (!symbol) continue;
      auto fn = (*tab)->function_by_name(*symbol);
      REQUIRE(fn);
      auto bytes = (*img)->bytes_at_vaddr(fn->entry, fn->end - fn->entry);
      REQUIRE(bytes);
      FunctionCode fc = analyze_function((*img)->arch(), *bytes, fn->entry);
      INFO(f.label() << " " << *symbol << ": " << fc.decode_error);
      CHECK(fc.decoded);
      // What every trace needs (block's park and wake, lock's release and
      // hand-over) sits on an emulated stack-check branch on amd64.
      if (f.arch == "amd64" &&
          (spec.role == ProbeRole::Gopark || spec.role == ProbeRole::Ready ||
           spec.role == ProbeRole::Semrelease1 || spec.role == ProbeRole::ReadyWithTime)) {
        REQUIRE(fc.entry_site);
        CHECK(fc.entry_site->kind == SiteKind::Emulated);
        CHECK(fc.stack_check);
      }
      if (stats_wanted() && (!fc.entry_site || !fc.stack_check))
        fmt::print("{} {}: {}\n", f.label(), *symbol,
                   fc.entry_site ? fmt::format("site `{}` without a stack check", fc.entry_site->text)
                                 : fc.no_entry_site_reason);
    }
  }
}

namespace {
SiteKind classify_bytes(Arch arch, std::initializer_list<uint8_t> b) {
  std::vector<uint8_t> v(b);
  return classify_instruction(arch, v);
}
SiteKind classify_word(uint32_t w) {
  std::vector<uint8_t> v = {static_cast<uint8_t>(w), static_cast<uint8_t>(w >> 8),
                            static_cast<uint8_t>(w >> 16), static_cast<uint8_t>(w >> 24)};
  return classify_instruction(Arch::Arm64, v);
}
constexpr auto E = SiteKind::Emulated;
constexpr auto S = SiteKind::SingleStepped;
}  // namespace

TEST_CASE("x86-64 classification follows arch/x86/kernel/uprobes.c and the measured costs", "[code]") {
  const Arch X = Arch::X86_64;
  // Measured (README): JBE, PUSH, NOP, CALL cheap (emulated); CMP, MOV, SUB, RET not.
  CHECK(classify_bytes(X, {0x76, 0x10}) == E);                          // JBE rel8
  CHECK(classify_bytes(X, {0x0f, 0x86, 0xdc, 0x00, 0x00, 0x00}) == E);  // JBE rel32
  CHECK(classify_bytes(X, {0xe8, 0x10, 0x00, 0x00, 0x00}) == E);        // CALL rel32
  CHECK(classify_bytes(X, {0x55}) == E);                                // PUSH RBP
  CHECK(classify_bytes(X, {0x90}) == E);                                // NOP
  CHECK(classify_bytes(X, {0xc3}) == S);                                // RET
  CHECK(classify_bytes(X, {0x48, 0x3b, 0x66, 0x10}) == S);              // CMP RSP, 0x10(RSI)
  CHECK(classify_bytes(X, {0x49, 0x3b, 0x66, 0x10}) == S);              // CMP RSP, 0x10(R14)
  CHECK(classify_bytes(X, {0x48, 0x89, 0xe5}) == S);                    // MOV RBP, RSP
  CHECK(classify_bytes(X, {0x48, 0x83, 0xec, 0x10}) == S);              // SUB RSP, 0x10
  // The rest of branch_setup_xol_ops / push_setup_xol_ops.
  CHECK(classify_bytes(X, {0xeb, 0x05}) == E);                             // JMP rel8
  CHECK(classify_bytes(X, {0xe9, 0, 0, 0, 0}) == E);                       // JMP rel32
  CHECK(classify_bytes(X, {0x72, 0x05}) == E);                             // JB rel8
  CHECK(classify_bytes(X, {0x0f, 0x82, 0, 0, 0, 0}) == E);                 // JB rel32
  CHECK(classify_bytes(X, {0x41, 0x54}) == E);                             // PUSH R12
  CHECK(classify_bytes(X, {0x48, 0x55}) == S);                             // REX.W PUSH: not 0x41
  CHECK(classify_bytes(X, {0x66, 0x90}) == E);                             // NOP2
  CHECK(classify_bytes(X, {0x0f, 0x1f, 0x00}) == E);                       // NOP3
  CHECK(classify_bytes(X, {0x0f, 0x1f, 0x44, 0x00, 0x00}) == E);           // NOP5
  CHECK(classify_bytes(X, {0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0}) == E);        // NOP8
  CHECK(classify_bytes(X, {0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0}) == S);  // 9-byte NOP: not in x86_nops
  CHECK(classify_bytes(X, {0x0f, 0x1f, 0x40, 0x08}) == S);                 // NOPL 8(AX): not canonical
  CHECK(classify_bytes(X, {0xf3, 0x90}) == E);                             // PAUSE: prefix + 0x90
  CHECK(classify_bytes(X, {0x41, 0x90}) == S);              // XCHG R8, RAX (kernel would skip it)
  CHECK(classify_bytes(X, {0x66, 0xe8, 0, 0}) == S);        // CALLW: refused
  CHECK(classify_bytes(X, {0x3e, 0x74, 0x05}) == S);        // DS-prefixed JE: bad prefix
  CHECK(classify_bytes(X, {0xff, 0xe0}) == S);              // JMP RAX
  CHECK(classify_bytes(X, {0xff, 0xd0}) == S);              // CALL RAX
  CHECK(classify_bytes(X, {0xf0, 0x0f, 0xb1, 0x0a}) == S);  // LOCK CMPXCHG
  CHECK(classify_bytes(X, {}) == S);
  CHECK(classify_bytes(X, {0x0f}) == S);  // truncated
}

TEST_CASE("arm64 classification follows arch/arm64/kernel/probes/decode-insn.c", "[code]") {
  CHECK(classify_word(0x54000709) == E);  // B.LS
  CHECK(classify_word(0x540006e3) == E);  // B.LO (BCC)
  CHECK(classify_word(0xf9400b90) == S);  // LDR X16, [X28, #16]
  CHECK(classify_word(0xeb3063ff) == S);  // CMP SP, X16
  CHECK(classify_word(0xd10043f1) == S);  // SUB X17, SP, #16
  CHECK(classify_word(0xd65f03c0) == E);  // RET
  CHECK(classify_word(0xd65f0360) == E);  // RET X27
  CHECK(classify_word(0xd503201f) == E);  // NOP (6.13+)
  CHECK(classify_word(0xd503233f) == S);  // PACIASP: a hint, not NOP
  CHECK(classify_word(0xa9bf7bfd) == S);  // STP X29, X30, [SP, #-16]!: not simulated
  CHECK(classify_word(0xf81e0ffe) == S);  // STR X30, [SP, #-32]!
  CHECK(classify_word(0x94000010) == E);  // BL
  CHECK(classify_word(0x14000010) == E);  // B
  CHECK(classify_word(0xb4000040) == E);  // CBZ X0
  CHECK(classify_word(0x35000040) == E);  // CBNZ W0
  CHECK(classify_word(0x36000040) == E);  // TBZ
  CHECK(classify_word(0xb7f80040) == E);  // TBNZ X0, #63
  CHECK(classify_word(0x90000000) == E);  // ADRP X0
  CHECK(classify_word(0x10000000) == E);  // ADR X0
  CHECK(classify_word(0xd63f0200) == E);  // BLR X16
  CHECK(classify_word(0xd61f0200) == E);  // BR X16
  CHECK(classify_word(0x58000050) == S);  // LDR literal: refused since 6.12
  CHECK(classify_word(0xc85f7c20) == S);  // LDXR: exclusive, refused
  CHECK(classify_word(0xd65f0bff) == S);  // RETAA: pointer authentication, refused
  CHECK(classify_word(0x00000000) == S);  // UDF / padding
}

TEST_CASE("analysis survives random and mutated code", "[code]") {
  std::mt19937_64 rng(0x5eed);
  std::vector<std::pair<Arch, std::vector<uint8_t>>> seeds;
  for (const char* arch : {"amd64", "arm64"}) {
    const Fixture f = test::fixtures_of("analyze", arch).front();
    auto img = ElfImage::open(f.path);
    REQUIRE(img.ok());
    auto tab = Pclntab::load(**img);
    REQUIRE(tab.ok());
    for (const char* name : {"runtime.gopark", "runtime.mallocgc", "runtime.mapassign_faststr"}) {
      auto fn = (*tab)->function_by_name(name);
      REQUIRE(fn);
      auto bytes = (*img)->bytes_at_vaddr(fn->entry, fn->end - fn->entry);
      REQUIRE(bytes);
      seeds.emplace_back((*img)->arch(), std::vector<uint8_t>(bytes->begin(), bytes->end()));
    }
  }
  // The first broken invariant, or "" (one assertion per case keeps this fast).
  auto broken_invariant = [](const FunctionCode& fc, size_t size, uint64_t entry) -> std::string {
    if (fc.entry != entry) return "entry";
    const auto& st = fc.instruction_starts;
    for (size_t i = 0; i < st.size(); ++i) {
      if (st[i] < entry || st[i] >= entry + size) return fmt::format("start {:#x} outside the code", st[i]);
      if (i && st[i] <= st[i - 1]) return "starts not increasing";
    }
    auto is_start = [&](uint64_t a) { return std::binary_search(st.begin(), st.end(), a); };
    if (fc.entry_site && !is_start(fc.entry_site->address)) return "entry site not a start";
    if (!fc.entry_site && fc.no_entry_site_reason.empty()) return "no site and no reason";
    for (const auto& r : fc.rets)
      if (!is_start(r.address)) return "ret not a start";
    for (const auto& t : fc.tail_jumps)
      if (!is_start(t.address)) return "tail jump not a start";
    if (!fc.decoded && fc.decode_error.empty()) return "not decoded and no error";
    return "";
  };
  for (int iter = 0; iter < 3000; ++iter) {
    auto [arch, bytes] = seeds[iter % seeds.size()];
    switch (iter % 4) {
      case 0:  // flip bytes
        for (int k = 0; k < 1 + static_cast<int>(rng() % 16); ++k) bytes[rng() % bytes.size()] = rng();
        break;
      case 1:  // truncate
        bytes.resize(rng() % (bytes.size() + 1));
        break;
      case 2:  // random bytes of a random length
        bytes.resize(rng() % 600);
        for (auto& b : bytes) b = rng();
        break;
      default:  // cut from the front (misaligned start)
        bytes.erase(bytes.begin(), bytes.begin() + std::min<size_t>(bytes.size(), rng() % 13));
        break;
    }
    uint64_t entry = 0x400000 + (rng() % 0x1000);
    FunctionCode fc = analyze_function(arch, bytes, entry);
    std::string broken = broken_invariant(fc, bytes.size(), entry);
    INFO("iteration " << iter << ", " << bytes.size() << " bytes");
    REQUIRE(broken == "");
  }
  // Ranges at the top of the address space, empty code, an unknown arch.
  std::vector<uint8_t> some(64, 0x90);
  auto top = analyze_function(Arch::X86_64, some, ~uint64_t{0} - 10);
  CHECK(!top.decoded);
  CHECK(!analyze_function(Arch::X86_64, {}, 0x1000).decoded);
  CHECK(!analyze_function(Arch::Other, some, 0x1000).decoded);
}
