// Writers for LockReport: a text report for people, JSON for machines.
#pragma once

#include <ostream>

#include "commands/lock/lock_report.h"
#include "gotrace/report/profile_writers.h"
#include "gotrace/report/report_common.h"

namespace gotrace {

struct LockWriterOptions {
  size_t top = 10;
  bool by_lock = false;  // the per-lock view instead of the per-stack one (text)
  size_t longest = 5;
  size_t stacks_per_lock = 3;
  size_t max_frames = 12;  // per stack in text output
};

void write_lock_text(LockReport& report, std::ostream& out, const LockWriterOptions& options);
void write_lock_json(LockReport& report, std::ostream& out, const LockWriterOptions& options);
// Samples per (waiter, holder), on the waiter's stack, labelled with the kind
// and the holder's function.
ProfileData lock_profile(LockReport& report, const std::string& binary);

}  // namespace gotrace
