#include "gotrace/util/text.h"

#include "gotrace/util/printable_stream.h"

namespace gotrace {

namespace {

// Whether the well-formed sequence of n bytes at s[i] is a C1 control
// (U+0080–U+009F: 0xc2 0x80–0x9f).
bool is_c1(std::string_view s, size_t i, size_t n) {
  return n == 2 && static_cast<unsigned char>(s[i]) == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
}

void append_escaped(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

// How many bytes at the end of s are the start of a UTF-8 sequence that
// may still complete (a lead byte followed by fewer continuation bytes than
// it needs); 0 when none.
size_t incomplete_tail(std::string_view s) {
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xc0) == 0x80) continue;  // a continuation byte: look further back
    size_t need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    return need > back ? back : 0;
  }
  return 0;
}

std::string escaped(std::string_view s, bool keep_newlines) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_sequence_at(s, i);
    if (c == '\n' && keep_newlines) {
      out += '\n';
      ++i;
    } else if (n == 0 || c < 0x20 || c == 0x7f) {
      append_escaped(out, s.substr(i, 1));
      ++i;
    } else if (is_c1(s, i, n)) {
      append_escaped(out, s.substr(i, n));
      i += n;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace

std::string printable(std::string_view s) { return escaped(s, false); }

std::string printable_lines(std::string_view s) { return escaped(s, true); }

PrintableOStream::PrintableOStream(std::ostream& below) : std::ostream(nullptr), buf_(below) { rdbuf(&buf_); }

PrintableOStream::~PrintableOStream() { buf_.finish(); }

void PrintableOStream::Buf::put(std::string_view s) {
  std::string text = held_;
  text.append(s);
  held_ = text.substr(text.size() - incomplete_tail(text));
  text.resize(text.size() - held_.size());
  const std::string shown = printable_lines(text);
  below_.write(shown.data(), static_cast<std::streamsize>(shown.size()));
}

void PrintableOStream::Buf::finish() {
  if (held_.empty()) return;
  const std::string shown = printable_lines(held_);
  held_.clear();
  below_.write(shown.data(), static_cast<std::streamsize>(shown.size()));
}

PrintableOStream::Buf::int_type PrintableOStream::Buf::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  const char ch = traits_type::to_char_type(c);
  put(std::string_view(&ch, 1));
  return below_ ? c : traits_type::eof();
}

std::streamsize PrintableOStream::Buf::xsputn(const char* s, std::streamsize n) {
  put(std::string_view(s, static_cast<size_t>(n)));
  return below_ ? n : 0;
}

int PrintableOStream::Buf::sync() {
  below_.flush();
  return below_ ? 0 : -1;
}

}  // namespace gotrace
