// Reads the build information block the Go linker writes into every Go
// executable (see src/debug/buildinfo/buildinfo.go for the format):
//
//   0  "\xff Go buildinf:"   14-byte magic, 16-byte aligned
//   14 ptrSize               4 or 8
//   15 flags                 bit 0: big endian, bit 1: strings inline (1.18+)
//   16 …                     1.18+: unused; before: versPtr, modPtr (vaddrs of Go string headers)
//   32 …                     1.18+: uvarint len + version, uvarint len + modinfo
//
// modinfo is framed by two 16-byte sentinels and holds "path", "mod", "dep"
// and "build KEY=VALUE" lines separated by tabs.
#include "gotrace/gobin/buildinfo.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include "gotrace/util/byte_reader.h"

namespace gotrace {

namespace {

constexpr std::string_view kMagic("\xff Go buildinf:", 14);
constexpr size_t kAlign = 16;
constexpr size_t kHeaderSize = 32;
constexpr uint64_t kMaxString = 1 << 20;  // no sane version or modinfo string is bigger

// Where the header was found: its bytes (to the end of the region searched)
// and its virtual address.
struct Located {
  std::span<const uint8_t> bytes;
  uint64_t vaddr = 0;
};

// The first 16-byte aligned (relative to `vaddr`) magic in `region`.
std::optional<Located> find_magic(std::span<const uint8_t> region, uint64_t vaddr) {
  if (region.size() < kHeaderSize) return std::nullopt;
  size_t first = static_cast<size_t>((kAlign - vaddr % kAlign) % kAlign);
  for (size_t i = first; i + kHeaderSize <= region.size(); i += kAlign) {
    if (std::memcmp(region.data() + i, kMagic.data(), kMagic.size()) == 0)
      return Located{region.subspan(i), vaddr + i};
  }
  return std::nullopt;
}

std::optional<Located> locate(const ElfImage& image) {
  if (const ElfSection* s = image.section(".go.buildinfo")) {
    if (auto found = find_magic(image.section_bytes(*s), s->addr)) return found;
  }
  // No section headers (or no such section): the linker puts the block at
  // the start of the first writable, non-executable segment. Search that one
  // first, then every other data segment.
  const ElfSegment* first_data = nullptr;
  for (const auto& p : image.segments()) {
    if (p.type == PT_LOAD && (p.flags & PF_W) && !(p.flags & PF_X)) {
      first_data = &p;
      break;
    }
  }
  if (first_data) {
    if (auto found = find_magic(image.bytes_from_vaddr(first_data->vaddr), first_data->vaddr)) return found;
  }
  for (const auto& p : image.segments()) {
    if (p.type != PT_LOAD || &p == first_data || (p.flags & PF_X)) continue;
    if (auto found = find_magic(image.bytes_from_vaddr(p.vaddr), p.vaddr)) return found;
  }
  return std::nullopt;
}

// A Go string whose header {ptr, len} is at `header_vaddr` (pre-1.18 format).
Result<std::string> read_go_string(const ElfImage& image, uint64_t header_vaddr, unsigned ptr_size,
                                   bool big_endian, std::string_view what) {
  auto header = image.bytes_at_vaddr(header_vaddr, 2ull * ptr_size);
  if (!header) return make_error("{} string header at {:#x} is outside the file", what, header_vaddr);
  ByteReader r(*header, big_endian);
  uint64_t ptr = r.word(0, ptr_size).value_or(0);
  uint64_t len = r.word(ptr_size, ptr_size).value_or(0);
  if (len == 0) return std::string();
  if (len > kMaxString) return make_error("{} string length {} is implausible", what, len);
  auto bytes = image.bytes_at_vaddr(ptr, len);
  if (!bytes) return make_error("{} string data at {:#x} (+{}) is outside the file", what, ptr, len);
  return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

// A uvarint-prefixed string (1.18+ format); advances off.
Result<std::string> read_inline_string(const ByteReader& r, uint64_t& off, std::string_view what) {
  auto len = r.uvarint(off);
  if (!len) return make_error("{} length is truncated", what);
  if (*len > kMaxString) return make_error("{} length {} is implausible", what, *len);
  auto bytes = r.slice(off, *len);
  if (!bytes) return make_error("{} ({} bytes) runs past the end of the data", what, *len);
  off += *len;
  return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

// Strips the 16-byte sentinels around modinfo, as the runtime does; returns ""
// when they are not there.
std::string strip_sentinels(const std::string& mod) {
  if (mod.size() >= 33 && mod[mod.size() - 17] == '\n') return mod.substr(16, mod.size() - 32);
  return std::string();
}

// Length of a Go quoted string literal ("…" or `…`) at the start of s, or 0.
size_t quoted_prefix(std::string_view s) {
  if (s.empty()) return 0;
  char q = s[0];
  if (q == '`') {
    size_t end = s.find('`', 1);
    return end == std::string_view::npos ? 0 : end + 1;
  }
  if (q != '"') return 0;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    } else if (s[i] == '\n') {
      return 0;
    }
  }
  return 0;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes a complete Go string literal (as strconv.Quote writes them).
std::optional<std::string> unquote(std::string_view lit) {
  if (lit.size() < 2 || lit.front() != lit.back()) return std::nullopt;
  if (lit.front() == '`') return std::string(lit.substr(1, lit.size() - 2));
  if (lit.front() != '"') return std::nullopt;
  std::string out;
  std::string_view s = lit.substr(1, lit.size() - 2);
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') return std::nullopt;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    char e = s[i];
    switch (e) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case '\'':
        out += '\'';
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (s.size() - i - 1 < n) return std::nullopt;
        uint32_t v = 0;
        for (size_t k = 1; k <= n; ++k) {
          int d = hex_digit(s[i + k]);
          if (d < 0) return std::nullopt;
          v = v * 16 + static_cast<uint32_t>(d);
        }
        i += n;
        if (e == 'x') {
          out += static_cast<char>(v);
        } else {
          append_utf8(out, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (s.size() - i < 3) return std::nullopt;
          uint32_t v = 0;
          for (size_t k = 0; k < 3; ++k) {
            char d = s[i + k];
            if (d < '0' || d > '7') return std::nullopt;
            v = v * 8 + static_cast<uint32_t>(d - '0');
          }
          if (v > 255) return std::nullopt;
          out += static_cast<char>(v);
          i += 2;
          break;
        }
        return std::nullopt;
    }
  }
  return out;
}

// One "build\t…" line body: KEY=VALUE, either side possibly quoted. A value
// that fails to unquote is kept as written.
void parse_setting(std::string_view kv, std::map<std::string, std::string>& settings) {
  std::string key;
  std::string_view raw_value;
  if (kv.empty() || kv[0] == '=') return;
  if (kv[0] == '"' || kv[0] == '`') {
    size_t n = quoted_prefix(kv);
    if (n == 0) return;
    auto k = unquote(kv.substr(0, n));
    if (!k || n >= kv.size() || kv[n] != '=') return;
    key = *k;
    raw_value = kv.substr(n + 1);
  } else {
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) return;
    key = std::string(kv.substr(0, eq));
    raw_value = kv.substr(eq + 1);
  }
  std::string value(raw_value);
  if (!raw_value.empty() && (raw_value[0] == '"' || raw_value[0] == '`')) {
    if (auto v = unquote(raw_value)) value = *v;
  }
  settings[key] = std::move(value);
}

void parse_modinfo(BuildInfo& info) {
  std::string_view rest(info.modinfo);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.starts_with("path\t")) {
      info.main_path = std::string(line.substr(5));
    } else if (line.starts_with("build\t")) {
      parse_setting(line.substr(6), info.settings);
    }
  }
}

}  // namespace

