// What a tracing command supplies to the runner (trace_run.h), which does
// everything else the same way for every command: open the target and check
// it, set the common BPF configuration, load, attach the command's probe
// table, run the trace loop with its status line, stop counting, detach,
// drain, and write the report and profiles, checking every write.
//
// A command derives from SkeletonCommand<its_bpf> (the libbpf skeleton
// generated from src/commands/<cmd>/<cmd>.bpf.c) and supplies: its probe table, the BPF
// configuration beyond the common one, how to decode a ring-buffer record,
// its status line, and the step from BPF maps to its model and writer.
#pragma once

#include <bpf/libbpf.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "gotrace/bpf/common_types.h"
#include "gotrace/host/pid_namespace.h"
#include "gotrace/probes/probe_table.h"
#include "gotrace/report/profile_writers.h"
#include "gotrace/session/bpf_util.h"
#include "gotrace/session/outputs.h"
#include "gotrace/session/trace_config.h"
#include "gotrace/session/trace_context.h"
#include "gotrace/util/signals.h"

namespace gotrace {

// What the runner hands back once the trace ended.
struct TraceOutcome {
  TraceLoopResult loop;
  Counters counters{};
  size_t attached = 0;
  TraceSummary summary;  // filled in from the above; the command adds its notes
};

// What a command's report step leaves for the runner to write besides its
// text/JSON: a profile (--pprof, --folded) over its stacks.
struct CommandProfile {
  ProfileData data;
  std::shared_ptr<StackTable> stacks;
  size_t folded_value = 0;  // which sample value the folded stacks carry
};

// A cheaper way to trace, for the overhead governor (trace_run.cpp).
struct CheaperWay {
  std::string what;            // "dropping wait chains (--no-chains)"
  bool leaves_runner = false;  // true: the command goes on without probes (run_instead)
  bool windows = false;        // true: the same probes, attached only in time windows
};

class TraceCommand {
 public:
  virtual ~TraceCommand() = default;

  virtual const ProbeTable& probes() const = 0;
  // "goroutine blocking" -> "Tracing goroutine blocking in PID …"
  virtual std::string what() const = 0;
  // Checks the command's own options before the target is opened; an error
  // is a usage error (exit 2).
  virtual Result<void> validate() { return {}; }
  // After the target was opened and analysed: checks that need the binary
  // (usage errors too) and notes in tc.notes.
  virtual Result<void> prepare(TraceContext& tc) { return {}; }
  // The ProbeSpec::needs bits this run turns on.
  virtual uint32_t options(const TraceContext& tc) const { return 0; }
  // The BPF configuration beyond the common one, before the programs load.
  virtual Result<void> configure(TraceContext& tc) = 0;
  // After the programs loaded, before any probe is attached: the maps the
  // command fills itself.
  virtual Result<void> loaded(TraceContext& tc) { return {}; }
  // After attaching: whether what got attached is enough.
  virtual Result<void> check_attached(const TraceContext& tc, const std::vector<ProbeRole>& attached) {
    return {};
  }
  // The edges of the traced time: Began once the probes are on (just before
  // the trace's clock starts), Ended the moment the programs are told to stop
  // counting, before the probes come off. Counters the command reads from the
  // target itself are read here, so they cover the same time as its events.
  enum class Edge { Began, Ended };
  virtual void at_edge(TraceContext& tc, Edge edge) {}
  // One ring-buffer record (size checked by the command).
  virtual void on_event(const void* data, size_t size) {}
  virtual std::string extra() const { return ""; }  // after the probe count: ", wait chains on"
  // The counter slots its programs use, named (trace_context.h): by default
  // the base ones only.
  virtual CounterSpecs counters() const { return counter_specs(); }
  uint64_t drops(const Counters& c) const { return total_drops(c, counters()); }
  virtual uint32_t rate_counter() const = 0;  // the events the status line rates, and the summary counts
  virtual std::string status(const Counters& c, double rate) const = 0;
  // Reads the maps, builds the model, writes text or JSON to out. Returns the
  // profile for --pprof/--folded, if the command has one.
  virtual Result<std::optional<CommandProfile>> report(TraceContext& tc, TraceOutcome& outcome,
                                                       const TraceConfig& config, std::ostream& out) = 0;

  // The overhead governor: the next cheaper way to trace, if any (described,
  // not yet taken); take_cheaper() switches the command's configuration to
  // it, and the runner starts again from open(). When it leaves the runner,
  // run_instead() traces the rest of the time (rest.duration) its own way,
  // and its report carries `carried` (the governor's record, the notes);
  // when a signal ends it before it traced as long as `earlier` (the
  // costlier way's report, if it could be written) did, it prints that.
  virtual std::optional<CheaperWay> cheaper() const { return std::nullopt; }
  virtual void take_cheaper(TraceContext& tc) {}
  virtual int run_instead(const TraceConfig& rest, const TraceSummary& carried,
                          const RenderedReport* earlier) {
    return kExitFailure;
  }
  // Whether the probes are attached only in time windows (a CheaperWay with
  // `windows` taken); then, before each window after the first, with no
  // probe attached, the command forgets the state of waits that began before
  // it (they straddle the gap and cannot be timed).
  virtual bool windowed() const { return false; }
  virtual void between_windows() {}

  // The BPF object's lifecycle, implemented by SkeletonCommand.
  virtual Result<void> open() = 0;
  virtual void set_common(const gt_offsets& off, uint32_t tgid, uint64_t min_wait_ns) = 0;
  virtual Result<void> load() = 0;
  virtual bpf_object* object() = 0;
  virtual volatile uint32_t* stopped_flag() = 0;
};

template <typename Skel>
class SkeletonCommand : public TraceCommand {
 public:
  struct Ops {
    Skel* (*open)();
    int (*load)(Skel*);
    void (*destroy)(Skel*);
  };
  SkeletonCommand(Ops ops, std::string name)
      : ops_(ops), name_(std::move(name)), skel_(nullptr, ops.destroy) {}

  Result<void> open() override {
    skel_.reset(ops_.open());
    if (!skel_) return Error{explain_bpf_error(errno, fmt::format("opening the {} BPF program", name_))};
    return {};
  }
  void set_common(const gt_offsets& off, uint32_t tgid, uint64_t min_wait_ns) override {
    skel_->rodata->off = off;
    skel_->rodata->target_tgid = tgid;
    if (const PidNamespace ns = own_pid_namespace(); !ns.initial) {  // tgid is one of that namespace
      skel_->rodata->pidns_dev = ns.dev;
      skel_->rodata->pidns_ino = ns.ino;
    }
    skel_->rodata->min_wait_ns = min_wait_ns;
  }
  Result<void> load() override {
    const int err = ops_.load(skel_.get());
    // Next the probes go in: from now on a stop signal only sets the flag
    // (they must come off in order), and the runner looks at it.
    defer_stop_signals();
    if (err) return Error{explain_bpf_error(err, fmt::format("loading the {} BPF program", name_))};
    return {};
  }
  bpf_object* object() override { return skel_->obj; }
  volatile uint32_t* stopped_flag() override { return &skel_->bss->tracing_stopped; }

 protected:
  Skel& skel() { return *skel_; }
  int map_fd(const char* name) { return bpf_object__find_map_fd_by_name(skel_->obj, name); }

 private:
  Ops ops_;
  std::string name_;
  SkeletonPtr<Skel> skel_;
};

// Runs a command against config.pid from start to end; returns the exit code.
int run_trace(TraceCommand& command, const TraceConfig& config);

}  // namespace gotrace
