// RAII owners for libbpf objects and the uprobe attach step, shared by every
// command. Uprobes are perf-event based: they vanish when gotrace exits, even
// if killed, so nothing can be left attached to the target.
#pragma once

#include "gotrace/util/result.h"

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace gotrace {

// Routes libbpf's messages to spdlog (debug level; -vv shows them).
void install_libbpf_logging();

class LinkSet {
 public:
  LinkSet() = default;
  LinkSet(const LinkSet&) = delete;
  LinkSet& operator=(const LinkSet&) = delete;
  ~LinkSet() { clear(); }
  void add(bpf_link* link) { links_.push_back(link); }
  size_t size() const { return links_.size(); }
  void clear();

 private:
  std::vector<bpf_link*> links_;
};

// Attaches prog as a uprobe at a file offset of binary, for one process;
// the program reads cookie with bpf_get_attach_cookie().
Result<void> attach_uprobe(bpf_program* prog, pid_t pid, const std::string& binary, uint64_t file_offset,
                           const std::string& what, LinkSet& links, uint64_t cookie = 0);

// Owns a skeleton: SkeletonPtr<block_bpf> p(block_bpf__open(), block_bpf__destroy).
template <typename T>
using SkeletonPtr = std::unique_ptr<T, void (*)(T*)>;

// Why a load failed, in user terms (EPERM -> run as root, …).
std::string explain_bpf_error(int err, const std::string& what);

}  // namespace gotrace
