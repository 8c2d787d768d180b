// A small JSON reader for tests (gotrace's --json output). Numbers are kept
// as double and as the exact integer when they are integers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gotrace::test {

struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool b = false;
  double num = 0;
  uint64_t u = 0;  // exact value of a non-negative integer
  std::string str;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;

  const Json& operator[](const std::string& key) const;  // Null if missing
  const Json& operator[](size_t i) const;
  bool has(const std::string& key) const { return obj.count(key) != 0; }
  size_t size() const { return type == Type::Array ? arr.size() : obj.size(); }
};

// Throws std::runtime_error with the position on malformed input.
Json parse_json(const std::string& text);

}  // namespace gotrace::test
