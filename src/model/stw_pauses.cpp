// Stop-the-world pauses from the runtime's events (stw_pauses.h).
#include "gotrace/model/stw_pauses.h"

#include <fmt/format.h>

#include <iterator>
#include <optional>

namespace gotrace {

std::string stw_reason_name(uint32_t r) {
  static const char* const names[] = {"unknown",
                                      "GC mark termination",
                                      "GC sweep termination",
                                      "write heap dump",
                                      "goroutine profile",
                                      "goroutine profile cleanup",
                                      "all goroutines stack trace",
                                      "read mem stats",
                                      "AllThreadsSyscall",
                                      "GOMAXPROCS",
                                      "start trace",
                                      "stop trace"};
  if (r < std::size(names)) return names[r];
  return fmt::format("reason {}", r);
}

std::vector<StwPause> pair_stw_pauses(const std::vector<const StwEvent*>& stw,
                                      const std::function<std::string(uint32_t)>& reason_name,
                                      uint64_t& unpaired) {
  std::vector<StwPause> out;
  const StwEvent* stop = nullptr;
  std::optional<uint64_t> end_inside;            // a PauseEnd while the world was stopped
  std::optional<uint64_t> last_began;            // of out.back(), while a PauseEnd may still end it
  const uint64_t kMaxPause = 60'000'000'000ULL;  // a runtime time beyond this is not this pause's
  auto ends = [&](uint64_t began, uint64_t end) { return end >= began && end - began <= kMaxPause; };
  for (const StwEvent* e : stw) {
    if (e->kind == GcEventKind::PauseEnd) {
      if (stop || !last_began)
        end_inside = e->arg2;
      else if (ends(*last_began, e->arg2))
        out.back().ns = e->arg2 - *last_began;
      last_began.reset();
      continue;
    }
    if (e->kind == GcEventKind::StwStop) {
      if (stop) ++unpaired;
      stop = e;
      end_inside.reset();
      last_began.reset();
      continue;
    }
    // A start: 1.22+ says when stopping began; else the stop we saw.
    uint64_t began = e->arg2 && e->arg2 <= e->t_ns ? e->arg2 : (stop ? stop->t_ns : 0);
    if (!began || began > e->t_ns) {
      ++unpaired;
      stop = nullptr;
      continue;
    }
    uint32_t reason = stop && stop->arg != kStwReasonUnknown ? stop->arg : e->arg;
    StwPause p;
    p.ns = e->t_ns - began;
    p.reason = reason == kStwReasonUnknown || !reason_name ? "unknown" : reason_name(reason);
    p.began_ns = began;
    if (end_inside && ends(began, *end_inside)) {
      p.ns = *end_inside - began;
      last_began.reset();
    } else {
      last_began = began;
    }
    out.push_back(std::move(p));
    stop = nullptr;
    end_inside.reset();
  }
  if (stop) ++unpaired;
  return out;
}

}  // namespace gotrace
