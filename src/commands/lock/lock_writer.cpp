#include "commands/lock/lock_writer.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <unordered_map>

#include "gotrace/util/printable_stream.h"

namespace gotrace {

namespace {

std::string lock_label(const std::unordered_map<uint64_t, const LockSite*>& sites, uint64_t addr) {
  if (!addr) return "a lock at an unknown address";
  auto it = sites.find(addr);
  if (it != sites.end() && !it->second->name.empty())
    return fmt::format("{} ({:#x})", it->second->name, addr);
  return fmt::format("{:#x}", addr);
}

std::string user_function(StackTable& st, uint64_t id) {
  StackSummary s = summarize(st, id);
  return s.user ? s.user->function : std::string("?");
}

std::unordered_map<uint64_t, const LockSite*> index_sites(const LockReport& r) {
  std::unordered_map<uint64_t, const LockSite*> out;
  for (const auto& s : r.locks) out[s.addr] = &s;
  return out;
}

// One line a link: time, share of the wait, what the holder (depth 1) or
// the holder of what it waited for (depth 2+) was blocked on, where.
// single: the links of one wait (no "N of these waits").
// Each link is printed under its own parent, whatever order chain is in.
void print_chain(StackTable& st, const std::vector<ChainLink>& chain, uint64_t wait_total, std::ostream& out,
                 const char* indent, bool single = false) {
  std::vector<size_t> order;  // depth-first, children in the order they come
  auto visit = [&](auto& self, int parent, int level) -> void {
    for (size_t i = 0; i < chain.size(); ++i)
      if (chain[i].parent == parent && level < 16) {  // a malformed loop cannot recurse for ever
        order.push_back(i);
        self(self, static_cast<int>(i), level + 1);
      }
  };
  visit(visit, -1, 0);
  for (size_t i : order) {
    const ChainLink& l = chain[i];
    std::string pad(static_cast<size_t>(2 * (l.depth - 1)), ' ');
    std::string in = single ? std::string() : fmt::format("  ({} of these waits)", l.count);
    // A holder blocked behind the GC (an assist, a GC phase) is not blocked in its own code.
    RuntimeWait rw = classify_runtime_wait(st.frames(l.stack_id));
    std::string tag = rw == RuntimeWait::None ? std::string() : fmt::format("  [{}]", runtime_wait_label(rw));
    fmt::print(out, "{}{}{}{} {:>5.1f}%  {}{}{}  at {}{}{}\n", indent, pad, l.depth > 1 ? "└ " : "",
               format_duration(l.total_ns),
               wait_total ? 100.0 * static_cast<double>(l.total_ns) / static_cast<double>(wait_total) : 0.0,
               l.depth > 1 ? "its holder: " : "", l.reason_name, in, stack_label(st, l.stack_id),
               l.goid ? fmt::format("  [goroutine {}]", l.goid) : std::string(), tag);
  }
}

void write_chain_json(JsonWriter& j, StackTable& st, const std::vector<ChainLink>& chain) {
  j.begin_array();
  for (const ChainLink& l : chain) {
    j.begin_object();
    j.field("depth", l.depth);
    j.key("parent");
    if (l.parent < 0)
      j.null();
    else
      j.value(l.parent);
    j.field("goid", l.goid);
    j.field("reason", l.reason_name);
    j.field("count", l.count);
    j.field("total_ns", l.total_ns);
    RuntimeWait rw = classify_runtime_wait(st.frames(l.stack_id));
    j.key("runtime");
    if (rw == RuntimeWait::None)
      j.null();
    else
      j.value(runtime_wait_name(rw));
    j.key("stack");
    write_stack_json(j, st, l.stack_id);
    j.end();
  }
  j.end();
}

void write_shares_text(StackTable& st, const std::vector<StackShare>& shares, uint64_t total, size_t n,
                       std::ostream& out) {
  for (size_t i = 0; i < std::min(n, shares.size()); ++i)
    fmt::print(out, "         {:>5.1f}%  {}\n",
               total ? 100.0 * static_cast<double>(shares[i].total_ns) / static_cast<double>(total) : 0.0,
               stack_label(st, shares[i].stack_id));
  if (shares.size() > n) fmt::print(out, "         … {} more\n", shares.size() - n);
}

std::string blame_label(StackTable& st, uint64_t stack_id) {
  if (stack_id == kBlameNotKept)
    return "earlier holders (not kept: more releases in the wait than the ring holds)";
  return stack_label(st, stack_id);
}

// Holders by time held while others waited: share, time, where, an example
// goroutine, in how many waits.
void write_blame_text(StackTable& st, const std::vector<BlameShare>& blame, size_t n, std::ostream& out) {
  for (size_t i = 0; i < std::min(n, blame.size()); ++i) {
    const BlameShare& b = blame[i];
    fmt::print(out, "         {:>5.1f}% {:>9}  {}{}  (in {} waits)\n", 100.0 * b.share,
               format_duration(b.total_ns), blame_label(st, b.stack_id),
               b.goid ? fmt::format("  [goroutine {}]", b.goid) : std::string(), b.waits);
  }
  if (blame.size() > n) {
    uint64_t rest = 0;
    double share = 0;
    for (size_t i = n; i < blame.size(); ++i) {
      rest += blame[i].total_ns;
      share += blame[i].share;
    }
    fmt::print(out, "         {:>5.1f}% {:>9}  … {} more\n", 100.0 * share, format_duration(rest),
               blame.size() - n);
  }
}

void write_blame_json(JsonWriter& j, StackTable& st, const std::vector<BlameShare>& blame, size_t n) {
  j.begin_array();
  for (size_t i = 0; i < std::min(n, blame.size()); ++i) {
    const BlameShare& b = blame[i];
    j.begin_object();
    j.field("not_kept", b.stack_id == kBlameNotKept);
    j.field("goid", b.goid);
    j.field("total_ns", b.total_ns);
    j.field("share", b.share);
    j.field("waits", b.waits);
    j.field("max_hold_ns", b.max_hold_ns);
    j.key("stack");
    if (b.stack_id == kBlameNotKept) {
      j.begin_array();
      j.end();
    } else {
      write_stack_json(j, st, b.stack_id);
    }
    j.end();
  }
  j.end();
}

void write_by_lock_text(LockReport& r, std::ostream& out, const LockWriterOptions& o) {
  StackTable& st = *r.stacks;
  auto sites = index_sites(r);
  size_t n = std::min(o.top, r.locks.size());
  fmt::print(out, "\nTop {} of {} contended locks by total wait\n", n, r.locks.size());
  for (size_t i = 0; i < n; ++i) {
    const LockSite& s = r.locks[i];
    std::string_view type = s.mixed_kinds && (s.kind == LockKind::RWMutexR || s.kind == LockKind::RWMutexW)
                                ? std::string_view("sync.RWMutex")
                                : lock_kind_type(s.kind);
    fmt::print(out, "\n#{:<3}{}  {}\n", i + 1, type, lock_label(sites, s.addr));
    fmt::print(out, "     {} waits, total {}, max {}\n", s.count, format_duration(s.total_ns),
               format_duration(s.max_ns));
    fmt::print(out, "     waiters:\n");
    write_shares_text(st, s.waiters, s.total_ns, o.stacks_per_lock, out);
    if (!s.blame.empty()) {
      fmt::print(out, "     holders by time held while others waited (blame):\n");
      write_blame_text(st, s.blame, o.stacks_per_lock, out);
    }
    fmt::print(out, "     holders by the waits their release ended:\n");
    write_shares_text(st, s.holders, s.total_ns, o.stacks_per_lock, out);
  }
}

}  // namespace

void write_lock_text(LockReport& r, std::ostream& raw_out, const LockWriterOptions& o) {
  PrintableOStream out(raw_out);  // nothing from the target reaches the terminal raw
  StackTable& st = *r.stacks;
  fmt::print(out, "gotrace lock: ");
  write_summary_text(r.summary, out);
  if (r.entries.empty()) {
    fmt::print(out, "\nNo contended lock{} while tracing (only contended acquisitions are seen).\n",
               r.min_ns ? fmt::format(" waits of {} or longer", format_duration(r.min_ns)) : "");
    return;
  }
  if (o.by_lock) {
    write_by_lock_text(r, out, o);
    return;
  }
  auto sites = index_sites(r);
  uint64_t grand = 0;
  for (const auto& e : r.entries) grand += e.total_ns;
  size_t n = std::min(o.top, r.entries.size());
  fmt::print(out, "\nTop {} of {} contended waits by total time ({} in all)\n", n, r.entries.size(),
             format_duration(grand));
  for (size_t i = 0; i < n; ++i) {
    const LockEntry& e = r.entries[i];
    fmt::print(out, "\n#{:<3}{}  {}  <- held by {}\n", i + 1, lock_kind_type(e.kind),
               user_function(st, e.waiter_stack), user_function(st, e.holder_stack));
    std::string locks =
        e.locks.size() == 1 ? lock_label(sites, *e.locks.begin()) : fmt::format("{} locks", e.locks.size());
    fmt::print(
        out, "     {} waits on {}, total {}, mean {}, p50 {}, p99 {}, max {} (goroutine {}, held by {})\n",
        e.count, locks, format_duration(e.total_ns), format_duration(e.mean()), format_duration(e.p50()),
        format_duration(e.p99()), format_duration(e.max_ns), e.max_goid, e.max_holder_goid);
    fmt::print(out, "     waiter:\n");
    print_stack(st, e.waiter_stack, out, o.max_frames, "       ");
    fmt::print(out, "     holder, at its release:\n");
    print_stack(st, e.holder_stack, out, o.max_frames, "       ");
    if (!e.blame.empty()) {
      fmt::print(out, "     blamed on (by hold time: who held it while they waited):\n");
      write_blame_text(st, e.blame, o.stacks_per_lock, out);
    }
    if (!e.chain.empty()) {
      fmt::print(out, "     while they waited, the holder was itself blocked:\n");
      print_chain(st, e.chain, e.total_ns, out, "       ");
    } else if (r.chains && e.kind != LockKind::Runtime) {
      fmt::print(out, "     while they waited, the holder was not blocked (it ran, or waited to run)\n");
    }
  }
  if (!r.longest.empty()) {
    fmt::print(out, "\nLongest single waits\n");
    for (size_t i = 0; i < std::min(o.longest, r.longest.size()); ++i) {
      const LockWait& w = r.longest[i];
      fmt::print(out, "  {:>9}  goroutine {} in {} waited for {} {}; held by goroutine {} in {}\n",
                 format_duration(w.duration_ns), w.goid, user_function(st, w.waiter_stack),
                 lock_kind_type(w.kind), lock_label(sites, w.addr), w.holder_goid,
                 user_function(st, w.holder_stack));
      print_chain(st, w.chain, w.duration_ns, out, "             ", true);
    }
  }
}

void write_lock_json(LockReport& r, std::ostream& out, const LockWriterOptions& o) {
  StackTable& st = *r.stacks;
  auto sites = index_sites(r);
  JsonWriter j(out);
  j.begin_object();
  write_summary_json_fields(j, r.summary);
  j.field("min_ns", r.min_ns);
  j.field("chains", r.chains);
  j.key("entries");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.top, r.entries.size()); ++i) {
    const LockEntry& e = r.entries[i];
    j.begin_object();
    j.field("kind", lock_kind_name(e.kind));
    j.field("type", lock_kind_type(e.kind));
    j.field("count", e.count);
    j.field("total_ns", e.total_ns);
    j.field("mean_ns", e.mean());
    j.field("max_ns", e.max_ns);
    j.field("max_goid", e.max_goid);
    j.field("max_holder_goid", e.max_holder_goid);
    j.field("p50_ns", e.p50());
    j.field("p99_ns", e.p99());
    j.field("locks", static_cast<uint64_t>(e.locks.size()));
    j.key("lock_addrs");
    j.begin_array();
    for (uint64_t a : e.locks) j.value(fmt::format("{:#x}", a));
    j.end();
    j.key("lock_names");
    j.begin_array();
    for (uint64_t a : e.locks) {  // one per address, "" when it has no name
      auto it = sites.find(a);
      j.value(it != sites.end() ? it->second->name : std::string());
    }
    j.end();
    j.key("waiter_stack");
    write_stack_json(j, st, e.waiter_stack);
    j.key("holder_stack");
    write_stack_json(j, st, e.holder_stack);
    j.key("chain");
    write_chain_json(j, st, e.chain);
    j.key("blame");  // every holder: the shares add up to the entry's total
    write_blame_json(j, st, e.blame, e.blame.size());
    j.end();
  }
  j.end();
  j.key("locks");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.top, r.locks.size()); ++i) {
    const LockSite& s = r.locks[i];
    j.begin_object();
    j.field("addr", fmt::format("{:#x}", s.addr));
    j.field("name", s.name);
    j.field("kind", lock_kind_name(s.kind));
    j.field("count", s.count);
    j.field("total_ns", s.total_ns);
    j.field("max_ns", s.max_ns);
    for (auto [key, shares] : {std::pair{"waiters", &s.waiters}, std::pair{"holders", &s.holders}}) {
      j.key(key);
      j.begin_array();
      for (size_t k = 0; k < std::min(o.stacks_per_lock, shares->size()); ++k) {
        j.begin_object();
        j.field("count", (*shares)[k].count);
        j.field("total_ns", (*shares)[k].total_ns);
        j.key("stack");
        write_stack_json(j, st, (*shares)[k].stack_id);
        j.end();
      }
      j.end();
    }
    j.key("blame");
    write_blame_json(j, st, s.blame, o.stacks_per_lock);
    j.end();
  }
  j.end();
  j.key("longest");
  j.begin_array();
  for (size_t i = 0; i < std::min(o.longest, r.longest.size()); ++i) {
    const LockWait& w = r.longest[i];
    j.begin_object();
    j.field("goid", w.goid);
    j.field("holder_goid", w.holder_goid);
    j.field("kind", lock_kind_name(w.kind));
    j.field("addr", fmt::format("{:#x}", w.addr));
    j.field("duration_ns", w.duration_ns);
    j.key("waiter_stack");
    write_stack_json(j, st, w.waiter_stack);
    j.key("holder_stack");
    write_stack_json(j, st, w.holder_stack);
    j.key("chain");
    write_chain_json(j, st, w.chain);
    j.end();
  }
  j.end();
  j.end();
}

ProfileData lock_profile(LockReport& r, const std::string& binary) {
  ProfileData p =
      new_profile(r.summary, binary, {{"contentions", "count"}, {"delay", "nanoseconds"}},
                  fmt::format("gotrace lock, PID {} ({}), {}; waiter stacks, labelled with the holder",
                              r.summary.pid, r.summary.comm, r.summary.go_version));
  StackTable& st = *r.stacks;
  for (const auto& e : r.entries) {
    ProfileSample s;
    s.stack_id = e.waiter_stack;
    s.values = {static_cast<int64_t>(e.count), static_cast<int64_t>(e.total_ns)};
    StackSummary sum = summarize(st, e.holder_stack);
    std::string holder = sum.user ? sum.user->function : std::string("?");
    s.labels = {{"kind", std::string(lock_kind_name(e.kind))}, {"holder", holder}};
    s.leaf_note = fmt::format("[{} held by {}]", lock_kind_type(e.kind), holder);
    p.samples.push_back(std::move(s));
  }
  return p;
}

}  // namespace gotrace
