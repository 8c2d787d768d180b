// gotrace sched's outputs: text for people, JSON for machines, and a pprof
// profile (delays/count, delay/nanoseconds) of where goroutines waited to run.
#pragma once

#include <ostream>
#include <string>

#include "commands/sched/sched_report.h"
#include "gotrace/report/profile_writers.h"

namespace gotrace {

struct SchedWriterOptions {
  size_t top = 10;
  size_t max_frames = 8;
};

void write_sched_text(SchedReport& r, std::ostream& out, const SchedWriterOptions& o);
void write_sched_json(SchedReport& r, std::ostream& out, const SchedWriterOptions& o);
ProfileData sched_profile(SchedReport& r, const std::string& binary);

}  // namespace gotrace
