#include "gotrace/session/trace_run.h"

#include "gotrace/report/profile_writers.h"

#include <fmt/format.h>
#include <unistd.h>

#include <memory>

namespace gotrace {

uint64_t site_check(const PlannedSite& s) { return s.code.stack_check ? s.code.stack_check->frame_adjust + 1 : 0; }

Result<void> attach_wants(TraceContext& tc, pid_t pid, const std::vector<ProbeWant>& wants, LinkSet& links) {
  for (const auto& w : wants) {
    const PlannedSite* site = tc.site(w.role);
    std::optional<uint64_t> offset;
    uint64_t check = 0;
    std::string what;
    if (site) {
      offset = site->site_file_offset;
      check = site_check(*site);
      what = site->symbol;
    } else if (w.entry_fallback) {
      for (const auto& s : tc.sites)
        if (s.role == w.role && !s.symbol.empty()) {
          offset = tc.binary->elf().vaddr_to_file_offset(s.function.entry);
          what = s.symbol;
          tc.notes.push_back(fmt::format("{} has no emulated probe site in this Go release: probed at its first "
                                         "instruction (single-stepped, costs more per hit)", s.symbol));
        }
    }
    if (!offset) continue;
    uint64_t cookie = GT_COOKIE(w.cookie_kind, check);
    auto r = attach_uprobe(w.prog, pid, tc.process.exe_link(), *offset, what, links, cookie);
    if (!r) {
      if (w.required) return r.error();
      tc.notes.push_back(r.error().message);
    }
  }
  return {};
}

bool write_profiles(const TraceConfig& config, const ProfileData& data, StackTable& stacks) {
  bool ok = true;
  if (!config.pprof_path.empty()) {
    if (auto r = write_pprof(data, stacks, config.pprof_path); !r) {
      fmt::print(stderr, "gotrace: {}\n", r.error().message);
      ok = false;
    } else {
      fmt::print(stderr, "Wrote a pprof profile to {} (go tool pprof -top {})\n", config.pprof_path, config.pprof_path);
    }
  }
  if (!config.folded_path.empty()) {
    if (auto r = write_folded(data, stacks, config.folded_path, data.sample_types.size() - 1); !r) {
      fmt::print(stderr, "gotrace: {}\n", r.error().message);
      ok = false;
    } else {
      fmt::print(stderr, "Wrote folded stacks to {} (flamegraph.pl {} > flame.svg)\n", config.folded_path,
                 config.folded_path);
    }
  }
  return ok;
}

Result<TraceRunResult> run_attached(const TraceContext& tc, const TraceConfig& config, LinkSet& links,
                                    const TraceRunSpec& spec) {
  ring_buffer* rb = ring_buffer__new(spec.events_fd, spec.on_event, spec.event_ctx, nullptr);
  if (!rb) return Error{explain_bpf_error(errno, "creating the ring buffer reader")};
  std::unique_ptr<ring_buffer, void (*)(ring_buffer*)> rb_owner(rb, ring_buffer__free);

  if (!config.json || isatty(STDERR_FILENO))
    fmt::print(stderr, "Tracing {} in PID {} ({}, {}): {} probes{}. {}\n", spec.what, config.pid, tc.process.comm(),
               tc.binary->buildinfo().version_string, links.size(), spec.extra,
               config.duration ? fmt::format("{:.1f}s.", static_cast<double>(config.duration->count()) / 1000.0)
                               : std::string("Ctrl-C to end."));
  TraceLoopOptions lo;
  lo.duration = config.duration;
  lo.status_line = config.status_line;
  uint64_t last = 0;
  double last_t = 0;
  TraceRunResult out;
  out.loop = run_trace_loop(
      tc.process, lo, [&](int timeout) { return ring_buffer__poll(rb, timeout); },
      [&](double t) {
        auto c = read_counters(spec.counters_fd);
        uint64_t n = c[spec.rate_counter];
        double rate = t > last_t ? static_cast<double>(n - last) / (t - last_t) : 0;
        last = n;
        last_t = t;
        return fmt::format("{:.0f}s  {} probes  {}", t, links.size(), spec.status(c, rate));
      });
  out.attached = links.size();
  if (spec.stopped) *spec.stopped = 1;  // nothing after the end counts, while the probes come off
  links.clear();
  ring_buffer__consume(rb);
  out.counters = read_counters(spec.counters_fd);
  return out;
}

}  // namespace gotrace
