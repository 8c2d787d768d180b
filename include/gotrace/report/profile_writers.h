// Outputs Go people already read: a pprof profile (gzipped profile.proto, for
// `go tool pprof`) and folded stacks (for flamegraph.pl and friends), built
// from the block and lock reports.
#pragma once

#include "gotrace/model/alloc_report.h"
#include "gotrace/model/block_report.h"
#include "gotrace/model/lock_report.h"
#include "gotrace/util/result.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gotrace {

struct ProfileSample {
  uint64_t stack_id = 0;                                    // in the report's StackTable, leaf first
  std::vector<int64_t> values;                              // one per sample type
  std::vector<std::pair<std::string, std::string>> labels;  // string labels
  std::string leaf_note;                                    // folded output: a last pseudo-frame ("[chan receive]")
};

struct ProfileData {
  std::vector<std::pair<std::string, std::string>> sample_types;  // (type, unit), e.g. ("delay", "nanoseconds")
  std::vector<ProfileSample> samples;
  int64_t duration_ns = 0;
  int64_t time_ns = 0;  // wall-clock start, Unix ns
  std::string binary;   // the mapping's file name
  std::vector<std::string> comments;
};

// Block report: samples (contentions/count, delay/nanoseconds) per blocking
// site, labelled with the wait reason; lock report: per (waiter, holder),
// labelled with the kind and the holder's function.
ProfileData block_profile(BlockReport& report, const std::string& binary);
ProfileData lock_profile(LockReport& report, const std::string& binary);
// Alloc report: samples (alloc_objects/count, alloc_space/bytes, as in Go's
// heap profile, so -sample_index=alloc_space works) per (stack, type, slot
// size), labelled with the type; estimates rounded to whole objects/bytes.
// Build the report with AllocGroupBy::Stack: grouped rows carry only an
// example stack.
ProfileData alloc_profile(AllocReport& report, const std::string& binary);

// profile.proto, not compressed (tests read it back), and the gzipped file.
std::string encode_pprof(const ProfileData& p, StackTable& stacks);
Result<void> write_pprof(const ProfileData& p, StackTable& stacks, const std::string& path);

// "outer;…;leaf;[note] value" lines; value_index picks the sample value.
Result<void> write_folded(const ProfileData& p, StackTable& stacks, const std::string& path, size_t value_index);

}  // namespace gotrace
