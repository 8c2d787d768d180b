// Text that reaches a terminal or a JSON document: UTF-8 validation, and
// strings from the outside world (paths, build settings, process names)
// made safe to print on one line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gotrace {

// Length (1–4) of the well-formed UTF-8 sequence starting at s[i] (RFC 3629:
// shortest form, no UTF-16 surrogates, at most U+10FFFF), or 0 if the byte
// there does not start one.
inline size_t utf8_sequence_at(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, cp = c & 0x07;
  else
    return 0;  // a continuation byte, an overlong lead (0xc0, 0xc1) or past U+10FFFF
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (at(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

// s with control characters (C0, DEL, and C1: U+0080–U+009F, which some
// terminals obey as escape sequences) and bytes that are not valid UTF-8
// written as \xNN, byte by byte; everything else (valid UTF-8 included)
// unchanged. (util/printable_stream.h: the same over a whole text report.)
std::string printable(std::string_view s);

}  // namespace gotrace
