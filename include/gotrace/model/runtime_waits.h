// Waits that belong to the Go runtime's own machinery, told apart by the
// runtime frames of the stack: the runtime's background goroutines pacing
// themselves (scavenger, sweeper, GC mark workers …), which a user did not
// ask about, and user goroutines held up by the garbage collector (an
// assist, waiting for a GC phase to finish), which are real latency but not
// contention in the user's code. Their wait reasons alone ("sleep",
// "semacquire") make them look like user waits.
#pragma once

#include <string_view>
#include <vector>

#include "gotrace/model/stack_table.h"

namespace gotrace {

enum class RuntimeWait : uint8_t {
  None = 0,      // a user wait
  Scavenger,     // runtime.bgscavenge: returns memory to the OS, sleeps between rounds
  Sweeper,       // runtime.bgsweep
  GcMarkWorker,  // runtime.gcBgMarkWorker
  ForceGc,       // runtime.forcegchelper
  Finalizer,     // runtime.runfinq
  GcAssist,      // a user goroutine made to help the GC mark (it allocated fast)
  GcPhase,       // a user goroutine waiting for a GC phase (start, mark termination, runtime.GC)
};

// From the frames, innermost first (the stack of a wait or of a waker).
RuntimeWait classify_runtime_wait(const std::vector<Frame>& frames);
// Background goroutines of the runtime: hidden by default, like the idle
// wait reasons reason_mask leaves out.
bool is_background(RuntimeWait w);
// "scavenger", "sweeper", "gc-mark-worker", "forcegc", "finalizer",
// "gc-assist", "gc-phase" ("" for None): the JSON names.
std::string_view runtime_wait_name(RuntimeWait w);
// For people: "GC assist (the goroutine allocated while the GC marked)", …
std::string_view runtime_wait_label(RuntimeWait w);
// Assembly trampolines that switch stacks (runtime.systemstack_switch,
// morestack, mcall …): never what a stack is "about".
bool is_runtime_trampoline(std::string_view function);

}  // namespace gotrace
