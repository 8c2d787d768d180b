// .go.buildinfo: the Go version and module/build settings the linker embeds
// (src/debug/buildinfo). Both the 1.18+ inline-string format and the older
// pointer format are read. No .go.buildinfo means "not a Go program".
#pragma once

#include <map>
#include <string>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/go_version.h"
#include "gotrace/util/result.h"

namespace gotrace {

struct BuildInfo {
  GoVersion version;
  std::string version_string;  // "go1.22.12"
  std::string main_path;       // "path\t…" line of modinfo
  std::map<std::string, std::string>
      settings;         // "build\tKEY=VALUE" lines (-buildmode, CGO_ENABLED, GOEXPERIMENT …)
  std::string modinfo;  // the raw module info text
  unsigned ptr_size = 8;
  bool inline_strings = true;  // 1.18+ format

  std::string setting(const std::string& key) const {
    auto it = settings.find(key);
    return it == settings.end() ? std::string() : it->second;
  }
};

Result<BuildInfo> read_buildinfo(const ElfImage& image);

}  // namespace gotrace
