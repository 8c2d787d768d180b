// .gopclntab: the Go runtime's own function table. Maps PCs to functions,
// files, lines and inlined frames, and function names to entry/end PCs, in
// every layout from Go 1.16 to 1.26 (magic 0xfffffffa / …f0 / …f1), for plain,
// stripped, PIE, externally linked and section-less binaries.
//
// All addresses are link-time virtual addresses (what the file says). For a
// running PIE, subtract the load bias before asking.
//
// load() reads only the header and finds moduledata; functions are decoded
// on demand from the mapped file, and names, files and frames are
// string_views into it, so the ElfImage must outlive the Pclntab. Lookup
// accelerators (a bucket index over the functab, checkpoints of long pcvalue
// tables, a cache of recent symbolize() results, the name index) are built on
// first use. All queries are const and safe to call from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "gotrace/elf/elf_image.h"
#include "gotrace/util/result.h"

namespace gotrace {

enum class PclntabFormat { Go116, Go118, Go120 };
std::string_view format_name(PclntabFormat f);  // "go1.16", "go1.18", "go1.20"

struct GoFunc {
  uint64_t entry = 0;
  uint64_t end = 0;  // entry of the next function (or etext)
  std::string_view name;
  uint32_t index = 0;  // position in the functab
};

// One frame of a symbolized PC. For a PC inside inlined code, symbolize()
// yields the inlined callee first and the physical function last.
struct GoFrame {
  std::string_view function;
  std::string_view file;
  int line = 0;
  bool inlined = false;  // true for every frame but the physical function's
};

// Where moduledata was found and what it says (for the inline tree, type
// names and 1.26's textStart).
struct ModuleData {
  uint64_t vaddr = 0;  // address of runtime.firstmoduledata
  uint64_t text = 0;
  uint64_t etext = 0;
  uint64_t types = 0;
  uint64_t etypes = 0;
  uint64_t gofunc = 0;      // base of funcdata offsets (go:func.* / go.func.*)
  const char* layout = "";  // which moduledata layout its words fit: "1.20–1.26", "1.27", …
};

class Pclntab {
 public:
  // Finds and parses the table of an image: .gopclntab, .data.rel.ro.gopclntab,
  // the runtime.pclntab symbol, or a scan for the header. Locates moduledata.
  static Result<std::unique_ptr<Pclntab>> load(const ElfImage& image);
  // Parses table bytes held elsewhere (tests, fuzzing): `table` starts at the
  // pcHeader, which lives at link-time address `table_vaddr`; `image` supplies
  // moduledata, the text start and the inline trees. `table` must outlive the
  // Pclntab, as the image must.
  static Result<std::unique_ptr<Pclntab>> load(const ElfImage& image, std::span<const uint8_t> table,
                                               uint64_t table_vaddr);
  ~Pclntab();

  // Where the table was found: ".gopclntab", ".data.rel.ro.gopclntab",
  // "runtime.pclntab symbol", "scan of PT_LOAD segments" or "caller".
  std::string_view source() const;

  PclntabFormat format() const;
  uint64_t table_vaddr() const;  // address of the pcHeader
  uint64_t text_start() const;   // what functab entry offsets are relative to
  unsigned pc_quantum() const;   // 1 on amd64, 4 on arm64
  unsigned ptr_size() const;
  size_t function_count() const;
  const std::optional<ModuleData>& moduledata() const;

  // The function containing pc (nullopt if outside every function).
  std::optional<GoFunc> function_at(uint64_t pc) const;
  // By the name in the table. An assembly function and its ABI wrapper share
  // a name here; as in the ELF symbol table, "X" is the ABIInternal one and
  // "X.abi0" the ABI0 one.
  std::optional<GoFunc> function_by_name(std::string_view name) const;
  GoFunc function_by_index(size_t i) const;  // i < function_count()

  // pc -> frames, innermost (most deeply inlined) first. Empty if unknown.
  // For a return address pass pc-1 (or use symbolize_return_address).
  std::vector<GoFrame> symbolize(uint64_t pc) const;
  void symbolize(uint64_t pc, std::vector<GoFrame>& out) const;
  // Fast path without inline expansion: the physical function's name with the
  // innermost source position at pc (what `go tool objdump` prints).
  std::optional<GoFrame> line_of(uint64_t pc) const;

  // Sizes of the stack frame at pc (pcsp table): 0 at entry. Used to unwind
  // functions that have no frame pointer.
  std::optional<int32_t> sp_delta(uint64_t pc) const;

  struct Impl;

 private:
  explicit Pclntab(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gotrace
