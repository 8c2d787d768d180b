#include "gotrace/session/outputs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "gotrace/session/trace_config.h"

namespace gotrace {

bool prepare_outputs(std::string_view command, const OutputPaths& paths) {
  for (auto [path, option] : {std::pair{&paths.pprof, "--pprof"}, std::pair{&paths.folded, "--folded"}}) {
    if (path->empty()) continue;
    int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      fmt::print(stderr, "gotrace {}: {} {}: {}\n", command, option, *path, std::strerror(errno));
      return false;
    }
    ::close(fd);
  }
  return true;
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
