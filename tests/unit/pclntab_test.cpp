// Pclntab against the Go toolchain's own answers, over every fixture:
// `go tool objdump` (function and innermost file:line per instruction),
// `go tool addr2line`, the ELF symbol table, and the runtime's own inline
// expansion (runtime.CallersFrames, printed by the fixture's -stack mode).
#include "gotrace/gobin/pclntab.h"

#include <elf.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "gotrace/gobin/go_version.h"
#include "support/fixtures.h"

using namespace gotrace;
using gotrace::test::Fixture;

namespace {

// Go 1.<minor> of a fixture, from what `go version` printed.
int minor_of(const Fixture& fx) {
  auto v = GoVersion::parse(fx.version);
  return v ? v->minor : 0;
}
std::string label(const Fixture& fx) {
  return fmt::format("{}/{}-{}/{}", fx.version, fx.arch, fx.variant, fx.program);
}

struct Loaded {
  std::unique_ptr<ElfImage> image;
  std::unique_ptr<Pclntab> table;
};

// One parse per fixture for the whole run.
const Loaded& loaded(const Fixture& fx) {
  static std::map<std::string, Loaded> cache;
  auto it = cache.find(fx.path);
  if (it != cache.end()) return it->second;
  Loaded l;
  auto img = ElfImage::open(fx.path);
  INFO(label(fx));
  REQUIRE(img.ok());
  l.image = std::move(*img);
  auto t = Pclntab::load(*l.image);
  if (!t) FAIL(label(fx) << ": " << t.error().message);
  l.table = std::move(*t);
  return cache.emplace(fx.path, std::move(l)).first->second;
}

PclntabFormat expected_format(int minor) {
  if (minor <= 17) return PclntabFormat::Go116;
  if (minor <= 19) return PclntabFormat::Go118;
  return PclntabFormat::Go120;
}

// --- tool output, cached on disk per (command, fixture file) ----------------

std::string cache_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/gotrace-test-cache";
}

