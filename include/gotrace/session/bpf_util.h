// RAII owners for libbpf objects and the uprobe attach step, shared by every
// command. The uprobes themselves are attached and held by the probe keeper
// (probe_keeper.h), which takes them off when asked or, should gotrace be
// killed, by itself: no breakpoint is left in the target either way.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gotrace/util/result.h"

namespace gotrace {

// Routes libbpf's messages to the log (util/log.h: -v debug, -vv trace).
void install_libbpf_logging();

// The probes of a trace: the probe keeper's links (one uprobe each, or a
// multi-uprobe link with several). size() counts probes, not links.
// clear() takes them all off and returns when the kernel has.
class LinkSet {
 public:
  LinkSet() = default;
  LinkSet(const LinkSet&) = delete;
  LinkSet& operator=(const LinkSet&) = delete;
  ~LinkSet() { clear(); }
  void add(uint32_t keeper_id, size_t probes) {
    ids_.push_back(keeper_id);
    probes_ += probes;
  }
  size_t size() const { return probes_; }
  size_t links() const { return ids_.size(); }
  void clear();

 private:
  std::vector<uint32_t> ids_;
  size_t probes_ = 0;
};

// Whether this run attaches through multi-uprobe links: the host can
// (HostFeatures::uprobe_multi) and GOTRACE_UPROBE_MULTI is not 0 (kept for
// measuring the other way).
bool use_uprobe_multi(bool host_supports);
// Loads every uprobe program of obj for multi-uprobe links (before load).
void prepare_uprobe_multi(bpf_object* obj);
// Attaches prog at these file offsets of the executable open as exe_fd (the
// target's pinned one: Process::exe_fd()), one link for all; a probe count
// error says which site failed when only one was asked for.
Result<void> attach_uprobe_multi(bpf_program* prog, pid_t pid, int exe_fd,
                                 const std::vector<uint64_t>& file_offsets,
                                 const std::vector<uint64_t>& cookies, const std::string& what,
                                 LinkSet& links);

// Attaches prog as a uprobe at a file offset of the executable open as
// exe_fd, for one process; the program reads cookie with
// bpf_get_attach_cookie().
Result<void> attach_uprobe(bpf_program* prog, pid_t pid, int exe_fd, uint64_t file_offset,
                           const std::string& what, LinkSet& links, uint64_t cookie = 0);

// Owns a skeleton: SkeletonPtr<block_bpf> p(block_bpf__open(), block_bpf__destroy).
template <typename T>
using SkeletonPtr = std::unique_ptr<T, void (*)(T*)>;

// Calls f(key, value) for every entry of a BPF hash map (entries added or
// removed meanwhile may be seen or not; none is seen twice unless the map
// was rehashed under it, which user space reading a stopped trace avoids).
template <typename K, typename V, typename F>
void for_each_map_entry(int fd, F&& f) {
  K key{}, next{};
  V value{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) f(next, value);
    key = next;
    prev = &key;
  }
}

// Calls f(index, value) for every slot of a BPF array map, read in batches
// (an array of 2^17 slots in a few system calls, not one per slot).
template <typename V, typename F>
void for_each_array_entry(int fd, F&& f) {
  constexpr uint32_t kBatch = 4096;
  std::vector<uint32_t> keys(kBatch);
  std::vector<V> values(kBatch);
  uint32_t out_batch = 0;
  bool first = true;
  for (;;) {
    uint32_t n = kBatch;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &out_batch, &out_batch, keys.data(), values.data(),
                                   &n, nullptr);
    if (err != 0 && err != -ENOENT && first) break;  // no batch operations here: one slot at a time
    for (uint32_t i = 0; i < n; ++i) f(keys[i], values[i]);
    if (err != 0) return;  // -ENOENT: the end
    first = false;
  }
  V value{};
  for (uint32_t i = 0; bpf_map_lookup_elem(fd, &i, &value) == 0; ++i) f(i, value);
}

// Deletes every entry of a BPF hash map (fd < 0: nothing); the number deleted.
size_t clear_map(int fd);

// Runs of an object's programs and the time spent in them, from the
// kernel's BPF statistics (counted only while bpf_enable_stats' fd is open).
struct ProgramRunStats {
  uint64_t runs = 0;
  uint64_t run_ns = 0;
};
ProgramRunStats program_run_stats(bpf_object* obj);

// Why a load failed, in user terms (EPERM -> run as root, …).
std::string explain_bpf_error(int err, const std::string& what);

}  // namespace gotrace
