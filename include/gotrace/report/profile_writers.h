// Outputs Go people already read: a pprof profile (gzipped profile.proto, for
// `go tool pprof`) and folded stacks (for flamegraph.pl and friends), built
// from any command's report.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gotrace/model/stack_table.h"
#include "gotrace/model/trace_summary.h"
#include "gotrace/util/result.h"

namespace gotrace {

struct ProfileSample {
  uint64_t stack_id = 0;                                    // in the report's StackTable, leaf first
  std::vector<int64_t> values;                              // one per sample type
  std::vector<std::pair<std::string, std::string>> labels;  // string labels
  std::string leaf_note;  // folded output: a last pseudo-frame ("[chan receive]")
  // Leave out the runtime's frames at the leaf (runtime.mallocgc,
  // runtime.profilealloc, …) up to the first other frame, as Go's own heap
  // profile does (runtime/pprof hides them), so `pprof -top` names the
  // allocating code. A stack that is runtime frames only is kept whole.
  bool hide_runtime_leaf = false;
};

// Where a sample's stack starts once hidden leaf frames are left out: the
// index (leaf first) of the first frame kept, at a PC's first frame so a
// location's inlined frames stay together.
size_t first_shown_frame(const ProfileSample& s, const std::vector<Frame>& frames);

struct ProfileData {
  std::vector<std::pair<std::string, std::string>>
      sample_types;  // (type, unit), e.g. ("delay", "nanoseconds")
  std::vector<ProfileSample> samples;
  int64_t duration_ns = 0;
  int64_t time_ns = 0;  // wall-clock start, Unix ns
  std::string binary;   // the mapping's file name
  std::vector<std::string> comments;
};

// An empty profile for a trace: its duration and start from the summary,
// the sample types, and one comment naming what it holds. Each command's
// writer fills in the samples (block_profile, lock_profile, …).
ProfileData new_profile(const TraceSummary& summary, const std::string& binary,
                        std::vector<std::pair<std::string, std::string>> sample_types, std::string comment);

// profile.proto, not compressed (tests read it back), and the gzipped file.
// Files are written whole or not at all (a temporary file renamed over path:
// util/output_file.h), so a failure leaves an existing file as it was.
std::string encode_pprof(const ProfileData& p, StackTable& stacks);
Result<void> write_pprof(const ProfileData& p, StackTable& stacks, const std::string& path);

// "outer;…;leaf;[note] value" lines; value_index picks the sample value.
Result<void> write_folded(const ProfileData& p, StackTable& stacks, const std::string& path,
                          size_t value_index);

}  // namespace gotrace
