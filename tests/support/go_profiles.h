// Reading what the Go runtime says about the same run, and what gotrace's
// JSON says, in the terms the runtime tests compare: the first main.*
// function of a stack.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "support/json.h"

namespace gotrace::test {

// The first main.* frame of a JSON stack ([{func, file, line}]), or "".
std::string first_main(const Json& stack);

// A pprof profile in debug=1 text (block or mutex): delay per record summed
// by the record's first main.* function.
std::map<std::string, double> pprof_text_by_function(const std::string& path);

// Go's heap ("allocs") profile in debug=1 text: the allocated objects and
// bytes of each record ([alloc_objects: alloc_bytes], unscaled: exact at
// MemProfileRate=1) summed by the record's first frame whose function starts
// with prefix, keyed by the rest of that function's name.
struct HeapCounts {
  double objects = 0;
  double bytes = 0;
};
std::map<std::string, HeapCounts> heap_text_allocs_by_frame(const std::string& path,
                                                            const std::string& prefix);

// The n functions with the largest totals, largest first.
std::vector<std::string> top_functions(const std::map<std::string, double>& totals, size_t n);

}  // namespace gotrace::test