Result<BuildInfo> read_buildinfo(const ElfImage& image) {
  auto found = locate(image);
  if (!found) return make_error("{} is not a Go program (no Go build information found)", image.path());

  BuildInfo info;
  uint8_t ptr_size = found->bytes[14];
  uint8_t flags = found->bytes[15];
  bool big_endian = flags & 1;
  info.inline_strings = flags & 2;
  std::string raw_mod;

  if (info.inline_strings) {
    info.ptr_size = ptr_size == 4 ? 4 : 8;  // not used by this format
    ByteReader r(found->bytes);
    uint64_t off = kHeaderSize;
    auto version = read_inline_string(r, off, "Go version");
    if (!version)
      return make_error("{}: reading Go build information: {}", image.path(), version.error().message);
    auto mod = read_inline_string(r, off, "module information");
    if (!mod) return make_error("{}: reading Go build information: {}", image.path(), mod.error().message);
    info.version_string = std::move(*version);
    raw_mod = std::move(*mod);
  } else {
    if (ptr_size != 4 && ptr_size != 8)
      return make_error("{}: Go build information has a bad pointer size ({})", image.path(), ptr_size);
    info.ptr_size = ptr_size;
    ByteReader r(found->bytes, big_endian);
    uint64_t vers_ptr = *r.word(16, ptr_size);  // in range: the header is 32 bytes
    uint64_t mod_ptr = *r.word(16 + ptr_size, ptr_size);
    auto version = read_go_string(image, vers_ptr, ptr_size, big_endian, "Go version");
    if (!version)
      return make_error("{}: reading Go build information: {}", image.path(), version.error().message);
    auto mod = read_go_string(image, mod_ptr, ptr_size, big_endian, "module information");
    // A program built without module information (GOPATH mode, e.g. the go1.17
    // toolchain's own `go`) keeps a zero string header in .bss: no bytes in
    // the file, and no module information — not an error.
    bool zero_initialised =
        !mod && image.segment_of_vaddr(mod_ptr) && !image.bytes_at_vaddr(mod_ptr, ptr_size);
    if (!mod && !zero_initialised)
      return make_error("{}: reading Go build information: {}", image.path(), mod.error().message);
    info.version_string = std::move(*version);
    if (mod) raw_mod = std::move(*mod);
  }

  if (info.version_string.empty())
    return make_error("{}: Go build information has an empty Go version", image.path());
  auto version = GoVersion::parse(info.version_string);
  if (!version)
    return make_error("{}: unrecognised Go version string \"{}\" in the build information", image.path(),
                      info.version_string.substr(0, 64));
  info.version = *version;
  info.modinfo = strip_sentinels(raw_mod);
  parse_modinfo(info);
  return info;
}

}  // namespace gotrace
