// Writers for GoroutineReport: text for people (groups, or every goroutine
// with --all), JSON for machines, and a goroutine profile (goroutine/count)
// for the pprof and folded-stack writers.
#pragma once

#include <ostream>
#include <string>

#include "commands/goroutines/goroutine_report.h"
#include "gotrace/report/profile_writers.h"
#include "gotrace/report/report_common.h"

namespace gotrace {

struct GoroutineWriterOptions {
  size_t top = 20;         // groups shown in text (0: all); JSON has them all
  bool all = false;        // one entry per goroutine
  size_t max_frames = 12;  // per stack in text output
  std::string header;      // "PID 123 (server), go1.26.1" — the first line of the text
};

// "≥3m" style: the shortest known wait of a group, in whole minutes when
// over a minute (the stamp is coarse).
std::string format_wait(int64_t ns);
// "18,204"
std::string format_count(uint64_t n);
// The one-line headline of a group: "18,204 goroutines in chan receive for
// ≥3m at worker.run (worker.go:88), created by pool.Start (pool.go:41)".
std::string group_headline(GoroutineReport& report, const GoroutineGroup& g);

void write_goroutine_text(GoroutineReport& report, std::ostream& out, const GoroutineWriterOptions& options);
void write_goroutine_json(GoroutineReport& report, std::ostream& out, const GoroutineWriterOptions& options);

// One sample per group: goroutine/count, labelled with state and reason.
ProfileData goroutine_profile(const GoroutineReport& report, const std::string& binary,
                              const std::string& comment);

}  // namespace gotrace
