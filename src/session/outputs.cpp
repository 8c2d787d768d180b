#include "gotrace/session/outputs.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "gotrace/session/trace_config.h"
#include "gotrace/util/output_file.h"

namespace gotrace {

bool check_output(std::string_view command, std::string_view option, const std::string& path) {
  if (path.empty()) return true;
  if (auto r = check_replaceable(path); !r) {
    fmt::print(stderr, "gotrace {}: {} {}: {}\n", command, option, path, r.error().message);
    return false;
  }
  return true;
}

bool prepare_outputs(std::string_view command, const OutputPaths& paths) {
  // Checked, not opened: a run that fails later leaves an existing file as
  // it was (the profiles are written whole, once the trace is done).
  return check_output(command, "--pprof", paths.pprof) && check_output(command, "--folded", paths.folded);
}

int finish_outputs(const OutputPaths& paths, const ProfileData* profile, StackTable* stacks,
                   size_t folded_value) {
  std::cout.flush();
  const bool stdout_ok = !std::cout.fail();
  const int stdout_errno = errno;
  bool profiles_ok = true;
  if (profile && stacks) {
    if (!paths.pprof.empty()) {
      if (auto r = write_pprof(*profile, *stacks, paths.pprof); !r) {
        fmt::print(stderr, "gotrace: {}\n", r.error().message);
        profiles_ok = false;
      } else {
        fmt::print(stderr, "Wrote a pprof profile to {} (go tool pprof -top {})\n", paths.pprof, paths.pprof);
      }
    }
    if (!paths.folded.empty()) {
      if (auto r = write_folded(*profile, *stacks, paths.folded, folded_value); !r) {
        fmt::print(stderr, "gotrace: {}\n", r.error().message);
        profiles_ok = false;
      } else {
        fmt::print(stderr, "Wrote folded stacks to {} (flamegraph.pl {} > flame.svg)\n", paths.folded,
                   paths.folded);
      }
    }
  }
  if (!stdout_ok) {
    // A closed pipe (gotrace … | head) ends quietly; anything else is said.
    if (stdout_errno != EPIPE)
      fmt::print(stderr, "gotrace: writing the report failed: {}\n", std::strerror(stdout_errno));
    return kExitOutput;
  }
  return profiles_ok ? kExitOk : kExitOutput;
}

}  // namespace gotrace

namespace gotrace {

int print_rendered(const OutputPaths& paths, const RenderedReport& report) {
  std::cout << report.text;
  return finish_outputs(paths, report.profile ? &*report.profile : nullptr, report.stacks.get(),
                        report.folded_value);
}

}  // namespace gotrace
