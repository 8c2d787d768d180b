// The probes of `gotrace goroutines --watch --leaks` (goroutines.bpf.c):
// goroutine creation (newproc.func1's call to runqput) and exit (gdestroy,
// goexit0 up to 1.21), counted per creation site in the kernel. The watch
// reads the counts after each snapshot; nothing here reads the target.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "commands/goroutines/goroutines_types.h"
#include "gotrace/probes/probe_table.h"
#include "gotrace/session/trace_context.h"
#include "gotrace/util/result.h"

namespace gotrace {

const ProbeTable& goroutines_probe_table();
// The counters goroutines.bpf.c uses (the base ones and its own, from
// GT_CNT_OWN_FIRST), named.
CounterSpecs goroutines_counters();

struct ProbedSite {
  gt_gsite_key key{};  // runtime addresses
  gt_gsite_val counts{};
};

class GoroutineProbes {
 public:
  ~GoroutineProbes();
  // Loads the program and attaches both probes to tc's process; the error
  // is one line (no BPF rights, no site, …).
  static Result<std::unique_ptr<GoroutineProbes>> start(TraceContext& tc);
  size_t attached() const;
  // Every site's counts since the probes went on.
  std::vector<ProbedSite> sites() const;
  Counters counters() const;
  // Stops counting and detaches (what happens after is not counted).
  void stop();
  // Goroutines created while the probes were on that the born table lost:
  // created - matched exits - failed inserts - entries still there (after
  // stop()).
  uint64_t evicted() const;
  static constexpr uint64_t kBornCapacity = 262144;  // goroutines.bpf.c `born`

 private:
  struct Impl;
  explicit GoroutineProbes(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gotrace
