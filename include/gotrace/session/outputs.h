// The output step every command shares: --pprof/--folded paths checked
// before the trace (a wrong path must not cost a long trace) but not touched,
// then, once the report went to stdout, the profiles written whole (a
// temporary file renamed over the path: a failed run leaves an existing file
// as it was) and every write checked.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gotrace/model/stack_table.h"
#include "gotrace/report/profile_writers.h"

namespace gotrace {

struct OutputPaths {
  std::string pprof;   // --pprof: gzipped profile.proto
  std::string folded;  // --folded: collapsed stacks
  bool any() const { return !pprof.empty() || !folded.empty(); }
};

// Checks that each path can be written (util/output_file.h:
// check_replaceable), without touching it; on failure prints why, one line
// ("gotrace CMD: --pprof PATH: reason"), and returns false (exit kExitOutput).
bool prepare_outputs(std::string_view command, const OutputPaths& paths);
// The same for one path of another option (--svg); true for an empty path.
bool check_output(std::string_view command, std::string_view option, const std::string& path);

// Flushes stdout (the report was written to it), writes the profiles when
// asked (profile may be null when the command has none), and returns the
// exit code of the output step: kExitOk, or kExitOutput when any write
// failed (a closed pipe ends quietly; other errors are said).
int finish_outputs(const OutputPaths& paths, const ProfileData* profile, StackTable* stacks,
                   size_t folded_value);

// A report written out in full but not printed yet: what the costlier way
// saw, kept by the overhead governor when it switches ways (the costlier
// way's maps go with the switch), in case a signal ends the trace before
// the cheaper way has traced as long.
struct RenderedReport {
  std::string text;                    // text or JSON, as it goes to stdout
  std::optional<ProfileData> profile;  // for --pprof/--folded
  std::shared_ptr<StackTable> stacks;
  size_t folded_value = 0;
  double traced_s = 0;  // how long the way it reports traced
};
// Prints it and writes its profiles: finish_outputs' exit code.
int print_rendered(const OutputPaths& paths, const RenderedReport& report);

}  // namespace gotrace
