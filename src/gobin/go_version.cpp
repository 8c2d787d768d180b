#include "gotrace/gobin/go_version.h"

#include <fmt/format.h>

#include <cctype>

namespace gotrace {

namespace {
bool read_int(std::string_view s, size_t& i, int& out) {
  size_t start = i;
  long v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < 6)
    v = v * 10 + (s[i++] - '0');
  if (i == start) return false;
  out = static_cast<int>(v);
  return true;
}
}  // namespace

std::optional<GoVersion> GoVersion::parse(std::string_view text) {
  size_t pos = text.find("go1.");
  if (pos == std::string_view::npos) return std::nullopt;
  GoVersion v;
  v.raw = std::string(text);
  size_t i = pos + 2;
  if (!read_int(text, i, v.major) || i >= text.size() || text[i] != '.') return std::nullopt;
  ++i;
  if (!read_int(text, i, v.minor)) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!read_int(text, i, v.patch)) v.patch = 0;
  }
  return v;
}

std::string GoVersion::short_name() const { return fmt::format("go{}.{}", major, minor); }

VersionSupport classify(const GoVersion& v) {
  if (v.major != 1 || v.minor < kOldestSupportedMinor) return VersionSupport::TooOld;
  if (v.minor > kNewestKnownMinor) return VersionSupport::Newer;
  return VersionSupport::Supported;
}

}  // namespace gotrace
