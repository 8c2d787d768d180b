#include "gotrace/report/json_writer.h"

#include <fmt/format.h>

#include <cmath>

#include "gotrace/util/text.h"

namespace gotrace {

void JsonWriter::write_escaped(std::ostream& out, std::string_view s) {
  out << '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    // Bytes that are not UTF-8 (build settings and paths are arbitrary
    // bytes) become U+FFFD, one per byte, as Go's encoding/json writes them.
    size_t n = utf8_sequence_at(s, i);
    if (n == 0) {
      out << "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.write(s.data() + i, static_cast<std::streamsize>(n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out << "\\\"";
        break;
      case '\\':
        out << "\\\\";
        break;
      case '\n':
        out << "\\n";
        break;
      case '\r':
        out << "\\r";
        break;
      case '\t':
        out << "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          out << fmt::format("\\u{:04x}", c);
        else
          out << static_cast<char>(c);
    }
  }
  out << '"';
}

void JsonWriter::newline() {
  if (!pretty_) return;
  out_ << '\n';
  for (size_t i = 0; i < stack_.size(); ++i) out_ << "  ";
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (stack_.empty()) return;
  if (!stack_.back().first) out_ << ',';
  stack_.back().first = false;
  newline();
}

void JsonWriter::begin_object() {
  before_value();
  out_ << '{';
  stack_.push_back({false, true});
}

void JsonWriter::begin_array() {
  before_value();
  out_ << '[';
  stack_.push_back({true, true});
}

void JsonWriter::end() {
  if (stack_.empty()) return;
  Level l = stack_.back();
  stack_.pop_back();
  if (!l.first) newline();
  out_ << (l.array ? ']' : '}');
  if (stack_.empty() && pretty_) out_ << '\n';
}

void JsonWriter::key(std::string_view k) {
  before_value();
  write_escaped(out_, k);
  out_ << (pretty_ ? ": " : ":");
  after_key_ = true;
}

void JsonWriter::value(std::string_view s) {
  before_value();
  write_escaped(out_, s);
}
void JsonWriter::value(bool b) {
  before_value();
  out_ << (b ? "true" : "false");
}
void JsonWriter::value(int64_t n) {
  before_value();
  out_ << n;
}
void JsonWriter::value(uint64_t n) {
  before_value();
  out_ << n;
}
void JsonWriter::value(double d) {
  before_value();
  if (std::isfinite(d))
    out_ << fmt::format("{}", d);
  else
    out_ << "null";
}
void JsonWriter::null() {
  before_value();
  out_ << "null";
}

}  // namespace gotrace
