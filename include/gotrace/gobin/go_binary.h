// GoBinary: everything gotrace knows about one Go executable, read from the
// file alone (no root needed): version and build settings, symbols and lines,
// runtime struct offsets, wait reasons, and how it was built.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "gotrace/disasm/code_analysis.h"
#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/buildinfo.h"
#include "gotrace/gobin/pclntab.h"
#include "gotrace/gobin/runtime_offsets.h"
#include "gotrace/gobin/wait_reasons.h"
#include "gotrace/util/result.h"

namespace gotrace {

struct BuildFacts {
  bool pie = false;
  bool stripped = false;          // no .symtab
  bool dwarf = false;             // .debug_info present
  bool external_linking = false;  // linked by the system linker (cgo, -linkmode=external)
  bool cgo = false;               // CGO_ENABLED=1 in buildinfo, or cgo symbols
  std::string build_mode;         // buildinfo -buildmode, or "exe"/"pie" from the ELF
};

class GoBinary {
 public:
  // Opens and analyses a Go executable. Fails with a one-line reason for a
  // file that is not ELF or not a Go program.
  static Result<std::unique_ptr<GoBinary>> open(const std::string& path);
  static Result<std::unique_ptr<GoBinary>> from_image(std::unique_ptr<ElfImage> image);

  const ElfImage& elf() const { return *image_; }
  const BuildInfo& buildinfo() const { return buildinfo_; }
  const GoVersion& version() const { return buildinfo_.version; }
  Arch arch() const { return image_->arch(); }
  const Pclntab& pclntab() const { return *pclntab_; }
  const BuildFacts& facts() const { return facts_; }

  // Offsets and wait reasons; an error here does not stop `info`, but stops tracing.
  const Result<RuntimeOffsets>& offsets() const { return offsets_; }
  const Result<WaitReasons>& wait_reasons() const { return wait_reasons_; }

  // Decodes one function's code (entry site, RETs, tail jumps).
  FunctionCode analyze(const GoFunc& fn) const;

 private:
  GoBinary() = default;
  std::unique_ptr<ElfImage> image_;
  BuildInfo buildinfo_;
  std::unique_ptr<Pclntab> pclntab_;
  BuildFacts facts_;
  Result<RuntimeOffsets> offsets_{Error{"not resolved"}};
  Result<WaitReasons> wait_reasons_{Error{"not resolved"}};
};

}  // namespace gotrace
