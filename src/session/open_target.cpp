#include "gotrace/session/open_target.h"

#include <fmt/format.h>

#include <cctype>

namespace gotrace {

std::string exited_while_starting(const Process& p, std::string_view detail) {
  return fmt::format("PID {} ({}) exited while gotrace was starting ({})", p.pid(), p.comm(), detail);
}

std::string target_failure(const Process& p, std::string_view message) {
  if (!p.alive()) return exited_while_starting(p, message);
  return fmt::format("PID {} ({}): {}", p.pid(), p.comm(), message);
}

Result<OpenTarget> open_target(pid_t pid, NeedBias need) {
  auto proc = Process::open(pid);
  if (!proc) return proc.error();
  // The binary is read through the executable the process was opened with
  // (/proc/self/fd/N), not a path that may name another file by now.
  auto bin = GoBinary::open(proc->exe_link());
  if (!bin) {
    // Named by the path the user knows, not the descriptor it was read by.
    std::string message = bin.error().message;
    const std::string link = proc->exe_link();
    for (size_t at = message.find(link); at != std::string::npos; at = message.find(link, at + 1)) {
      const size_t end = at + link.size();
      if (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) continue;
      message.replace(at, link.size(), proc->exe_target());
    }
    return Error{target_failure(*proc, message)};
  }
  OpenTarget t{std::move(*proc), std::move(*bin)};
  if (auto bias = t.process.load_bias(t.binary->elf())) {
    t.load_bias = *bias;
    t.has_load_bias = true;
  } else if (need == NeedBias::Yes) {
    return Error{target_failure(t.process, bias.error().message)};
  }
  return t;
}

}  // namespace gotrace
