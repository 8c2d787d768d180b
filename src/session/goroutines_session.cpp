// run_goroutines: open the target, take one snapshot, group it, write it.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>

#include "gotrace/gobin/go_binary.h"
#include "gotrace/model/goroutine_report.h"
#include "gotrace/report/goroutine_writer.h"
#include "gotrace/session/goroutines_command.h"
#include "gotrace/session/outputs.h"
#include "gotrace/snapshot/goroutines.h"
#include "gotrace/target/process.h"

namespace gotrace {

namespace {

constexpr std::string_view kStates[] = {"runnable", "running", "syscall", "waiting", "preempted", "leaked"};

bool known_state(const std::string& s) {
  for (auto k : kStates)
    if (s == k) return true;
  return false;
}

}  // namespace

int run_goroutines(const GoroutinesConfig& c) {
  for (const auto& s : c.states)
    if (!known_state(s)) {
      fmt::print(stderr,
                 "gotrace goroutines: unknown --state '{}' (runnable, running, syscall, waiting, preempted, "
                 "leaked)\n",
                 s);
      return kExitUsage;
    }
  if (c.watch_interval.count() > 0) return run_goroutines_watch(c);
  auto proc = Process::open(c.pid);
  if (!proc) {
    fmt::print(stderr, "gotrace: {}\n", proc.error().message);
    return kExitFailure;
  }
  auto bin = GoBinary::open(proc->exe_link());
  if (!bin) {
    fmt::print(stderr, "gotrace: PID {} ({}): {}\n", c.pid, proc->comm(), bin.error().message);
    return kExitFailure;
  }
  const GoBinary& b = **bin;
  if (!b.wait_reasons()) {
    fmt::print(stderr, "gotrace: PID {} ({}): {}\n", c.pid, proc->comm(), b.wait_reasons().error().message);
    return kExitFailure;
  }
  for (const auto& r : c.reasons)
    if (!b.wait_reasons()->value_of(r)) {
      fmt::print(stderr,
                 "gotrace goroutines: --reason '{}' is not a wait reason of {} (e.g. \"chan receive\", "
                 "\"select\", \"IO wait\", \"sleep\")\n",
                 r, b.buildinfo().version_string);
      return kExitUsage;
    }
  auto bias = proc->load_bias(b.elf());
  if (!bias) {
    fmt::print(stderr, "gotrace: PID {}: {}\n", c.pid, bias.error().message);
    return kExitFailure;
  }
  auto reader = GoroutineReader::create(b, c.pid, *bias);
  if (!reader) {
    fmt::print(stderr, "gotrace: PID {} ({}): {}\n", c.pid, proc->comm(), reader.error().message);
    return kExitFailure;
  }
  auto snap = reader->snapshot();
  // Read across an exec (or a PID's reuse), the memory was another
  // program's: say so rather than show it or a read error it caused.
  if (auto same = proc->check_same(); !same) {
    fmt::print(stderr, "gotrace: {}: no snapshot taken\n", same.error().message);
    return kExitFailure;
  }
  if (!snap) {
    fmt::print(stderr, "gotrace: PID {} ({}): {}\n", c.pid, proc->comm(), snap.error().message);
    return kExitFailure;
  }

  GoroutineFilter filter;
  filter.min_wait_ns = c.min_wait.count();
  filter.states.insert(c.states.begin(), c.states.end());
  filter.reasons.insert(c.reasons.begin(), c.reasons.end());
  filter.include_system = c.system;
  GoroutineReport rep =
      build_goroutine_report(*snap, *b.wait_reasons(), StackTable(b.pclntab(), *bias), filter);

  GoroutineWriterOptions o;
  o.top = c.top;
  o.all = c.all;
  o.header = fmt::format("PID {} ({}), {}{}", c.pid, proc->comm(), b.buildinfo().version_string,
                         c.system ? "" : "; the runtime's own goroutines are left out (--system shows them)");
  if (c.json) {
    write_goroutine_json(rep, std::cout, o);
  } else {
    write_goroutine_text(rep, std::cout, o);
  }
  const OutputPaths outputs{c.pprof_path, c.folded_path};
  std::optional<ProfileData> profile;
  if (outputs.any())
    profile = goroutine_profile(rep, proc->exe_target(),
                                fmt::format("gotrace goroutines, PID {} ({}), {}", c.pid, proc->comm(),
                                            b.buildinfo().version_string));
  return finish_outputs(outputs, profile ? &*profile : nullptr, &rep.stacks, 0);
}

}  // namespace gotrace
