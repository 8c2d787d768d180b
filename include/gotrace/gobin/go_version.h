// A Go release number parsed from a version string ("go1.22.12",
// "go1.26rc1", "go1.21.0 X:loopvar", "devel go1.24-abcdef …").
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace gotrace {

struct GoVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string raw;  // as found in the binary

  static std::optional<GoVersion> parse(std::string_view text);
  bool at_least(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
  std::string short_name() const;  // "go1.22"
  auto operator<=>(const GoVersion& o) const {
    if (auto c = major <=> o.major; c != 0) return c;
    if (auto c = minor <=> o.minor; c != 0) return c;
    return patch <=> o.patch;
  }
  bool operator==(const GoVersion& o) const {
    return major == o.major && minor == o.minor && patch == o.patch;
  }
};

// The range gotrace has struct-layout tables for and is tested against.
inline constexpr int kOldestSupportedMinor = 17;  // go1.17: first register ABI on amd64
inline constexpr int kNewestKnownMinor = 27;

enum class VersionSupport { Supported, Newer, TooOld };
VersionSupport classify(const GoVersion& v);

}  // namespace gotrace
