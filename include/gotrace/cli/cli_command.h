// How a command joins the command line: its subcommand, options and entry
// point, and its probe table (which `gotrace info` checks). Each command
// has one src/commands/<cmd>/<cmd>_cli.cpp defining `CliCommand
// <cmd>_cli()`, and one entry in GOTRACE_COMMANDS (src/app/cli.cpp).
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_config.h"

namespace gotrace::cli {

struct CliCommand {
  std::string_view name;
  std::string description;
  const ProbeTable* probes = nullptr;
  // Adds the subcommand's options to sub; returns what runs it once parsed
  // (its exit code). Options it binds must outlive the returned function.
  // tables: every command's probe table (for `info`; the span stays valid).
  std::function<std::function<int()>(CLI::App& sub, std::span<const ProbeTable* const> tables)> setup;
};

// The options every tracing command shares (bpftrace/BCC conventions),
// bound to t; the raw strings are checked by TraceOptions::finish.
class TraceOptions {
 public:
  // waits: the command times waits (block, lock): --min, and the help says
  // how its percentiles are estimated. Call after the app's footer is set.
  void add_to(CLI::App& sub, TraceConfig& t, bool waits);
  // Validates numbers and durations; false (with one line on stderr) when
  // something is out of range. Runs before the target is opened.
  bool finish(std::string_view command, TraceConfig& t) const;

 private:
  std::string duration_, min_;
  // Given at all (an empty value is given, and wrong: -d '' is not "no -d").
  CLI::Option* duration_opt_ = nullptr;
  CLI::Option* min_opt_ = nullptr;
  long long top_ = 10;
  long long pid_ = 0;
};

// For numeric options: the value must be a plain decimal number (whole:
// digits only), else a usage error; CLI11 alone takes "" as 0 and "0x10" as
// 16.
CLI::Validator decimal_number(bool whole);

// The checks every command makes of -p, --top and -d, each false with its
// one line on stderr ("gotrace CMD: bad --pid …") when the value is wrong.
bool check_pid(std::string_view command, long long raw, pid_t& out);
// lowest: 1, or 0 where --top 0 means all (goroutines).
bool check_top(std::string_view command, long long raw, long long lowest, size_t& out);
bool check_duration(std::string_view command, const std::string& raw, std::chrono::milliseconds& out);

// Rejects empty items of a comma-separated list option ("--reason ,chan").
bool check_list(std::string_view command, std::string_view option, const std::vector<std::string>& items);

}  // namespace gotrace::cli
