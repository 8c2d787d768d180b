#include "gotrace/probes/reason_filter.h"

#include <fmt/format.h>

#include <algorithm>

namespace gotrace {

namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool in_category(std::string_view cat, std::string_view name) {
  if (cat == "all") return true;
  if (cat == "chan") return name.starts_with("chan ");
  if (cat == "select") return name.starts_with("select");
  if (cat == "mutex")
    return name.starts_with("sync.Mutex") || name.starts_with("sync.RWMutex") || name == "semacquire";
  if (cat == "cond") return name.starts_with("sync.Cond");
  if (cat == "waitgroup") return name.starts_with("sync.WaitGroup") || name == "semacquire";
  if (cat == "sema") return name == "semacquire" || name.starts_with("sync.");
  if (cat == "io") return name == "IO wait";
  if (cat == "sleep") return name == "sleep";
  if (cat == "gc")
    return contains(name, "GC") || contains(name, "garbage collection") || contains(name, "finalizer") ||
           contains(name, "force gc") || contains(name, "sweep") || contains(name, "scavenge");
  return false;
}

// The runtime's background goroutines idling: not what a user asks about.
bool runtime_idle(std::string_view name) {
  static constexpr std::string_view kIdle[] = {
      "GC worker (idle)",       "GC worker (active)",     "GC sweep wait",
      "GC scavenge wait",       "finalizer wait",         "force gc (idle)",
      "timer goroutine (idle)", "trace reader (blocked)", "GOMAXPROCS updater (idle)",
      "cleanup wait",           "flushing proc caches",   "trace goroutine status",
      "trace proc status",      "page trace flush",       "GC weak to strong wait"};
  return std::find(std::begin(kIdle), std::end(kIdle), name) != std::end(kIdle);
}

}  // namespace

std::vector<std::string> reason_categories() {
  return {"chan", "select", "mutex", "cond", "waitgroup", "sema", "io", "sleep", "gc", "all"};
}

bool mask_has(const ReasonMask& m, unsigned reason) {
  return reason < 256 && ((m[reason / 64] >> (reason % 64)) & 1);
}

ReasonMask reason_mask_where(const WaitReasons& reasons,
                             const std::function<bool(const std::string&)>& pred) {
  ReasonMask m{};
  for (size_t i = 0; i < reasons.names.size() && i < 256; ++i)
    if (pred(reasons.names[i])) m[i / 64] |= uint64_t{1} << (i % 64);
  return m;
}

Result<ReasonMask> reason_mask(const WaitReasons& reasons, const std::vector<std::string>& selection) {
  ReasonMask m{};
  for (const auto& sel : selection)
    if (sel.empty())
      return make_error("empty wait reason in --reason (categories: {})",
                        fmt::join(reason_categories(), ", "));
  auto set = [&](size_t i) { m[i / 64] |= uint64_t{1} << (i % 64); };
  if (selection.empty()) {
    for (size_t i = 0; i < reasons.names.size() && i < 256; ++i)
      if (!runtime_idle(reasons.names[i])) set(i);
    // Values past the known table (a newer runtime) are kept.
    for (size_t i = reasons.names.size(); i < 256; ++i) set(i);
    return m;
  }
  auto cats = reason_categories();
  for (const auto& sel : selection) {
    bool is_cat = std::find(cats.begin(), cats.end(), sel) != cats.end();
    bool matched = false;
    for (size_t i = 0; i < reasons.names.size() && i < 256; ++i) {
      if (is_cat ? in_category(sel, reasons.names[i]) : reasons.names[i] == sel) {
        set(i);
        matched = true;
      }
    }
    if (sel == "all") {
      for (size_t i = 0; i < 256; ++i) set(i);
      matched = true;
    }
    if (!matched && !is_cat)
      return make_error(
          "unknown wait reason '{}' (categories: {}; or a runtime name such as \"chan receive\")", sel,
          fmt::join(cats, ", "));
  }
  return m;
}

}  // namespace gotrace
