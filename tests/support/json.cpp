#include "support/json.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace gotrace::test {

namespace {
const Json kNull;

struct Parser {
  const std::string& s;
  size_t i = 0;

  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("JSON: ") + what + " at offset " + std::to_string(i));
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string string() {
    if (!eat('"')) fail("expected string");
    std::string out;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) fail("bad escape");
      char e = s[i++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (i + 4 > s.size()) fail("bad \\u");
          unsigned cp = std::stoul(s.substr(i, 4), nullptr, 16);
          i += 4;
          if (cp < 0x80)
            out += static_cast<char>(cp);
          else if (cp < 0x800)
            out += static_cast<char>(0xc0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3f));
          else
            out += static_cast<char>(0xe0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
                out += static_cast<char>(0x80 | (cp & 0x3f));
          break;
        }
        default:
          out += e;
      }
    }
    if (i >= s.size()) fail("unterminated string");
    ++i;
    return out;
  }
  Json value() {
    ws();
    if (i >= s.size()) fail("unexpected end");
    Json j;
    char c = s[i];
    if (c == '{') {
      ++i;
      j.type = Json::Type::Object;
      if (eat('}')) return j;
      do {
        std::string k = string();
        if (!eat(':')) fail("expected ':'");
        j.obj[k] = value();
      } while (eat(','));
      if (!eat('}')) fail("expected '}'");
    } else if (c == '[') {
      ++i;
      j.type = Json::Type::Array;
      if (eat(']')) return j;
      do j.arr.push_back(value());
      while (eat(','));
      if (!eat(']')) fail("expected ']'");
    } else if (c == '"') {
      j.type = Json::Type::String;
      j.str = string();
    } else if (s.compare(i, 4, "true") == 0) {
      j.type = Json::Type::Bool, j.b = true, i += 4;
    } else if (s.compare(i, 5, "false") == 0) {
      j.type = Json::Type::Bool, i += 5;
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else {
      size_t start = i;
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || std::strchr("+-.eE", s[i])))
        ++i;
      if (start == i) fail("unexpected character");
      std::string text = s.substr(start, i - start);
      j.type = Json::Type::Number;
      j.num = std::strtod(text.c_str(), nullptr);
      if (text.find_first_of(".eE-") == std::string::npos)
        j.u = std::strtoull(text.c_str(), nullptr, 10);
      else
        j.u = j.num > 0 ? static_cast<uint64_t>(j.num) : 0;
    }
    return j;
  }
};
}  // namespace

const Json& Json::operator[](const std::string& key) const {
  auto it = obj.find(key);
  return it == obj.end() ? kNull : it->second;
}

const Json& Json::operator[](size_t idx) const { return idx < arr.size() ? arr[idx] : kNull; }

Json parse_json(const std::string& text) {
  Parser p{text};
  Json j = p.value();
  p.ws();
  if (p.i != text.size()) p.fail("trailing characters");
  return j;
}

}  // namespace gotrace::test
