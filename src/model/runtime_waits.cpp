#include "gotrace/model/runtime_waits.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace gotrace {

namespace {

struct Rule {
  std::string_view function;
  RuntimeWait wait;
};

// The function each background goroutine of the runtime runs (proc.go,
// mgcscavenge.go, mgcsweep.go, mgc.go, mfinal.go), the same names in every
// release 1.19–1.26.
constexpr Rule kGoroutineRoots[] = {
    {"runtime.bgscavenge", RuntimeWait::Scavenger},        {"runtime.bgsweep", RuntimeWait::Sweeper},
    {"runtime.gcBgMarkWorker", RuntimeWait::GcMarkWorker}, {"runtime.forcegchelper", RuntimeWait::ForceGc},
    {"runtime.runfinq", RuntimeWait::Finalizer},
};

// Where a user goroutine waits for the collector: an assist parks in
// gcParkAssist (from gcAssistAlloc, called by mallocgc); gcStart waits on
// work.startSema / gcsema, gcMarkDone and gcMarkTermination on the GC's
// semaphores, runtime.GC in gcWaitOnMark.
constexpr Rule kGcFrames[] = {
    {"runtime.gcParkAssist", RuntimeWait::GcAssist},
    {"runtime.gcAssistAlloc", RuntimeWait::GcAssist},
    {"runtime.gcStart", RuntimeWait::GcPhase},
    {"runtime.gcMarkDone", RuntimeWait::GcPhase},
    {"runtime.gcMarkTermination", RuntimeWait::GcPhase},
    {"runtime.gcWaitOnMark", RuntimeWait::GcPhase},
    {"runtime.GC", RuntimeWait::GcPhase},
};

RuntimeWait find(const std::vector<Frame>& frames, const Rule* begin, const Rule* end) {
  for (const Frame& f : frames)
    for (const Rule* r = begin; r != end; ++r)
      if (f.function == r->function) return r->wait;
  return RuntimeWait::None;
}

}  // namespace

RuntimeWait classify_runtime_wait(const std::vector<Frame>& frames) {
  // Which goroutine it is decides first: a mark worker's own frames include gc*.
  if (auto w = find(frames, std::begin(kGoroutineRoots), std::end(kGoroutineRoots)); w != RuntimeWait::None)
    return w;
  return find(frames, std::begin(kGcFrames), std::end(kGcFrames));
}

bool is_background(RuntimeWait w) {
  return w == RuntimeWait::Scavenger || w == RuntimeWait::Sweeper || w == RuntimeWait::GcMarkWorker ||
         w == RuntimeWait::ForceGc || w == RuntimeWait::Finalizer;
}

std::string_view runtime_wait_name(RuntimeWait w) {
  switch (w) {
    case RuntimeWait::None:
      return "";
    case RuntimeWait::Scavenger:
      return "scavenger";
    case RuntimeWait::Sweeper:
      return "sweeper";
    case RuntimeWait::GcMarkWorker:
      return "gc-mark-worker";
    case RuntimeWait::ForceGc:
      return "forcegc";
    case RuntimeWait::Finalizer:
      return "finalizer";
    case RuntimeWait::GcAssist:
      return "gc-assist";
    case RuntimeWait::GcPhase:
      return "gc-phase";
  }
  return "";
}

std::string_view runtime_wait_label(RuntimeWait w) {
  switch (w) {
    case RuntimeWait::None:
      return "";
    case RuntimeWait::Scavenger:
      return "the runtime's scavenger (returns memory to the OS)";
    case RuntimeWait::Sweeper:
      return "the runtime's background sweeper";
    case RuntimeWait::GcMarkWorker:
      return "a GC mark worker";
    case RuntimeWait::ForceGc:
      return "the runtime's forced-GC helper";
    case RuntimeWait::Finalizer:
      return "the finalizer goroutine";
    case RuntimeWait::GcAssist:
      return "GC assist (the goroutine allocated while the GC was marking)";
    case RuntimeWait::GcPhase:
      return "waiting for a GC phase to finish (not a lock in user code)";
  }
  return "";
}

bool is_runtime_trampoline(std::string_view f) {
  static constexpr std::string_view kTrampolines[] = {"runtime.systemstack_switch",
                                                      "runtime.systemstack",
                                                      "runtime.mcall",
                                                      "runtime.morestack",
                                                      "runtime.morestack_noctxt",
                                                      "runtime.asmcgocall",
                                                      "runtime.goexit",
                                                      "runtime.mstart",
                                                      "runtime.mstart0",
                                                      "runtime.mstart1",
                                                      "runtime.rt0_go",
                                                      "runtime.cgocallback",
                                                      "runtime.asmcgocall_no_g",
                                                      "runtime.gogo",
                                                      "runtime.abort"};
  return std::find(std::begin(kTrampolines), std::end(kTrampolines), f) != std::end(kTrampolines);
}

}  // namespace gotrace
