#include "gotrace/gobin/go_binary.h"

#include <elf.h>

namespace gotrace {

namespace {

bool linked_externally(const ElfImage& image, const BuildInfo& bi) {
  const std::string ldflags = bi.setting("-ldflags");
  if (ldflags.find("-linkmode=external") != std::string::npos) return true;
  if (ldflags.find("-linkmode=internal") != std::string::npos) return false;
  // The system linker brings in the C start files, which leave a .comment
  // ("GCC: …") and crt symbols; Go's internal linker writes neither.
  if (const ElfSection* c = image.section(".comment")) {
    auto bytes = image.section_bytes(*c);
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text.find("GCC") != std::string_view::npos || text.find("clang") != std::string_view::npos)
      return true;
  }
  return image.section(".init_array") != nullptr && image.section(".go.buildinfo") != nullptr &&
         image.symbol("_start") != nullptr && image.symbol("__libc_start_main") != nullptr;
}

bool uses_cgo(const BuildInfo& bi, const Pclntab& tab) {
  if (bi.setting("CGO_ENABLED") == "0") return false;
  // runtime/cgo is linked in only when cgo is really used.
  return tab.function_by_name("x_cgo_init").has_value() ||
         tab.function_by_name("_cgo_topofstack").has_value() ||
         tab.function_by_name("runtime/cgo.init").has_value() ||
         tab.function_by_name("crosscall2").has_value();
}

}  // namespace

Result<std::unique_ptr<GoBinary>> GoBinary::open(const std::string& path) {
  auto image = ElfImage::open(path);
  if (!image) return image.error();
  return from_image(std::move(*image));
}

Result<std::unique_ptr<GoBinary>> GoBinary::from_image(std::unique_ptr<ElfImage> image) {
  // A file cut short (a copy that did not finish) misses its build
  // information and tables: say so rather than "not a Go program".
  uint64_t needed = 0;
  for (const ElfSegment& s : image->segments())
    if (s.type == PT_LOAD && s.filesz) needed = std::max(needed, s.offset + s.filesz);
  if (needed > image->file_bytes().size())
    return make_error(
        "{} is truncated: it has {} bytes, its program headers place data up to byte {} (an "
        "incomplete copy?)",
        image->path(), image->file_bytes().size(), needed);

  std::unique_ptr<GoBinary> bin(new GoBinary());
  auto bi = read_buildinfo(*image);
  if (!bi) return bi.error();
  bin->buildinfo_ = std::move(*bi);

  auto tab = Pclntab::load(*image);
  if (!tab) return tab.error();  // it names the file
  bin->pclntab_ = std::move(*tab);

  BuildFacts& f = bin->facts_;
  f.pie = image->elf_type() == ET_DYN;
  f.stripped = !image->has_symtab();
  f.dwarf = image->has_dwarf();
  f.external_linking = linked_externally(*image, bin->buildinfo_);
  f.cgo = uses_cgo(bin->buildinfo_, *bin->pclntab_);
  f.build_mode = bin->buildinfo_.setting("-buildmode");
  if (f.build_mode.empty()) f.build_mode = f.pie ? "pie" : "exe";

  std::optional<GoVersion> version;
  if (bin->buildinfo_.version.major) version = bin->buildinfo_.version;
  bin->offsets_ = resolve_offsets(*image, version);
  bin->wait_reasons_ = resolve_wait_reasons(*image, version);
  bin->image_ = std::move(image);
  return bin;
}

FunctionCode GoBinary::analyze(const GoFunc& fn) const {
  uint64_t size = fn.end > fn.entry ? fn.end - fn.entry : 0;
  auto bytes = image_->bytes_at_vaddr(fn.entry, size);
  if (!bytes) {
    FunctionCode fc;
    fc.entry = fn.entry;
    fc.end = fn.end;
    fc.decode_error = "function bytes are not in the file";
    fc.no_entry_site_reason = fc.decode_error;
    return fc;
  }
  return analyze_function(arch(), *bytes, fn.entry);
}

}  // namespace gotrace