std::string cache_file(const std::string& cmd, const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  std::string key = fmt::format("{}|{}|{}|{}", cmd, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  return fmt::format("{}/pclntab-{:016x}.txt", cache_dir(), std::hash<std::string>{}(key));
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// Runs the commands whose output is not cached yet, several at a time.
void prefetch(const std::vector<std::pair<std::string, std::string>>& jobs) {  // (command, fixture path)
  std::filesystem::create_directories(cache_dir());
  std::string script;
  int n = 0;
  for (const auto& [cmd, path] : jobs) {
    std::string file = cache_file(cmd, path);
    if (std::filesystem::exists(file)) continue;
    script += fmt::format("( {} > {}.tmp.$$ && mv {}.tmp.$$ {} ) &\n", cmd, file, file, file);
    if (++n % 4 == 0) script += "wait\n";
  }
  if (n == 0) return;
  script += "wait\n";
  std::string script_path = fmt::format("{}/pclntab-prefetch-{}.sh", cache_dir(), getpid());
  std::ofstream(script_path) << script;
  test::run_command("bash " + test::shell_quote(script_path) + " >/dev/null 2>&1");
  std::filesystem::remove(script_path);
}

std::string tool_output(const std::string& cmd, const std::string& path) {
  std::string file = cache_file(cmd, path), out;
  if (read_file(file, out)) return out;
  auto r = test::run_command(cmd);
  INFO(cmd);
  REQUIRE(r.status == 0);
  std::filesystem::create_directories(cache_dir());
  std::ofstream(file) << r.out;
  return r.out;
}

// The functions whose instructions are compared with objdump: main, sync and
// a set of large, inline-heavy runtime functions (thousands of instructions).
const char* kObjdumpRegex =
    "^(main\\.|sync\\.|internal/sync\\.|runtime\\.(gopark|mallocgc|newproc1|schedule|findRunnable|chansend|"
    "selectgo|casgstatus|goexit0|netpoll|memmove|rt0_go)$)";

std::string objdump_cmd(const Fixture& fx) {
  return fmt::format("{} tool objdump -s {} {}", test::go_command(), test::shell_quote(kObjdumpRegex),
                     test::shell_quote(fx.path));
}

bool has_symtab(const Fixture& fx) { return fx.variant != "stripped"; }

std::string_view basename(std::string_view p) {
  auto s = p.rfind('/');
  return s == std::string_view::npos ? p : p.substr(s + 1);
}

// Does a symbol-table (or objdump) name denote the function the table calls
// `ours`? The symbol table spells some names differently: assembly is
// "X.abi0", duplicate local symbols get a ".N" suffix, and before 1.20 the
// table abbreviates type arguments to "[...]" and writes "·" where the
// symbol table has ".".
bool same_function(std::string_view elf, std::string_view ours) {
  if (elf.ends_with("(SB)")) elf.remove_suffix(4);
  auto matches = [](std::string_view e, std::string_view o) {
    size_t i = 0, j = 0;
    while (i < e.size() && j < o.size()) {
      if (o.substr(j).starts_with("[...]") && e[i] == '[') {
        int depth = 0;
        do {
          depth += e[i] == '[' ? 1 : e[i] == ']' ? -1 : 0;
          ++i;
        } while (i < e.size() && depth > 0);
        if (depth != 0) return false;
        j += 5;
      } else if (o.substr(j).starts_with("\u00b7") && e[i] == '.') {
        j += 2, ++i;
      } else if (e[i] == o[j]) {
        ++i, ++j;
      } else {
        return false;
      }
    }
    return i == e.size() && j == o.size();
  };
  if (matches(elf, ours)) return true;
  if (elf.ends_with(".abi0") && matches(elf.substr(0, elf.size() - 5), ours)) return true;
  auto dot = elf.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == elf.size()) return false;
  for (char c : elf.substr(dot + 1))
    if (c < '0' || c > '9') return false;
  return matches(elf.substr(0, dot), ours);
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    out.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool is_go_text_symbol(const ElfSymbol& s, uint64_t text, uint64_t etext) {
  return s.type == STT_FUNC && s.value >= text && s.value < etext && s.name != "runtime.text" &&
         s.name != "runtime.etext";
}

// Deterministic PCs spread over the whole function table.
std::vector<uint64_t> sample_pcs(const Pclntab& t, size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  uint64_t lo = t.function_by_index(0).entry, hi = t.function_by_index(t.function_count() - 1).end;
  std::vector<uint64_t> pcs;
  for (size_t i = 0; i < n; ++i) pcs.push_back(lo + rng() % (hi - lo));
  for (size_t i = 0; i < t.function_count(); i += 97) pcs.push_back(t.function_by_index(i).entry);
  return pcs;
}

std::string frames_text(const std::vector<GoFrame>& fs) {
  std::string s;
  for (const auto& f : fs)
    s += fmt::format("[{} {}:{}{}] ", f.function, f.file, f.line, f.inlined ? " inl" : "");
  return s;
}

}  // namespace

TEST_CASE("pclntab: every fixture loads with the format, quantum and moduledata of its build", "[pclntab]") {
  for (const auto& fx : test::fixtures()) {
    INFO(label(fx));
    const auto& [image, t] = loaded(fx);
    CHECK(t->format() == expected_format(minor_of(fx)));
    CHECK(t->pc_quantum() == (fx.arch == "arm64" ? 4u : 1u));
    CHECK(t->ptr_size() == 8u);
    CHECK(t->function_count() > 1000);
    REQUIRE(t->moduledata().has_value());
    const ModuleData& md = *t->moduledata();
    CHECK(md.text == t->text_start());
    // The last function ends at etext, or in 1.26 at most one alignment unit before it.
    uint64_t end = t->function_by_index(t->function_count() - 1).end;
    CHECK(end <= md.etext);
    CHECK(md.etext - end < 32);
    // The PIE builds of 1.19–1.25 keep the table in a relocated section.
    bool rel_ro = fx.variant == "pie" && minor_of(fx) <= 25;
    CHECK(t->source() == (rel_ro ? ".data.rel.ro.gopclntab" : ".gopclntab"));
    if (has_symtab(fx)) {
      auto sym = [&](const char* name) -> uint64_t {
        const ElfSymbol* s = image->symbol(name);
        INFO(name);
        REQUIRE(s);
        return s->value;
      };
      CHECK(t->table_vaddr() == sym("runtime.pclntab"));
      CHECK(md.vaddr == sym("runtime.firstmoduledata"));
      CHECK(t->text_start() == sym("runtime.text"));
      CHECK(md.etext == sym("runtime.etext"));
      CHECK(md.types == sym("runtime.types"));
      CHECK(md.etypes == sym("runtime.etypes"));
      if (minor_of(fx) >= 18)
        CHECK(md.gofunc == sym(minor_of(fx) >= 20 ? "go:func.*" : "go.func.*"));
      else
        CHECK(md.gofunc == 0);  // 1.16/1.17: funcdata are absolute pointers
    }
  }
}

TEST_CASE("pclntab: the function table agrees with the ELF symbol table", "[pclntab]") {
  for (const auto& fx : test::fixtures()) {
    if (!has_symtab(fx)) continue;
    INFO(label(fx));
    const auto& [image, t] = loaded(fx);
    const uint64_t text = t->text_start(), etext = t->moduledata()->etext;
    size_t bad_at = 0, bad_by_name = 0;
    std::set<std::pair<std::string, uint64_t>> go_syms;  // .symtab and .dynsym may both list one
    std::string examples;
    for (const auto& s : image->symbols()) {
      if (!is_go_text_symbol(s, text, etext) || !go_syms.emplace(s.name, s.value).second) continue;
      auto f = t->function_at(s.value);
      if (!f || f->entry != s.value || !same_function(s.name, f->name)) {
        if (bad_at++ < 5) examples += fmt::format("at {:#x} {}: {}; ", s.value, s.name, f ? f->name : "-");
        continue;
      }
      // By name: exact for every symbol whose name the table has (all but
      // the ".N"-renamed duplicates of local symbols).
      std::string_view key = s.name;
      if (f->name != key && !(key.size() == f->name.size() + 5 && key.substr(f->name.size()) == ".abi0"))
        continue;
      auto byname = t->function_by_name(s.name);
      if (!byname || byname->entry != s.value) {
        if (bad_by_name++ < 5)
          examples += fmt::format("by name {}: {:#x}; ", s.name, byname ? byname->entry : 0);
      }
    }
    INFO(examples);
    CHECK(go_syms.size() == t->function_count());
    CHECK(bad_at == 0);
    CHECK(bad_by_name == 0);
    // Entries are sorted and ends are the next entries.
    bool sorted = true;
    for (size_t i = 0; i + 1 < t->function_count(); ++i) {
      auto a = t->function_by_index(i), b = t->function_by_index(i + 1);
      sorted = sorted && a.entry < b.entry && a.end == b.entry && a.index == i;
    }
    CHECK(sorted);
  }
}

TEST_CASE("pclntab: stripped builds list the same functions as their unstripped siblings", "[pclntab]") {
  size_t compared = 0;
  for (const auto& fx : test::fixtures()) {
    if (fx.variant != "stripped") continue;
    INFO(label(fx));
    const Fixture* sibling = nullptr;
    for (const auto& o : test::fixtures())
      if (minor_of(o) == minor_of(fx) && o.arch == fx.arch && o.program == fx.program &&
          o.variant == "default")
        sibling = &o;
    REQUIRE(sibling);
    const auto& a = *loaded(fx).table;
    const auto& b = *loaded(*sibling).table;
    REQUIRE(a.function_count() == b.function_count());
    size_t diff = 0;
    for (size_t i = 0; i < a.function_count(); ++i) {
      auto fa = a.function_by_index(i), fb = b.function_by_index(i);
      if (fa.name != fb.name || fa.entry - a.text_start() != fb.entry - b.text_start()) ++diff;
    }
    CHECK(diff == 0);
    // The moduledata found without symbols reads in the layout of the
    // sibling's (whose words are checked against its symbols above).
    // (Addresses and the type data's size may differ: the links differ.)
    REQUIRE(a.moduledata());
    REQUIRE(b.moduledata());
    CHECK(std::string_view(a.moduledata()->layout) == b.moduledata()->layout);
    CHECK((a.moduledata()->gofunc != 0) == (b.moduledata()->gofunc != 0));
    ++compared;
  }
  CHECK(compared > 0);
}

TEST_CASE("pclntab: function and file:line of each instruction match go tool objdump", "[pclntab]") {
  // One program per release and build (rotating): the table's encoding is
  // the release's and the build's, and objdump of every fixture took a
  // minute and a half of CI. Every fixture's table is still checked
  // against its ELF symbols below.
  const auto sample = test::tool_sample();
  std::vector<std::pair<std::string, std::string>> jobs;
  for (const auto& fx : sample)
    if (has_symtab(fx)) jobs.emplace_back(objdump_cmd(fx), fx.path);
  prefetch(jobs);
  for (const auto& fx : sample) {
    if (!has_symtab(fx)) continue;
    INFO(label(fx));
    const auto& t = *loaded(fx).table;
    std::string out = tool_output(objdump_cmd(fx), fx.path);
    std::string_view current;
    size_t lines_seen = 0, insns = 0, bad = 0, inlined_pcs = 0;
    std::string examples;
    std::vector<GoFrame> frames;
    for (std::string_view line : lines_of(out)) {
      if (line.starts_with("TEXT ")) {
        // "TEXT name(SB) file": names may contain spaces ("go.shape.interface {}").
        auto sb = line.rfind("(SB)");
        REQUIRE(sb != std::string_view::npos);
        current = line.substr(5, sb - 5);
        continue;
      }
      auto tok = split_ws(line);
      if (tok.size() < 3 || tok[1].substr(0, 2) != "0x") continue;
      if (++lines_seen % 2) continue;  // every other instruction is plenty
      uint64_t pc = std::stoull(std::string(tok[1]), nullptr, 16);
      auto colon = tok[0].rfind(':');
      std::string_view file = tok[0].substr(0, colon);
      int want_line =
          colon == std::string_view::npos ? -1 : std::atoi(std::string(tok[0].substr(colon + 1)).c_str());
      ++insns;
      auto lo = t.line_of(pc);
      t.symbolize(pc, frames);
      bool ok = lo && same_function(current, lo->function) && basename(lo->file) == file &&
                lo->line == want_line && !frames.empty() && frames.front().file == lo->file &&
                frames.front().line == lo->line && frames.back().function == lo->function &&
                !frames.back().inlined;
      for (size_t i = 0; ok && i + 1 < frames.size(); ++i)
        ok = frames[i].inlined && !frames[i].function.empty();
      if (frames.size() > 1) ++inlined_pcs;
      if (!ok && bad++ < 5)
        examples += fmt::format("{:#x} objdump {} {}:{} ours {}; ", pc, current, file, want_line,
                                frames_text(frames));
    }
    INFO(examples);
    CHECK(insns > 2000);
    CHECK(bad == 0);
    CHECK(inlined_pcs > 100);  // the sample does exercise inline expansion
  }
}

TEST_CASE("pclntab: function and file:line agree with go tool addr2line", "[pclntab]") {
  auto cmd_for = [](const Fixture& fx, const Pclntab& t) {
    std::string list;
    for (uint64_t pc : sample_pcs(t, 300, 7)) list += fmt::format("{:#x}\\n", pc);
    return fmt::format("printf '{}' | {} tool addr2line {}", list, test::go_command(),
                       test::shell_quote(fx.path));
  };
  const auto sample = test::tool_sample();  // one program per release and build, rotating
  std::vector<std::pair<std::string, std::string>> jobs;
  for (const auto& fx : sample) jobs.emplace_back(cmd_for(fx, *loaded(fx).table), fx.path);
  prefetch(jobs);
  for (const auto& fx : sample) {
    INFO(label(fx));
    const auto& t = *loaded(fx).table;
    auto pcs = sample_pcs(t, 300, 7);
    const std::string out = tool_output(cmd_for(fx, t), fx.path);
    auto lines = lines_of(out);
    REQUIRE(lines.size() >= 2 * pcs.size());
    size_t bad = 0;
    std::string examples;
    for (size_t i = 0; i < pcs.size(); ++i) {
      std::string_view name = lines[2 * i], pos = lines[2 * i + 1];
      auto colon = pos.rfind(':');
      std::string_view file = pos.substr(0, colon);
      int line = std::stoi(std::string(pos.substr(colon + 1)));
      if (line < 0) line = 0;  // a PC no line table covers (padding after a function)
      auto lo = t.line_of(pcs[i]);
      bool ok = lo && lo->function == name && lo->file == file && lo->line == line;
      if (!ok && bad++ < 5)
        examples += fmt::format("{:#x} addr2line {} {} ours {} {}:{}; ", pcs[i], name, pos,
                                lo ? lo->function : "-", lo ? lo->file : "", lo ? lo->line : 0);
    }
    INFO(examples);
    CHECK(bad == 0);
  }
}

TEST_CASE("pclntab: inline expansion matches runtime.CallersFrames in the running fixture", "[pclntab]") {
  for (const auto& fx : test::fixtures_of("analyze", "amd64")) {  // amd64: they run here
    INFO(label(fx));
    const auto& t = *loaded(fx).table;
    auto r = test::run_command(test::shell_quote(fx.path) + " -stack");
    REQUIRE(r.status == 0);
    struct RtFrame {
      uint64_t pc;
      std::string function, file;
      int line;
    };
    std::vector<RtFrame> rt;
    uint64_t anchor = 0;
    for (std::string_view line : lines_of(r.out)) {
      auto tok = split_ws(line);
      if (tok.size() == 2 && tok[0] == "anchor") anchor = std::stoull(std::string(tok[1]), nullptr, 16);
      if (tok.size() == 5 && tok[0] == "frame")
        rt.push_back({std::stoull(std::string(tok[1]), nullptr, 16), std::string(tok[2]), std::string(tok[3]),
                      std::stoi(std::string(tok[4]))});
    }
    REQUIRE(anchor != 0);
    REQUIRE(rt.size() >= 6);
    auto main_fn = t.function_by_name("main.main");
    REQUIRE(main_fn);
    const uint64_t bias = anchor - main_fn->entry;
    if (fx.variant == "pie")
      CHECK(bias != 0);
    else
      CHECK(bias == 0);

    // For each PC, our expansion of pc-1 must equal the runtime's frames from
    // that PC on, and end where some PC's frames end (runtime.Callers lists
    // one PC per inlined frame, CallersFrames then yields one frame each).
    bool saw_inner = false, saw_middle = false;
    for (size_t i = 0; i < rt.size(); ++i) {
      if (i > 0 && rt[i].pc == rt[i - 1].pc) continue;
      auto ours = t.symbolize(rt[i].pc - 1 - bias);
      INFO(fmt::format("pc {:#x} ours {}", rt[i].pc, frames_text(ours)));
      REQUIRE(!ours.empty());
      REQUIRE(i + ours.size() <= rt.size());
      for (size_t k = 0; k < ours.size(); ++k) {
        const RtFrame& want = rt[i + k];
        INFO(fmt::format("frame {}: runtime {} {}:{}", k, want.function, want.file, want.line));
        CHECK(ours[k].function == want.function);
        CHECK(ours[k].file == want.file);
        CHECK(ours[k].line == want.line);
        CHECK(ours[k].inlined == (k + 1 < ours.size()));
        if (ours[k].function == "main.inlinedInner" && ours[k].inlined) saw_inner = true;
        if (ours[k].function == "main.inlinedMiddle" && ours[k].inlined) saw_middle = true;
      }
      size_t next = i + ours.size();
      CHECK((next == rt.size() || rt[next].pc != rt[next - 1].pc));
    }
    CHECK(saw_inner);
    CHECK(saw_middle);
  }
}

TEST_CASE("pclntab: sp_delta is 0 at entry and the frame size inside", "[pclntab]") {
  for (const auto& fx : test::fixtures_of("analyze")) {
    INFO(label(fx));
    const auto& t = *loaded(fx).table;
    for (const char* name : {"runtime.mallocgc", "main.outerCaller", "runtime.schedule"}) {
      INFO(name);
      auto f = t.function_by_name(name);
      REQUIRE(f);
      CHECK(t.sp_delta(f->entry) == 0);
      // Somewhere inside, the frame is allocated (positive, pointer-aligned).
      int32_t max = 0;
      for (uint64_t pc = f->entry; pc < f->end; pc += t.pc_quantum())
        max = std::max(max, t.sp_delta(pc).value_or(0));
      CHECK(max > 0);
      CHECK(max % 8 == 0);
    }
    CHECK_FALSE(t.function_at(0).has_value());
    CHECK_FALSE(t.function_by_name("no.such.function").has_value());
    CHECK(t.symbolize(1).empty());
  }
}

TEST_CASE("pclntab: files without section headers are found by scanning the segments", "[pclntab]") {
  for (const auto& fx : test::fixtures()) {
    INFO(label(fx));
    const auto& [image, t] = loaded(fx);
    auto bytes = image->file_bytes();
    std::vector<uint8_t> copy(bytes.begin(), bytes.end());
    REQUIRE(copy.size() > 64);
    REQUIRE(copy[EI_CLASS] == ELFCLASS64);
    std::fill(copy.begin() + offsetof(Elf64_Ehdr, e_shoff), copy.begin() + offsetof(Elf64_Ehdr, e_shoff) + 8,
              0);
    std::fill(copy.begin() + offsetof(Elf64_Ehdr, e_shnum), copy.begin() + offsetof(Elf64_Ehdr, e_shnum) + 4,
              0);
    auto bare = ElfImage::from_bytes(std::move(copy), "sectionless");
    REQUIRE(bare.ok());
    REQUIRE((*bare)->sections().empty());
    auto s = Pclntab::load(**bare);
    if (!s) FAIL(s.error().message);
    const Pclntab& u = **s;
    CHECK(u.source() == "scan of PT_LOAD segments");
    CHECK(u.table_vaddr() == t->table_vaddr());
    CHECK(u.text_start() == t->text_start());
    CHECK(u.function_count() == t->function_count());
    REQUIRE(u.moduledata().has_value());
    CHECK(u.moduledata()->vaddr == t->moduledata()->vaddr);
    CHECK(u.moduledata()->gofunc == t->moduledata()->gofunc);
    size_t diff = 0;
    for (uint64_t pc : sample_pcs(*t, 200, 3))
      if (frames_text(u.symbolize(pc)) != frames_text(t->symbolize(pc))) ++diff;
    CHECK(diff == 0);
  }
}

TEST_CASE("pclntab: non-Go and truncated files fail with a message", "[pclntab]") {
  auto self = ElfImage::open("/proc/self/exe");
  REQUIRE(self.ok());
  auto r = Pclntab::load(**self);
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().message.find("no Go pclntab found") != std::string::npos);

  const auto& fx = test::fixtures().front();
  const auto& [image, t] = loaded(fx);
  auto table = image->bytes_from_vaddr(t->table_vaddr());
  // A Go 1.2–1.15 header is named as such.
  std::vector<uint8_t> old(table.begin(), table.begin() + 64);
  old[0] = 0xfb;
  auto r12 = Pclntab::load(*image, old, t->table_vaddr());
  REQUIRE_FALSE(r12.ok());
  CHECK(r12.error().message.find("Go 1.2–1.15") != std::string::npos);
  for (size_t n : {0, 4, 8, 40, 72, 4096}) {
    auto rt = Pclntab::load(*image, table.first(n), t->table_vaddr());
    INFO(n);
    CHECK_FALSE(rt.ok());
  }
}

