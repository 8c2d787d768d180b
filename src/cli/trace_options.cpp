#include <fmt/format.h>

#include <limits>

#include "gotrace/cli/cli_command.h"
#include "gotrace/model/overhead_budget.h"
#include "gotrace/util/duration.h"

namespace gotrace::cli {

CLI::Validator decimal_number(bool whole) {
  return CLI::Validator(
      [whole](std::string& s) {
        return parse_decimal(s, whole)
                   ? std::string()
                   : fmt::format("'{}' is not a {} number", s, whole ? "whole" : "decimal");
      },
      whole ? "INT" : "NUMBER");
}

void TraceOptions::add_to(CLI::App& sub, TraceConfig& t, bool waits) {
  sub.add_option("-p,--pid", pid_, "PID of the running Go program")->required()->check(decimal_number(true));
  duration_opt_ =
      sub.add_option("-d,--duration", duration_,
                     "how long to trace (10s, 500ms, 2m); default: until Ctrl-C or the target exits");
  sub.add_option("--top", top_, "how many entries to show")
      ->capture_default_str()
      ->check(decimal_number(true));
  if (waits) {
    min_opt_ = sub.add_option("--min", min_, "ignore waits shorter than this (e.g. 1ms)");
    sub.footer(
        "Percentiles (p50, p99) are estimated from log2 histograms kept in the kernel, interpolated within a "
        "bucket and clamped to each entry's observed shortest and longest wait.\n" +
        sub.get_footer());
  }
  sub.add_flag("--json", t.json, "machine-readable output on stdout");
  sub.add_flag("!--no-status", t.status_line, "no live status line on stderr");
  sub.add_option("--pprof", t.pprof_path, "also write a pprof profile here (go tool pprof FILE)");
  sub.add_option("--folded", t.folded_path, "also write folded stacks here (flamegraph.pl FILE > out.svg)");
  sub.add_option("--max-overhead", t.max_overhead_pct,
                 fmt::format("overhead budget, in percent of the target's own CPU time (default 5): when the "
                             "probes cost more over a second, trace a cheaper way and say so; probes costing "
                             "under {:g}% of one CPU ({:g} ms of CPU per second) are always within it",
                             100 * kAllowanceCpuShare, 1000 * kAllowanceCpuShare))
      ->check(decimal_number(false));
  sub.add_flag("!--no-governor", t.governor,
               "keep the probes whatever they cost (the cost is still measured and reported)");
}

bool check_pid(std::string_view command, long long raw, pid_t& out) {
  if (raw <= 0 || raw > std::numeric_limits<pid_t>::max()) {
    fmt::print(stderr, "gotrace {}: bad --pid {} (a process ID is a positive number)\n", command, raw);
    return false;
  }
  out = static_cast<pid_t>(raw);
  return true;
}

bool check_top(std::string_view command, long long raw, long long lowest, size_t& out) {
  if (raw < lowest || raw > 1'000'000) {
    fmt::print(stderr, "gotrace {}: bad --top {} ({} to 1000000)\n", command, raw, lowest);
    return false;
  }
  out = static_cast<size_t>(raw);
  return true;
}

bool check_duration(std::string_view command, const std::string& raw, std::chrono::milliseconds& out) {
  auto d = parse_duration(raw);
  if (!d || std::chrono::duration_cast<std::chrono::milliseconds>(*d).count() <= 0) {
    fmt::print(stderr, "gotrace {}: bad --duration '{}' (examples: 10s, 500ms, 2m; at least 1ms)\n", command,
               raw);
    return false;
  }
  out = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  return true;
}

bool TraceOptions::finish(std::string_view command, TraceConfig& t) const {
  if (!check_pid(command, pid_, t.pid) || !check_top(command, top_, 1, t.top)) return false;
  if (duration_opt_ && duration_opt_->count() > 0) {
    std::chrono::milliseconds d{};
    if (!check_duration(command, duration_, d)) return false;
    t.duration = d;
  }
  if (!(t.max_overhead_pct > 0 && t.max_overhead_pct <= 100)) {
    fmt::print(stderr, "gotrace {}: bad --max-overhead {} (a percentage, more than 0 and at most 100)\n",
               command, t.max_overhead_pct);
    return false;
  }
  if (min_opt_ && min_opt_->count() > 0) {
    auto m = parse_duration(min_);
    if (!m) {
      fmt::print(stderr, "gotrace {}: bad --min '{}' (examples: 100us, 1ms)\n", command, min_);
      return false;
    }
    t.min = *m;
  }
  return true;
}

bool check_list(std::string_view command, std::string_view option, const std::vector<std::string>& items) {
  for (const auto& i : items)
    if (i.empty()) {
      fmt::print(stderr, "gotrace {}: empty value in {}\n", command, option);
      return false;
    }
  return true;
}

}  // namespace gotrace::cli
