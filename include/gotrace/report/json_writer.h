// A streaming JSON writer: correct escaping, commas and nesting, nothing else.
//   JsonWriter j(out); j.begin_object(); j.field("a", 1); j.key("b"); j.begin_array(); … j.end();
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace gotrace {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out, bool pretty = true) : out_(out), pretty_(pretty) {}

  void begin_object();
  void begin_array();
  void end();  // closes the innermost object or array
  void key(std::string_view k);

  void value(std::string_view s);
  void value(const char* s) { value(std::string_view(s)); }
  void value(bool b);
  void value(int64_t n);
  void value(uint64_t n);
  void value(int n) { value(static_cast<int64_t>(n)); }
  void value(unsigned n) { value(static_cast<uint64_t>(n)); }
  void value(long long n) { value(static_cast<int64_t>(n)); }
  void value(unsigned long long n) { value(static_cast<uint64_t>(n)); }
  void value(double d);
  void null();

  template <typename T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

  static void write_escaped(std::ostream& out, std::string_view s);

 private:
  void before_value();
  void newline();
  struct Level {
    bool array;
    bool first;
  };
  std::ostream& out_;
  bool pretty_;
  std::vector<Level> stack_;
  bool after_key_ = false;
};

}  // namespace gotrace