namespace {

// Every query on a table that loaded from corrupt bytes must stay in bounds.
void exercise(const Pclntab& t, std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
  std::vector<GoFrame> frames;
  size_t n = t.function_count();
  for (int k = 0; k < 40; ++k) {
    uint64_t pc = lo + rng() % (hi - lo + 64);
    t.symbolize(pc, frames);
    for (const auto& f : frames) (void)(f.function.size() + f.file.size());
    (void)t.line_of(pc);
    (void)t.sp_delta(pc);
    (void)t.function_at(pc);
    if (n) (void)t.function_by_index(rng() % n);
  }
  if (rng() % 8 == 0) (void)t.function_by_name("runtime.mallocgc");  // builds the whole name index
  (void)t.function_by_index(n);  // out of range: an empty GoFunc, not a crash
}

}  // namespace

TEST_CASE("pclntab: corrupt tables fail or answer without crashing", "[pclntab]") {
  // One amd64 table of each format (and so each inline-record size), and the
  // newest arm64 PIE.
  std::vector<Fixture> picks;
  std::set<PclntabFormat> formats;
  for (const auto& fx : test::fixtures())
    if (fx.arch == "amd64" && fx.variant == "default" && formats.insert(expected_format(minor_of(fx))).second)
      picks.push_back(fx);
  for (auto it = test::fixtures().rbegin(); it != test::fixtures().rend(); ++it)
    if (it->arch == "arm64" && it->variant == "pie") {
      picks.push_back(*it);
      break;
    }
  REQUIRE(picks.size() >= 2);
  size_t loaded_ok = 0, failed = 0;
  for (const auto& fx : picks) {
    INFO(label(fx));
    const auto& [image, t] = loaded(fx);
    const uint64_t lo = t->text_start(), hi = t->moduledata()->etext;
    const ElfSection* sec = image->section(std::string(t->source()));
    REQUIRE(sec);
    auto orig = image->section_bytes(*sec);
    std::mt19937_64 rng(0x9c1a + minor_of(fx));
    for (int iter = 0; iter < 1500; ++iter) {
      std::vector<uint8_t> bytes(orig.begin(), orig.end());
      int kind = iter % 4;
      if (kind == 0) {
        bytes.resize(rng() % bytes.size());
      } else {
        // Flip bytes, mostly in the header and the function table, where a
        // single change has the widest reach.
        int flips = 1 + rng() % 8;
        size_t region = kind == 1 ? 128 : kind == 2 ? std::min<size_t>(bytes.size(), 1 << 16) : bytes.size();
        for (int f = 0; f < flips; ++f) bytes[rng() % region] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
      auto r = Pclntab::load(*image, bytes, t->table_vaddr());
      if (!r) {
        ++failed;
        CHECK_FALSE(r.error().message.empty());
        continue;
      }
      ++loaded_ok;
      exercise(**r, rng, lo, hi);
    }
    // Whole-file corruption: the locating code (sections, scan) must hold up too.
    auto file = image->file_bytes();
    for (int iter = 0; iter < 60; ++iter) {
      std::vector<uint8_t> bytes(file.begin(), file.end());
      if (iter % 3 == 0) {
        // Drop the section headers, then corrupt: exercises the scan.
        std::fill(bytes.begin() + offsetof(Elf64_Ehdr, e_shoff),
                  bytes.begin() + offsetof(Elf64_Ehdr, e_shoff) + 8, 0);
        std::fill(bytes.begin() + offsetof(Elf64_Ehdr, e_shnum),
                  bytes.begin() + offsetof(Elf64_Ehdr, e_shnum) + 4, 0);
      }
      uint64_t table_off = *image->vaddr_to_file_offset(t->table_vaddr());
      for (int f = 0; f < 16; ++f) {
        size_t at = iter % 2 ? table_off + rng() % 4096 : rng() % bytes.size();
        if (at < bytes.size()) bytes[at] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
      auto img = ElfImage::from_bytes(std::move(bytes), "corrupt");
      if (!img) continue;
      auto r = Pclntab::load(**img);
      if (r) exercise(**r, rng, lo, hi);
    }
  }
  // Both outcomes occur, so both paths were exercised.
  CHECK(loaded_ok > 100);
  CHECK(failed > 100);
}
