#include "gotrace/model/stack_table.h"

#include <fmt/format.h>

#include "gotrace/model/runtime_waits.h"

namespace gotrace {

bool is_std_function(std::string_view name) {
  // Package path = everything before the first '.' that follows the last '/'.
  size_t slash = name.rfind('/', name.find('('));
  size_t dot = name.find('.', slash == std::string_view::npos ? 0 : slash);
  std::string_view pkg = name.substr(0, dot);
  if (pkg == "main" || pkg.empty()) return false;
  std::string_view first = pkg.substr(0, pkg.find('/'));
  return first.find('.') == std::string_view::npos;  // no domain: the standard library
}

void StackTable::add(uint64_t id, std::vector<uint64_t> pcs) { raw_[id] = std::move(pcs); }

const std::vector<Frame>& StackTable::frames(uint64_t id) {
  auto it = symbolized_.find(id);
  if (it != symbolized_.end()) return it->second;
  std::vector<Frame> out;
  auto raw = raw_.find(id);
  if (raw != raw_.end()) {
    std::vector<GoFrame> tmp;
    for (size_t i = 0; i < raw->second.size(); ++i) {
      uint64_t pc = raw->second[i];
      uint64_t lookup = pc - bias_ - (i == 0 ? 0 : 1);
      tmp.clear();
      pclntab_.symbolize(lookup, tmp);
      if (tmp.empty()) {
        out.push_back({"?", fmt::format("{:#x}", pc), 0, false, pc});
        continue;
      }
      for (const auto& f : tmp)
        out.push_back({std::string(f.function), std::string(f.file), f.line, f.inlined, pc});
    }
  }
  return symbolized_.emplace(id, std::move(out)).first->second;
}

std::optional<size_t> StackTable::headline_index(uint64_t id) {
  const auto& fs = frames(id);
  // The compiler's wrapper for a deferred call (`defer mu.Unlock()` runs in
  // f.deferwrap1) is not what the user wrote: name its caller, f.
  for (size_t i = 0; i < fs.size(); ++i)
    if (!is_std_function(fs[i].function) &&
        !(fs[i].function.find(".deferwrap") != std::string::npos && i + 1 < fs.size()))
      return i;
  // All standard library (net/http's own goroutines, timers …): the function
  // the goroutine was started with says the most.
  for (size_t i = fs.size(); i-- > 0;) {
    const std::string& f = fs[i].function;
    if (f == "runtime.main" || f.find(".gowrap") != std::string::npos || is_runtime_trampoline(f)) continue;
    return i;
  }
  if (fs.empty()) return std::nullopt;
  return 0;
}

size_t StackTable::first_shown(uint64_t id) {
  const auto& fs = frames(id);
  const size_t headline = headline_index(id).value_or(0);
  return headline > 0 && !is_std_function(fs[headline].function) ? headline - 1 : 0;
}

std::string StackTable::shown_key(uint64_t id) {
  const auto& fs = frames(id);
  if (fs.empty()) return "#" + std::to_string(id);
  std::string k;
  for (size_t i = first_shown(id); i < fs.size(); ++i)
    k += fs[i].function + '\n' + fs[i].file + ':' + std::to_string(fs[i].line) + '\n';
  return k;
}

const Frame* StackTable::user_frame(uint64_t id) {
  auto i = headline_index(id);
  return i ? &frames(id)[*i] : nullptr;
}

}  // namespace gotrace
