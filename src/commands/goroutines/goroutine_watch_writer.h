// Writers for WatchReport (`gotrace goroutines --watch`): a text heat map of
// live goroutines per creation site over time plus the leak suspects, JSON
// with the series and suspects, and a standalone SVG heat map.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "commands/goroutines/goroutine_watch.h"
#include "gotrace/model/stack_table.h"
#include "gotrace/util/result.h"

namespace gotrace {

struct WatchWriterOptions {
  size_t top = 20;         // sites shown in the heat maps (0: all); JSON has them all
  size_t width = 60;       // text heat map columns (more snapshots are merged, keeping the max)
  size_t max_frames = 12;  // per stack in text output
  std::string header;      // "PID 123 (server), go1.26.1"
  int64_t interval_ns = 0;
  std::string ended_by;   // "-d", "Ctrl-C", "the target exited"
  uint64_t left_out = 0;  // goroutines left out of snapshots (changed while read, unreadable), summed
  // --leaks: the probes' counters by name (JSON "probe_counters") and notes
  // on what they missed (one line each).
  std::map<std::string, uint64_t> probe_counters;
  std::vector<std::string> notes;
};

// The characters of the text heat map, lowest to highest intensity.
inline constexpr std::string_view kHeatChars = " .:-=+*#%@";
// One character per column for a row of live counts, scaled to the row's
// peak; more values than width are merged by taking each span's max.
std::string heat_row(const std::vector<uint64_t>& live, size_t width);

void write_watch_text(const WatchReport& report, StackTable& stacks, std::ostream& out,
                      const WatchWriterOptions& options);
void write_watch_json(const WatchReport& report, StackTable& stacks, std::ostream& out,
                      const WatchWriterOptions& options);
// Writes and flushes; fails with what went wrong (the stream's errno).
Result<void> write_watch_svg(const WatchReport& report, std::ostream& out, const WatchWriterOptions& options,
                             const std::string& path_for_messages);

}  // namespace gotrace
