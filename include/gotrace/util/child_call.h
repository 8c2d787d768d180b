// Runs a function in a forked child process and hands back its result: for
// a step whose system calls can take seconds on a loaded host and cannot be
// interrupted (creating and closing uprobes waits for the kernel), so that
// gotrace itself stays free to answer a Ctrl-C at once (util/signals.h)
// rather than after the step. The child ignores the stop signals: it
// finishes its step, finds nobody to answer and exits on its own.
#pragma once

#include <cstddef>
#include <cstring>
#include <functional>
#include <optional>
#include <type_traits>

namespace gotrace {

// fn fills `size` bytes at out (in the child); true when they came back.
bool call_in_child_raw(const std::function<void(void* out)>& fn, void* out, size_t size);

// fn's result, computed in a child; nullopt when no child could be started
// or it died before answering (the caller then does the work itself).
template <typename T, typename F>
std::optional<T> call_in_child(F&& fn) {
  static_assert(std::is_trivially_copyable_v<T>, "the result crosses a pipe as bytes");
  T v{};
  const bool ok = call_in_child_raw(
      [&](void* out) {
        T r = fn();
        std::memcpy(out, &r, sizeof r);
      },
      &v, sizeof v);
  if (!ok) return std::nullopt;
  return v;
}

}  // namespace gotrace
