// StackTable: the stacks the BPF programs interned (id -> runtime PCs),
// symbolized lazily and once each through the binary's pclntab.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gotrace/gobin/pclntab.h"

namespace gotrace {

struct Frame {
  std::string function;
  std::string file;
  int line = 0;
  bool inlined = false;
  uint64_t pc = 0;  // runtime address
};

class StackTable {
 public:
  // bias: runtime address - link-time address (PIE load bias).
  StackTable(const Pclntab& pclntab, uint64_t bias) : pclntab_(pclntab), bias_(bias) {}

  // pcs[0] is the probed instruction itself; the rest are return addresses.
  void add(uint64_t id, std::vector<uint64_t> pcs);
  bool has(uint64_t id) const { return raw_.count(id) != 0; }
  size_t size() const { return raw_.size(); }
  // The runtime PCs as the BPF program stored them (nullptr: unknown id).
  const std::vector<uint64_t>* pcs(uint64_t id) const {
    auto it = raw_.find(id);
    return it == raw_.end() ? nullptr : &it->second;
  }

  // Symbolized frames, innermost first, inlined frames expanded. Unknown id:
  // empty. Unknown PCs appear as "?" with the address.
  const std::vector<Frame>& frames(uint64_t id);
  // The frame that names the stack for a person: the first frame outside the
  // standard library (what the user's code was doing), or, for a stack that
  // is all standard library, the function its goroutine was started with.
  std::optional<size_t> headline_index(uint64_t id);
  const Frame* user_frame(uint64_t id);
  // The first frame the text reports show (the ones before it are "… N
  // runtime frames"): the standard-library frame just above the headline
  // when the headline is the user's code, else the innermost.
  size_t first_shown(uint64_t id);
  // What a person reads of the stack: its frames from first_shown on, by
  // function, file and line. Stacks with the same key read the same (their
  // PCs or the runtime frames under the shown part differ); "#id" when the
  // stack is unknown.
  std::string shown_key(uint64_t id);

 private:
  const Pclntab& pclntab_;
  uint64_t bias_;
  std::unordered_map<uint64_t, std::vector<uint64_t>> raw_;
  std::unordered_map<uint64_t, std::vector<Frame>> symbolized_;
};

// A standard-library function (its import path has no domain and it is not
// package main): runtime, sync, net, … — what a user reads past to find
// their own code.
bool is_std_function(std::string_view name);

}  // namespace gotrace
