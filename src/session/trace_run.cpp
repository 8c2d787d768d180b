// The runner every tracing command goes through (trace_command.h).
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>

#include "gotrace/session/park_tracking.h"
#include "gotrace/session/trace_command.h"
#include "gotrace/util/signals.h"

namespace gotrace {

namespace {

// Attaches each probe of the table this run wants, in order. A required one
// that fails is an error; an optional one becomes a note.
Result<std::vector<ProbeRole>> attach_table(TraceCommand& cmd, TraceContext& tc, pid_t pid, uint32_t options,
                                            LinkSet& links) {
  std::vector<ProbeRole> attached;
  const int minor = tc.binary->version().minor;
  for (const auto& p : cmd.probes().probes) {
    if ((p.needs & options) != p.needs || !p.applies_to(minor)) continue;
    bpf_program* prog = bpf_object__find_program_by_name(cmd.object(), std::string(p.program).c_str());
    if (!prog)
      return make_error("internal: no BPF program '{}' in the {} object", p.program, cmd.probes().command);
    const PlannedSite* site = tc.site(p.role);
    std::optional<uint64_t> offset;
    uint64_t check = 0;
    std::string what;
    if (site) {
      offset = site->site_file_offset;
      check = site_check(*site);
      what = site->symbol;
    } else if (p.entry_fallback) {
      for (const auto& s : tc.sites)
        if (s.role == p.role && !s.symbol.empty()) {
          offset = tc.binary->elf().vaddr_to_file_offset(s.function.entry);
          what = s.symbol;
          tc.notes.push_back(
              fmt::format("{} has no emulated probe site in this Go release: probed at its first "
                          "instruction (single-stepped, costs more per hit)",
                          s.symbol));
        }
    }
    if (!offset) {
      if (p.required) return make_error("no probe site for {}", role_spec(p.role).id);
      continue;
    }
    auto r = attach_uprobe(prog, pid, tc.process.exe_link(), *offset, what, links,
                           GT_COOKIE(p.cookie_kind, check));
    if (!r) {
      if (p.required) return r.error();
      tc.notes.push_back(r.error().message);
      continue;
    }
    attached.push_back(p.role);
  }
  return attached;
}

// Creates (or truncates) an output file now, so that a wrong path fails
// before the trace rather than after it.
Result<void> check_output_path(const std::string& path, const char* option) {
  if (path.empty()) return {};
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("{} {}: {}", option, path, std::strerror(errno));
  ::close(fd);
  return {};
}

bool write_profile(const TraceConfig& config, const CommandProfile& p) {
  bool ok = true;
  if (!config.pprof_path.empty()) {
    if (auto r = write_pprof(p.data, *p.stacks, config.pprof_path); !r) {
      fmt::print(stderr, "gotrace: {}\n", r.error().message);
      ok = false;
    } else {
      fmt::print(stderr, "Wrote a pprof profile to {} (go tool pprof -top {})\n", config.pprof_path,
                 config.pprof_path);
    }
  }
  if (!config.folded_path.empty()) {
    if (auto r = write_folded(p.data, *p.stacks, config.folded_path, p.folded_value); !r) {
      fmt::print(stderr, "gotrace: {}\n", r.error().message);
      ok = false;
    } else {
      fmt::print(stderr, "Wrote folded stacks to {} (flamegraph.pl {} > flame.svg)\n", config.folded_path,
                 config.folded_path);
    }
  }
  return ok;
}

int ringbuf_sample(void* ctx, void* data, size_t size) {
  static_cast<TraceCommand*>(ctx)->on_event(data, size);
  return 0;
}

// A signal during startup: stop with one line, nothing attached is left.
bool interrupted_before_start() {
  if (!stop_signal()) return false;
  fmt::print(stderr, "gotrace: interrupted before tracing began ({})\n", strsignal(stop_signal()));
  return true;
}

}  // namespace

int run_trace(TraceCommand& cmd, const TraceConfig& config) {
  const char* name = cmd.probes().command.data();
  if (auto v = cmd.validate(); !v) {
    fmt::print(stderr, "gotrace {}: {}\n", name, v.error().message);
    return kExitUsage;
  }
  for (auto [path, option] :
       {std::pair{&config.pprof_path, "--pprof"}, std::pair{&config.folded_path, "--folded"}})
    if (auto r = check_output_path(*path, option); !r) {
      fmt::print(stderr, "gotrace {}: {}\n", name, r.error().message);
      return kExitOutput;
    }

  auto ctx = TraceContext::prepare(config.pid, cmd.probes());
  if (!ctx) {
    fmt::print(stderr, "gotrace: {}\n", ctx.error().message);
    return kExitFailure;
  }
  TraceContext& tc = *ctx;
  if (auto r = cmd.prepare(tc); !r) {
    fmt::print(stderr, "gotrace {}: {}\n", name, r.error().message);
    return kExitUsage;
  }
  if (interrupted_before_start()) return kExitInterrupted;

  install_libbpf_logging();
  const uint32_t options = cmd.options(tc);
  Result<void> step = cmd.open();
  if (step) {
    cmd.set_common(tc.bpf_offsets(), static_cast<uint32_t>(config.pid),
                   static_cast<uint64_t>(config.min.count()));
    step = cmd.configure(tc);
  }
  if (step) step = cmd.load();
  if (!step) {
    fmt::print(stderr, "gotrace: {}\n", step.error().message);
    return kExitFailure;
  }
  if (interrupted_before_start()) return kExitInterrupted;

  LinkSet links;
  auto attached = attach_table(cmd, tc, config.pid, options, links);
  Result<void> enough = attached ? cmd.check_attached(tc, *attached) : Result<void>(attached.error());
  if (!enough) {
    fmt::print(stderr, "gotrace: {}\n", enough.error().message);
    return kExitFailure;
  }
  if (interrupted_before_start()) return kExitInterrupted;

  std::unique_ptr<ring_buffer, void (*)(ring_buffer*)> rb(nullptr, ring_buffer__free);
  if (int fd = bpf_object__find_map_fd_by_name(cmd.object(), "events"); fd >= 0) {
    rb.reset(ring_buffer__new(fd, ringbuf_sample, &cmd, nullptr));
    if (!rb) {
      fmt::print(stderr, "gotrace: {}\n", explain_bpf_error(errno, "creating the ring buffer reader"));
      return kExitFailure;
    }
  }
  const int counters_fd = bpf_object__find_map_fd_by_name(cmd.object(), "counters");

  if (!config.json || isatty(STDERR_FILENO))
    fmt::print(stderr, "Tracing {} in PID {} ({}, {}): {} probes{}. {}\n", cmd.what(), config.pid,
               tc.process.comm(), tc.binary->buildinfo().version_string, links.size(), cmd.extra(),
               config.duration
                   ? fmt::format("{:.1f}s.", static_cast<double>(config.duration->count()) / 1000.0)
                   : std::string("Ctrl-C to end."));
  TraceLoopOptions lo;
  lo.duration = config.duration;
  lo.status_line = config.status_line;
  uint64_t last = 0;
  double last_t = 0;
  TraceOutcome out;
  out.loop = run_trace_loop(
      tc.process, lo,
      [&](int timeout) {
        if (rb) return ring_buffer__poll(rb.get(), timeout);
        usleep(static_cast<useconds_t>(timeout) * 1000);
        return 0;
      },
      [&](double t) {
        auto c = read_counters(counters_fd);
        uint64_t n = c[cmd.rate_counter()];
        double rate = t > last_t ? static_cast<double>(n - last) / (t - last_t) : 0;
        last = n;
        last_t = t;
        return fmt::format("{:.0f}s  {} probes  {}", t, links.size(), cmd.status(c, rate));
      });
  out.attached = links.size();
  *cmd.stopped_flag() = 1;  // nothing after the end counts, while the probes come off
  const auto detach_start = std::chrono::steady_clock::now();
  links.clear();
  spdlog::debug(
      "detached {} probes in {:.0f} ms", out.attached,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - detach_start).count());
  if (rb) ring_buffer__consume(rb.get());
  out.counters = read_counters(counters_fd);
  out.summary = tc.summary(out.loop, out.counters, out.attached, out.counters[cmd.rate_counter()]);

  auto profile = cmd.report(tc, out, config, std::cout);
  if (!profile) {
    fmt::print(stderr, "gotrace: {}\n", profile.error().message);
    return kExitFailure;
  }
  std::cout.flush();
  const bool stdout_ok = !std::cout.fail();
  const int stdout_errno = errno;
  bool profiles_ok = true;
  if (*profile) profiles_ok = write_profile(config, **profile);
  if (!stdout_ok) {
    // A closed pipe (gotrace … | head) ends quietly; anything else is said.
    if (stdout_errno != EPIPE)
      fmt::print(stderr, "gotrace: writing the report failed: {}\n", std::strerror(stdout_errno));
    return kExitOutput;
  }
  if (!profiles_ok) return kExitOutput;
  return out.loop.reason == StopReason::Error ? kExitFailure : kExitOk;
}

}  // namespace gotrace
