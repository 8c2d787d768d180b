#include "gotrace/cli/cli.h"

#include "gotrace/cli/commands.h"
#include "gotrace/session/trace_loop.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace gotrace::cli {

namespace {

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_color_st("gotrace");
  logger->set_pattern("gotrace: %^%l%$: %v");
  logger->set_level(verbosity >= 2 ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void add_target_options(CLI::App* cmd, TargetConfig& t, bool allow_binary) {
  auto* pid = cmd->add_option("-p,--pid", t.pid, "PID of the running Go program");
  if (allow_binary) {
    auto* bin = cmd->add_option("-b,--binary", t.binary, "a Go executable on disk (static analysis only)");
    pid->excludes(bin);
    bin->excludes(pid);
    bin->check(CLI::ExistingFile);
  }
}

void add_trace_options(CLI::App* cmd, TraceConfig& t, std::string& duration, std::string& min) {
  cmd->add_option("-p,--pid", t.pid, "PID of the running Go program")->required();
  cmd->add_option("-d,--duration", duration, "how long to trace (10s, 500ms, 2m); default: until Ctrl-C or the target exits");
  cmd->add_option("--top", t.top, "how many entries to show")->capture_default_str();
  cmd->add_option("--min", min, "ignore waits shorter than this (e.g. 1ms)");
  cmd->add_flag("--json", t.json, "machine-readable output on stdout");
  cmd->add_flag("!--no-status", t.status_line, "no live status line on stderr");
  cmd->add_option("--pprof", t.pprof_path, "also write a pprof profile here (go tool pprof FILE)");
  cmd->add_option("--folded", t.folded_path, "also write folded stacks here (flamegraph.pl FILE > out.svg)");
}

// Turns the duration strings into the config; false (with a message) if malformed.
bool finish_trace_options(const char* cmd, TraceConfig& t, const std::string& duration, const std::string& min) {
  if (!duration.empty()) {
    auto d = parse_duration(duration);
    if (d) t.duration = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    if (!t.duration || t.duration->count() == 0) {
      fmt::print(stderr, "gotrace {}: bad --duration '{}' (examples: 10s, 500ms, 2m)\n", cmd, duration);
      return false;
    }
  }
  if (!min.empty()) {
    auto m = parse_duration(min);
    if (!m) {
      fmt::print(stderr, "gotrace {}: bad --min '{}' (examples: 100us, 1ms)\n", cmd, min);
      return false;
    }
    t.min = *m;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "gotrace: look inside a running, unmodified Go program with eBPF.\n"
      "Where goroutines wait, which locks they fight over, who holds them, what allocates."};
  app.set_version_flag("--version", std::string("gotrace ") + GOTRACE_VERSION);
  app.require_subcommand(1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "more diagnostics on stderr (-vv for libbpf's)");

  InfoConfig info;
  auto* info_cmd = app.add_subcommand(
      "info", "what gotrace sees in a Go binary (version, layout, probe sites) and whether it can trace it here");
  add_target_options(info_cmd, info.target, true);
  info_cmd->add_option("path", info.target.binary, "a Go executable (same as --binary)")->check(CLI::ExistingFile);
  info_cmd->add_flag("--json", info.json, "machine-readable output");

  BlockConfig block;
  std::string block_duration, block_min;
  auto* block_cmd = app.add_subcommand(
      "block", "where goroutines wait, why, for how long, and who woke them (Ctrl-C ends and prints)");
  add_trace_options(block_cmd, block.trace, block_duration, block_min);
  block_cmd->add_option("--reason", block.reasons,
                        "only these wait reasons: chan, select, mutex, cond, waitgroup, sema, io, sleep, gc, all, "
                        "or runtime names (\"chan receive\"); default: all but the runtime's idle background waits")
      ->delimiter(',');

  LockConfig lock;
  std::string lock_duration, lock_min;
  auto* lock_cmd = app.add_subcommand(
      "lock",
      "contended sync.Mutex/RWMutex/WaitGroup/Cond: who waited, who held the lock (the goroutine whose release "
      "handed it over), and what the holder was itself blocked on meanwhile (Ctrl-C ends and prints). Only "
      "contended acquisitions are seen: the uncontended fast path is inlined into the program and costs nothing");
  add_trace_options(lock_cmd, lock.trace, lock_duration, lock_min);
  lock_cmd->add_option("--kind", lock.kinds, "only these kinds: mutex, rwmutex-r, rwmutex-w, waitgroup, cond, runtime (the runtime's internal "
                       "locks; costs more), all; default: all but runtime")
      ->delimiter(',');
  lock_cmd->add_flag("--by-lock", lock.by_lock, "one entry per lock address (with its variable name when known)");
  lock_cmd->add_flag("!--no-chains", lock.chains,
                     "do not follow every goroutine wait (cheaper; no 'while it held the lock' links)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  setup_logging(verbosity);

  if (info_cmd->parsed()) {
    if (!info.target.pid && info.target.binary.empty()) {
      fmt::print(stderr, "gotrace info: give a target: -p PID or --binary PATH\n");
      return kExitUsage;
    }
    return run_info(info);
  }
  if (block_cmd->parsed()) {
    if (!finish_trace_options("block", block.trace, block_duration, block_min)) return kExitUsage;
    return run_block(block);
  }
  if (lock_cmd->parsed()) {
    if (!finish_trace_options("lock", lock.trace, lock_duration, lock_min)) return kExitUsage;
    return run_lock(lock);
  }
  return kExitUsage;
}

}  // namespace gotrace::cli
