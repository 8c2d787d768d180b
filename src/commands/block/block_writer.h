// Writers for BlockReport: a text report for people, JSON for machines.
#pragma once

#include <ostream>

#include "commands/block/block_report.h"
#include "gotrace/report/profile_writers.h"
#include "gotrace/report/report_common.h"

namespace gotrace {

struct BlockWriterOptions {
  size_t top = 10;
  size_t wakers_per_entry = 3;
  size_t longest = 5;
  size_t max_frames = 12;  // per stack in text output
};

// Scans per second over the trace (block --sample): below the rate asked
// when scans took longer than the period.
double sample_hz_reached(const BlockReport& r);

void write_block_text(BlockReport& report, std::ostream& out, const BlockWriterOptions& options);
void write_block_json(BlockReport& report, std::ostream& out, const BlockWriterOptions& options);
// Samples (contentions/count, delay/nanoseconds) per blocking site, labelled
// with the wait reason, like Go's block profile.
ProfileData block_profile(BlockReport& report, const std::string& binary);

}  // namespace gotrace
