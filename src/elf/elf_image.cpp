#include "gotrace/elf/elf_image.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gotrace {

std::string_view arch_name(Arch arch) {
  switch (arch) {
    case Arch::X86_64:
      return "amd64";
    case Arch::Arm64:
      return "arm64";
    default:
      return "other";
  }
}

std::string go_arch_name(uint16_t e_machine, bool is_64bit) {
  // GOARCH names (little-endian forms: big-endian files are refused earlier).
  switch (e_machine) {
    case EM_X86_64:
      return "amd64";
    case EM_AARCH64:
      return "arm64";
    case EM_386:
      return "386";
    case EM_ARM:
      return "arm";
    case EM_RISCV:
      return is_64bit ? "riscv64" : "riscv";
    case EM_PPC64:
      return "ppc64le";
    case EM_S390:
      return "s390x";
    case EM_MIPS:
      return is_64bit ? "mips64le" : "mipsle";
    case EM_LOONGARCH:
      return "loong64";
    default:
      return fmt::format("unknown machine {:#x}", e_machine);
  }
}

bool ElfSection::has_file_bytes() const { return type != SHT_NOBITS; }

namespace {
const char* file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a file";
}

bool libelf_ready() {
  static const bool ok = elf_version(EV_CURRENT) != EV_NONE;
  return ok;
}
}  // namespace

Result<std::unique_ptr<ElfImage>> ElfImage::open(const std::string& path) {
  // Only regular files: opening a FIFO blocks until a writer comes, and a
  // device may act on being opened. Checked before opening, and again on
  // what was opened (O_NONBLOCK keeps a FIFO swapped in meanwhile from blocking).
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error("cannot open {}: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error("{} is not a regular file ({})", path, file_kind(st.st_mode));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return make_error("cannot open {}: {}", path, std::strerror(errno));
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return make_error("cannot stat {}: {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error("{} is not a regular file ({})", path, file_kind(st.st_mode));
  }
  if (st.st_size < 64) {
    ::close(fd);
    return make_error("{} is too small to be an ELF file ({} bytes)", path, st.st_size);
  }
  // Copy-on-write: libelf points section headers into the image, and libdw
  // updates them when it decompresses an SHF_COMPRESSED section. The file
  // itself is never written.
  void* map = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (map == MAP_FAILED) return make_error("cannot map {}: {}", path, std::strerror(e));

  std::unique_ptr<ElfImage> img(new ElfImage());
  img->path_ = path;
  img->mapping_ = map;
  img->data_ = static_cast<const uint8_t*>(map);
  img->size_ = static_cast<size_t>(st.st_size);
  if (auto r = img->parse(); !r) return r.error();
  return img;
}

Result<std::unique_ptr<ElfImage>> ElfImage::from_bytes(std::vector<uint8_t> bytes, std::string name) {
  std::unique_ptr<ElfImage> img(new ElfImage());
  img->path_ = std::move(name);
  img->owned_ = std::move(bytes);
  img->data_ = img->owned_.data();
  img->size_ = img->owned_.size();
  if (auto r = img->parse(); !r) return r.error();
  return img;
}

ElfImage::~ElfImage() {
  if (elf_) elf_end(elf_);
  if (mapping_) munmap(mapping_, size_);
}

Result<void> ElfImage::parse() {
  if (!libelf_ready()) return make_error("libelf initialisation failed");
  if (size_ < EI_NIDENT || std::memcmp(data_, ELFMAG, SELFMAG) != 0)
    return make_error("{} is not an ELF file", path_);
  // libelf wants a mutable pointer; the mapping (or owned_) is a private copy.
  // What libelf would refuse, named: it gives no reason for these.
  if (data_[EI_CLASS] != ELFCLASS32 && data_[EI_CLASS] != ELFCLASS64)
    return make_error("{}: unsupported ELF class {} (1 is 32-bit, 2 is 64-bit): a damaged file?", path_,
                      data_[EI_CLASS]);
  if (data_[EI_DATA] != ELFDATA2LSB && data_[EI_DATA] != ELFDATA2MSB)
    return make_error("{}: unknown ELF byte order {}: a damaged file?", path_, data_[EI_DATA]);
  if (data_[EI_VERSION] != EV_CURRENT)
    return make_error("{}: unsupported ELF version {}: a damaged file?", path_, data_[EI_VERSION]);
  elf_ = elf_memory(const_cast<char*>(reinterpret_cast<const char*>(data_)), size_);
  if (!elf_ || elf_kind(elf_) != ELF_K_ELF) {
    int err = elf_errno();
    return make_error("{}: libelf cannot read it as an ELF file ({})", path_,
                      err ? elf_errmsg(err) : "no reason given");
  }

  GElf_Ehdr eh;
  if (!gelf_getehdr(elf_, &eh)) return make_error("{}: bad ELF header ({})", path_, elf_errmsg(-1));
  is_64_ = eh.e_ident[EI_CLASS] == ELFCLASS64;
  big_endian_ = eh.e_ident[EI_DATA] == ELFDATA2MSB;
  if (big_endian_) return make_error("{}: big-endian ELF files are not supported", path_);
  machine_ = eh.e_machine;
  elf_type_ = eh.e_type;
  entry_ = eh.e_entry;
  arch_ = machine_ == EM_X86_64 ? Arch::X86_64 : machine_ == EM_AARCH64 ? Arch::Arm64 : Arch::Other;

  size_t phnum = 0;
  if (elf_getphdrnum(elf_, &phnum) == 0) {
    for (size_t i = 0; i < phnum; ++i) {
      GElf_Phdr ph;
      if (!gelf_getphdr(elf_, static_cast<int>(i), &ph)) continue;
      segments_.push_back(
          {ph.p_type, ph.p_flags, ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_align});
    }
  }

  size_t shstrndx = 0;
  bool have_names = elf_getshdrstrndx(elf_, &shstrndx) == 0;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    ElfSection s;
    if (have_names) {
      const char* n = elf_strptr(elf_, shstrndx, sh.sh_name);
      if (n) s.name = n;
    }
    s.type = sh.sh_type;
    s.flags = sh.sh_flags;
    s.addr = sh.sh_addr;
    s.offset = sh.sh_offset;
    s.size = sh.sh_size;
    sections_.push_back(std::move(s));
  }
  return {};
}

