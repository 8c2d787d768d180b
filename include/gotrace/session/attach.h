// Attaching a command's probe table to the target: the one attacher the
// runner's passes and windows and `goroutines --leaks` use. Each probe the
// table wants in this run (its Go release, the run's options) goes on the
// planned site of its role, or, where the table allows, at its function's
// first instruction (with a note: single-stepped, costlier). Just before,
// the process is checked to be the program analysed (not exec'd, not a
// reused PID): the probes go on the pinned executable either way, so an
// exec after the check costs the new program nothing.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <vector>

#include "gotrace/probes/probe_table.h"
#include "gotrace/session/bpf_util.h"
#include "gotrace/session/trace_context.h"
#include "gotrace/util/result.h"

namespace gotrace {

// The stack-check adjustment handed to BPF with a site's cookie
// (gt_site_check, common_types.h).
uint64_t site_check(const PlannedSite& s);

// options: the ProbeSpec::needs bits this run turns on; multi: one
// multi-uprobe link per program (fast detach). A required probe that fails
// is an error; an optional one becomes a note in tc.notes. Returns the roles
// attached.
Result<std::vector<ProbeRole>> attach_probe_table(const ProbeTable& table, bpf_object* obj, TraceContext& tc,
                                                  uint32_t options, bool multi, LinkSet& links);

}  // namespace gotrace
