// find_global: the symbol table when there is one; otherwise the runtime code
// that uses the global. Each recipe below names a runtime function (found in
// .gopclntab, which stripped binaries keep), decodes its data references
// (disasm/data_refs.h) and picks the global's by how the code uses it, and
// checks that exactly one reference fits so a changed function fails loudly
// instead of answering wrong. The unit tests compare every recipe with the
// symbol on each Go release and build the fixtures cover.
#include "gotrace/gobin/runtime_globals.h"

#include <elf.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "gotrace/disasm/data_refs.h"
#include "gotrace/gobin/go_binary.h"

namespace gotrace {

std::string_view global_symbol(RtGlobal g) {
  switch (g) {
    case RtGlobal::Allglen:
      return "runtime.allglen";
    case RtGlobal::Allgptr:
      return "runtime.allgptr";
    case RtGlobal::Allgs:
      return "runtime.allgs";
    case RtGlobal::MemProfileRate:
      return "runtime.MemProfileRate";
    case RtGlobal::DisableMemoryProfiling:
      return "runtime.disableMemoryProfiling";
    case RtGlobal::Memstats:
      return "runtime.memstats";
    case RtGlobal::GcController:
      return "runtime.gcController";
    case RtGlobal::Work:
      return "runtime.work";
    case RtGlobal::Firstmoduledata:
      return "runtime.firstmoduledata";
    case RtGlobal::WaitReasonStrings:
      return "runtime.waitReasonStrings";
    case RtGlobal::Count:
      break;
  }
  return "?";
}

namespace {

using Refs = std::vector<DataRef>;
using Pick = Result<uint64_t> (*)(const GoBinary&, const Refs&);

// Writable at run time: in a PF_W segment and not in the part the loader
// makes read-only after relocation (PT_GNU_RELRO: a PIE's type data).
bool writable(const GoBinary& b, uint64_t vaddr) {
  const ElfSegment* s = b.elf().segment_of_vaddr(vaddr);
  if (!s || !(s->flags & PF_W)) return false;
  for (const auto& p : b.elf().segments())
    if (p.type == PT_GNU_RELRO && vaddr >= p.vaddr && vaddr - p.vaddr < p.memsz) return false;
  return true;
}

// runtime.allgadd appends to allgs (reads and writes allgs, allgs+8 and
// allgs+16), compares &allgs[0] with allgptr, stores allgptr and allglen,
// and locks and unlocks allglock around it all (its first reference).
std::optional<uint64_t> allgs_base(const Refs& refs) {
  std::set<uint64_t> t;
  for (const auto& r : refs)
    if (r.size == 8) t.insert(r.target);
  for (uint64_t x : t)
    if (t.count(x + 8) && t.count(x + 16)) return x;
  return std::nullopt;
}

Result<uint64_t> pick_allgs(const GoBinary&, const Refs& refs) {
  if (auto x = allgs_base(refs)) return *x;
  return make_error("no slice header (three adjacent words) is accessed");
}

std::optional<uint64_t> allgptr_in(const Refs& refs, uint64_t allgs) {
  for (const auto& r : refs)
    if (r.access == DataAccess::Read && r.size == 8 && (r.target < allgs || r.target >= allgs + 24))
      return r.target;
  return std::nullopt;
}

Result<uint64_t> pick_allgptr(const GoBinary&, const Refs& refs) {
  auto allgs = allgs_base(refs);
  if (!allgs) return make_error("no slice header (allgs) is accessed");
  if (auto p = allgptr_in(refs, *allgs)) return *p;
  return make_error("no word outside allgs is compared");
}

// allglen is stored (its address taken for the atomic store): of the
// writable words allgadd stores to or takes the address of, the one that is
// not allglock, allgs or allgptr. (It also reads the write-barrier flag and
// takes the addresses of read-only type data and panic strings.)
Result<uint64_t> pick_allglen(const GoBinary& b, const Refs& refs) {
  auto allgs = allgs_base(refs);
  if (!allgs || refs.empty()) return make_error("no slice header (allgs) is accessed");
  auto allgptr = allgptr_in(refs, *allgs);
  if (!allgptr) return make_error("no word outside allgs is compared");
  const uint64_t allglock = refs.front().target;
  std::set<uint64_t> rest;
  for (const auto& r : refs)
    if (r.access != DataAccess::Read && writable(b, r.target) && r.target != allglock &&
        r.target != *allgptr && (r.target < *allgs || r.target >= *allgs + 24))
      rest.insert(r.target);
  if (rest.size() != 1) return make_error("{} candidates for allglen, expected 1", rest.size());
  return *rest.begin();
}

// runtime.waitReason.String indexes the array: the one address it takes
// in writable data (the other is the "unknown wait reason" literal).
Result<uint64_t> pick_wait_reason_strings(const GoBinary& b, const Refs& refs) {
  std::set<uint64_t> t;
  for (const auto& r : refs)
    if (r.access == DataAccess::Address && writable(b, r.target)) t.insert(r.target);
  if (t.size() != 1) return make_error("{} addresses of writable data taken, expected 1", t.size());
  return *t.begin();
}

// runtime.schedinit (1.20+): `if disableMemoryProfiling { MemProfileRate = 0 }`,
// a byte test, a branch and an 8-byte store at most 16 bytes on (9 on amd64,
// 12 on arm64), the only such pair. Go 1.19 initialises MemProfileRate from
// defaultMemProfileRate() in runtime.init instead: a byte load and, 24 bytes
// on, the store.
Result<std::pair<uint64_t, uint64_t>> profiling_pair(const Refs& refs, uint64_t max_distance) {
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  for (size_t i = 0; i + 1 < refs.size(); ++i)
    if (refs[i].access == DataAccess::Read && refs[i].size == 1 && refs[i + 1].access == DataAccess::Write &&
        refs[i + 1].size == 8 && refs[i + 1].insn_address - refs[i].insn_address <= max_distance)
      pairs.emplace_back(refs[i].target, refs[i + 1].target);
  if (pairs.size() != 1)
    return make_error("{} byte tests followed closely by a word store, expected 1", pairs.size());
  return pairs.front();
}

template <uint64_t MaxDistance>
Result<uint64_t> pick_disable_mem_prof(const GoBinary&, const Refs& refs) {
  auto p = profiling_pair(refs, MaxDistance);
  if (!p) return p.error();
  return p->first;
}

template <uint64_t MaxDistance>
Result<uint64_t> pick_mem_profile_rate(const GoBinary&, const Refs& refs) {
  auto p = profiling_pair(refs, MaxDistance);
  if (!p) return p.error();
  return p->second;
}

// A function whose only address of writable data is the global
// (runtime.putfull: work.full.push(…), and work.full is work's first field;
// 1.24+ also takes the address of a read-only panic string).
Result<uint64_t> pick_only_address(const GoBinary& b, const Refs& refs) {
  std::set<uint64_t> t;
  for (const auto& r : refs)
    if (r.access == DataAccess::Address && writable(b, r.target)) t.insert(r.target);
  if (t.size() != 1) return make_error("{} addresses of writable data taken, expected 1", t.size());
  return *t.begin();
}

// The address a function takes most often, when one is clearly ahead
// (runtime.gcControllerCommit calls three methods on &gcController).
Result<uint64_t> pick_most_taken(const GoBinary&, const Refs& refs) {
  std::map<uint64_t, int> n;
  for (const auto& r : refs)
    if (r.access == DataAccess::Address) ++n[r.target];
  std::vector<std::pair<int, uint64_t>> by;
  for (auto [t, c] : n) by.emplace_back(c, t);
  std::sort(by.rbegin(), by.rend());
  if (by.empty() || by[0].first < 2 || (by.size() > 1 && by[1].first == by[0].first))
    return make_error("no address is taken more often than the others");
  return by[0].second;
}

struct Recipe {
  RtGlobal global;
  const char* function;
  Pick pick;
  int min_minor = 0;  // Go 1.<minor> range the recipe applies to
  int max_minor = 99;
};

const Recipe kRecipes[] = {
    {RtGlobal::Allglen, "runtime.allgadd", pick_allglen},
    {RtGlobal::Allgptr, "runtime.allgadd", pick_allgptr},
    {RtGlobal::Allgs, "runtime.allgadd", pick_allgs},
    {RtGlobal::WaitReasonStrings, "runtime.waitReason.String", pick_wait_reason_strings},
    {RtGlobal::DisableMemoryProfiling, "runtime.schedinit", pick_disable_mem_prof<16>, 20},
    {RtGlobal::DisableMemoryProfiling, "runtime.init", pick_disable_mem_prof<32>, 0, 19},
    {RtGlobal::MemProfileRate, "runtime.schedinit", pick_mem_profile_rate<16>, 20},
    {RtGlobal::MemProfileRate, "runtime.init", pick_mem_profile_rate<32>, 0, 19},
    {RtGlobal::Work, "runtime.putfull", pick_only_address},
    {RtGlobal::GcController, "runtime.gcControllerCommit", pick_most_taken},
    // (*mheap).grow brackets its updates with memstats.heapStats.acquire() and
    // release() (heapStats is mstats's first field).
    {RtGlobal::Memstats, "runtime.(*mheap).grow", pick_most_taken},
};

}  // namespace

Result<GlobalAddress> find_global_in_code(const GoBinary& binary, RtGlobal g) {
  if (g == RtGlobal::Firstmoduledata) {
    // The pclntab loader finds moduledata by the pointer to the table it holds.
    if (const auto& md = binary.pclntab().moduledata(); md && md->vaddr)
      return GlobalAddress{md->vaddr, "pclntab: moduledata"};
    return make_error(
        "runtime.firstmoduledata not found (no symbol table, and no moduledata points at the pclntab)");
  }
  // Recipes for the same global are tried in order; the first that fits wins.
  std::string why;
  const int minor = binary.version().minor;
  for (const Recipe& r : kRecipes) {
    if (r.global != g || minor < r.min_minor || minor > r.max_minor) continue;
    if (!why.empty()) why += "; ";
    auto fn = binary.pclntab().function_by_name(r.function);
    if (!fn) {
      why += fmt::format("{} is not in the pclntab", r.function);
      continue;
    }
    auto code = binary.elf().bytes_at_vaddr(fn->entry, fn->end - fn->entry);
    if (!code) {
      why += fmt::format("the code of {} is not in the file", r.function);
      continue;
    }
    auto at = r.pick(binary, data_references(binary.arch(), *code, fn->entry));
    if (at) return GlobalAddress{*at, fmt::format("code: {}", r.function)};
    why += fmt::format("the code of {} does not fit ({})", r.function, at.error().message);
  }
  if (why.empty()) why = "no way to find it in code";
  return make_error("{} not found: no symbol table, and {}", global_symbol(g), why);
}

Result<GlobalAddress> find_global(const GoBinary& binary, RtGlobal g) {
  if (const ElfSymbol* s = binary.elf().symbol(global_symbol(g)); s && s->value)
    return GlobalAddress{s->value, "symtab"};
  return find_global_in_code(binary, g);
}

}  // namespace gotrace