const ElfSection* ElfImage::section(std::string_view name) const {
  for (const auto& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

std::span<const uint8_t> ElfImage::section_bytes(const ElfSection& s) const {
  if (!s.has_file_bytes() || s.offset > size_ || s.size > size_ - s.offset) return {};
  return {data_ + s.offset, static_cast<size_t>(s.size)};
}

const ElfSegment* ElfImage::segment_of_vaddr(uint64_t vaddr) const {
  for (const auto& p : segments_)
    if (p.type == PT_LOAD && vaddr >= p.vaddr && vaddr - p.vaddr < p.memsz) return &p;
  return nullptr;
}

bool ElfImage::has_interp() const {
  for (const auto& p : segments_)
    if (p.type == PT_INTERP) return true;
  return false;
}

std::optional<uint64_t> ElfImage::vaddr_to_file_offset(uint64_t vaddr) const {
  const ElfSegment* p = segment_of_vaddr(vaddr);
  if (!p || vaddr - p->vaddr >= p->filesz) return std::nullopt;
  return vaddr - p->vaddr + p->offset;
}

std::span<const uint8_t> ElfImage::bytes_from_vaddr(uint64_t vaddr) const {
  const ElfSegment* p = segment_of_vaddr(vaddr);
  if (!p) return {};
  uint64_t in_seg = vaddr - p->vaddr;
  if (in_seg >= p->filesz) return {};
  uint64_t off = p->offset + in_seg;
  if (off > size_) return {};
  uint64_t avail = std::min<uint64_t>(p->filesz - in_seg, size_ - off);
  return {data_ + off, static_cast<size_t>(avail)};
}

std::optional<std::span<const uint8_t>> ElfImage::bytes_at_vaddr(uint64_t vaddr, uint64_t n) const {
  auto all = bytes_from_vaddr(vaddr);
  if (all.size() < n) return std::nullopt;
  return all.first(static_cast<size_t>(n));
}

void ElfImage::load_symbols() const {
  if (symbols_loaded_) return;
  symbols_loaded_ = true;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || sh.sh_entsize == 0) continue;
    size_t count = sh.sh_size / sh.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym)) break;
      const char* n = elf_strptr(elf_, sh.sh_link, sym.st_name);
      if (!n || !*n) continue;
      symbols_.push_back({n, sym.st_value, sym.st_size, static_cast<uint8_t>(GELF_ST_TYPE(sym.st_info)),
                          static_cast<uint8_t>(GELF_ST_BIND(sym.st_info)), sym.st_shndx});
    }
  }
  symbol_index_.reserve(symbols_.size());
  for (size_t i = 0; i < symbols_.size(); ++i) symbol_index_.emplace(symbols_[i].name, i);
}

const std::vector<ElfSymbol>& ElfImage::symbols() const {
  load_symbols();
  return symbols_;
}

const ElfSymbol* ElfImage::symbol(std::string_view name) const {
  load_symbols();
  auto it = symbol_index_.find(name);
  return it == symbol_index_.end() ? nullptr : &symbols_[it->second];
}

bool ElfImage::has_symtab() const {
  for (const auto& s : sections_)
    if (s.type == SHT_SYMTAB) return true;
  return false;
}

bool ElfImage::has_dwarf() const {
  return section(".debug_info") != nullptr || section(".zdebug_info") != nullptr;
}

}  // namespace gotrace
