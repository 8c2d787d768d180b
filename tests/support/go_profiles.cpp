#include "support/go_profiles.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace gotrace::test {

std::string first_main(const Json& stack) {
  for (const auto& f : stack.arr)
    if (f["func"].str.rfind("main.", 0) == 0) return f["func"].str;
  return "";
}

std::map<std::string, double> pprof_text_by_function(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, double> out;
  std::string line;
  double cycles = 0;
  bool have_record = false;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
      std::istringstream ls(line);
      ls >> cycles;
      have_record = true;
    } else if (have_record && line.rfind("#\t", 0) == 0) {
      std::istringstream ls(line.substr(2));
      std::string pc, fn;
      ls >> pc >> fn;
      fn = fn.substr(0, fn.find('+'));
      if (fn.rfind("main.", 0) == 0) {
        out[fn] += cycles;
        have_record = false;
      }
    }
  }
  return out;
}

std::map<std::string, HeapCounts> heap_text_allocs_by_frame(const std::string& path,
                                                            const std::string& prefix) {
  std::ifstream in(path);
  std::map<std::string, HeapCounts> out;
  std::string line;
  HeapCounts rec;
  bool have_record = false;
  while (std::getline(in, line)) {
    // "inuse_objects: inuse_bytes [alloc_objects: alloc_bytes] @ pc pc …"
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
      auto open = line.find('[');
      if (open == std::string::npos) continue;
      char colon = 0;
      std::istringstream ls(line.substr(open + 1));
      have_record = static_cast<bool>(ls >> rec.objects >> colon >> rec.bytes) && colon == ':';
    } else if (have_record && line.rfind("#\t", 0) == 0) {
      std::istringstream ls(line.substr(2));
      std::string pc, fn;
      ls >> pc >> fn;
      fn = fn.substr(0, fn.find('+'));
      if (fn.rfind(prefix, 0) == 0) {
        HeapCounts& c = out[fn.substr(prefix.size())];
        c.objects += rec.objects;
        c.bytes += rec.bytes;
        have_record = false;
      }
    } else if (line.empty() || line[0] != '#') {
      have_record = false;
    }
  }
  return out;
}

std::vector<std::string> top_functions(const std::map<std::string, double>& totals, size_t n) {
  std::vector<std::pair<std::string, double>> v(totals.begin(), totals.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> out;
  for (size_t i = 0; i < std::min(n, v.size()); ++i) out.push_back(v[i].first);
  return out;
}

}  // namespace gotrace::test
