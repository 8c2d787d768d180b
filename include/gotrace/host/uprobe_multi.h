// Multi-uprobe links (Linux 6.6+): one BPF link attaches a program at many
// offsets of one file, for one process, each with its own cookie, and takes
// them all off in one go when closed. Perf-event uprobes come off one at a
// time, each waiting for every CPU to leave the probe (~80 ms apiece here),
// which kept a target's breakpoints in for a second after a trace ended.
//
// Debian 12's libbpf (1.1) predates the API, so the link is created with the
// bpf(2) system call directly; the program must have been loaded with the
// expected attach type kUprobeMultiAttachType.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>

namespace gotrace {

inline constexpr int kUprobeMultiAttachType = 48;  // BPF_TRACE_UPROBE_MULTI

// A link fd, or -errno. offsets are file offsets in path; cookies (may be
// empty) one per offset; pid filters the probes to that process.
int create_uprobe_multi_link(int prog_fd, const char* path, std::span<const uint64_t> offsets,
                             std::span<const uint64_t> cookies, pid_t pid);

}  // namespace gotrace
