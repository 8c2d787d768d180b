#include "gotrace/snapshot/gc_state.h"

#include <fmt/format.h>

#include "gotrace/gobin/go_binary.h"
#include "gotrace/gobin/runtime_globals.h"

namespace gotrace {

GcStatePlan plan_gc_state(const GoBinary& binary) {
  GcStatePlan plan;
  auto locate = [&](RtGlobal g) -> std::optional<uint64_t> {
    auto a = find_global(binary, g);
    if (!a) {
      plan.notes.push_back(a.error().message);
      return std::nullopt;
    }
    return a->vaddr;
  };
  plan.mem_profile_rate = locate(RtGlobal::MemProfileRate);
  plan.gc_controller = locate(RtGlobal::GcController);
  plan.memstats = locate(RtGlobal::Memstats);
  if (auto d = locate(RtGlobal::DisableMemoryProfiling)) {
    // Initialised to 1 in the file's data when profiling is off; in .bss
    // (no file bytes, zero) when it is on.
    auto b = binary.elf().bytes_at_vaddr(*d, 1);
    plan.profiling_disabled_in_file = b && (*b)[0] != 0;
  }
  std::optional<GoVersion> v;
  if (binary.version().major) v = binary.version();
  auto off = resolve_gc_offsets(binary.elf(), v);
  if (off)
    plan.offsets = *off;
  else
    plan.notes.push_back(off.error().message);
  return plan;
}

GcSnapshot read_gc_snapshot(const GcStatePlan& plan, const RemoteMemory& mem, uint64_t load_bias) {
  GcSnapshot s;
  std::vector<RemoteMemory::Request> reqs;
  std::vector<std::string> names;
  int64_t rate = 0;
  uint64_t live = 0, marked = 0, goal = 0, total = 0, ptotal = 0, lastgc = 0;
  uint32_t numgc = 0, forced = 0;
  std::array<uint64_t, kPauseRing> ring{};
  auto want = [&](std::optional<uint64_t> base, std::optional<GcField> f, void* dst, size_t len,
                  std::string name) {
    if (!base) return;
    int64_t off = 0;
    if (f) {
      if (!plan.offsets[*f].known()) {
        s.notes.push_back(fmt::format("{}: offset unknown", gc_field_name(*f)));
        return;
      }
      off = plan.offsets[*f].value;
    }
    reqs.push_back({*base + load_bias + static_cast<uint64_t>(off), dst, len, false});
    names.push_back(std::move(name));
  };
  want(plan.mem_profile_rate, std::nullopt, &rate, sizeof rate, "MemProfileRate");
  want(plan.gc_controller, GcField::HeapLive, &live, 8, "heapLive");
  want(plan.gc_controller, GcField::HeapMarked, &marked, 8, "heapMarked");
  want(plan.gc_controller, GcField::HeapGoal, &goal, 8, "heap goal");
  want(plan.gc_controller, GcField::TotalAlloc, &total, 8, "totalAlloc");
  want(plan.memstats, GcField::PauseTotalNs, &ptotal, 8, "pause_total_ns");
  want(plan.memstats, GcField::LastGcNanotime, &lastgc, 8, "last_gc_nanotime");
  want(plan.memstats, GcField::Numgc, &numgc, 4, "numgc");
  want(plan.memstats, GcField::Numforcedgc, &forced, 4, "numforcedgc");
  want(plan.memstats, GcField::PauseNs, ring.data(), sizeof ring, "pause_ns");
  mem.read_many(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (!reqs[i].ok) {
      s.notes.push_back(fmt::format("reading {} at {:#x} failed", names[i], reqs[i].addr));
      continue;
    }
    const void* d = reqs[i].dst;
    if (d == &rate)
      s.mem_profile_rate = rate;
    else if (d == &live)
      s.heap_live = live;
    else if (d == &marked)
      s.heap_marked = marked;
    else if (d == &goal)
      s.heap_goal = goal;
    else if (d == &total)
      s.total_alloc = total;
    else if (d == &ptotal)
      s.pause_total_ns = ptotal;
    else if (d == &lastgc)
      s.last_gc_nanotime = lastgc;
    else if (d == &numgc)
      s.numgc = numgc;
    else if (d == &forced)
      s.numforcedgc = forced;
    else if (d == ring.data())
      s.pause_ns = ring;
  }
  return s;
}

std::vector<uint64_t> GcSnapshot::pauses_since(const GcSnapshot& earlier, uint64_t* lost) const {
  std::vector<uint64_t> out;
  if (lost) *lost = 0;
  if (!numgc || !earlier.numgc || !pause_ns) return out;
  uint32_t n = *numgc - *earlier.numgc;  // wraps like the runtime's counter
  uint32_t keep = std::min<uint32_t>(n, kPauseRing);
  if (lost) *lost = n - keep;
  // Cycle k (1-based) wrote pause_ns[(k-1) % 256].
  for (uint32_t k = *numgc - keep + 1; keep > 0 && k != *numgc + 1; ++k)
    out.push_back((*pause_ns)[(k - 1) % kPauseRing]);
  return out;
}

}  // namespace gotrace
