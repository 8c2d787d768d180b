// run_goroutines: open the target, take one snapshot, group it, write it.
#include "commands/goroutines/goroutines_command.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>

#include "commands/goroutines/goroutine_report.h"
#include "commands/goroutines/goroutine_writer.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/session/open_target.h"
#include "gotrace/session/outputs.h"
#include "gotrace/session/trace_context.h"
#include "gotrace/snapshot/goroutines.h"
#include "gotrace/target/process.h"
#include "gotrace/util/signals.h"

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
  // Until the report is written, nothing needs undoing: a stop signal ends
  // gotrace at once (util/signals.h).
  exit_on_stop_signal(fmt::format("while reading the goroutines of PID {}", c.pid));
  auto target = open_target(c.pid);
  if (!target) {
    fmt::print(stderr, "gotrace: {}\n", target.error().message);
    return kExitFailure;
  }
  Process* proc = &target->process;
  exit_on_stop_signal(fmt::format("while reading the goroutines of PID {} ({})", c.pid, proc->comm()));
  // One line; that the target exited meanwhile, if it did.
  auto fail = [&](std::string_view message) {
    fmt::print(stderr, "gotrace: {}\n", target_failure(*proc, message));
    return kExitFailure;
  };
  const GoBinary& b = *target->binary;
  if (!b.wait_reasons()) return fail(b.wait_reasons().error().message);
  for (const auto& r : c.reasons)
    if (!b.wait_reasons()->value_of(r)) {
      fmt::print(stderr,
                 "gotrace goroutines: --reason '{}' is not a wait reason of {} (e.g. \"chan receive\", "
                 "\"select\", \"IO wait\", \"sleep\")\n",
                 r, b.buildinfo().version_string);
      return kExitUsage;
    }
  const uint64_t* bias = &target->load_bias;
  auto reader = GoroutineReader::create(b, c.pid, *bias);
  if (!reader) return fail(reader.error().message);
  reader->set_cancel([] { return stop_signal() != 0; });
  auto snap = reader->snapshot();
  if (!snap && reader->cancelled()) {
    fmt::print(
        stderr, "{}",
        interrupted_line(fmt::format("while reading the goroutines of PID {} ({})", c.pid, proc->comm()),
                         stop_signal()));
    return kExitInterrupted;
  }
  // Read across an exec (or a PID's reuse), the memory was another
  // program's: say so rather than show it or a read error it caused.
  // A target that simply exited is named the way every command names it.
  if (auto same = proc->check_same(); !same) {
    if (!proc->alive()) return fail("no snapshot taken");
    fmt::print(stderr, "gotrace: {}: no snapshot taken\n", same.error().message);
    return kExitFailure;
  }
  if (!snap) return fail(snap.error().message);

  GoroutineFilter filter;
  filter.min_wait_ns = c.min_wait.count();
  filter.states.insert(c.states.begin(), c.states.end());
  filter.reasons.insert(c.reasons.begin(), c.reasons.end());
  filter.include_system = c.system;
  GoroutineReport rep =
      build_goroutine_report(*snap, *b.wait_reasons(), StackTable(b.pclntab(), *bias), filter);

  // The report is written whole, whatever comes now.
  defer_stop_signals();
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
