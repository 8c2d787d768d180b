// Error messages say what really happened: a zombie is not a missing
// process, a truncated Go binary is not "not a Go program", a path is named
// once, an ELF header libelf refuses is explained, a 386 binary is "386";
// special files are refused instead of read; and no message carries a
// control character from the input.
#include <elf.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/buildinfo.h"
#include "gotrace/gobin/go_binary.h"
#include "gotrace/target/process.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const Fixture& amd64_analyze() {
  static const Fixture f = [] {
    for (const auto& x : fixtures_of("analyze", "amd64"))
      if (x.variant == "default") return x;
    FAIL("no amd64 default analyze fixture");
    return Fixture{};
  }();
  return f;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

size_t count_of(std::string_view s, std::string_view part) {
  size_t n = 0;
  for (size_t i = s.find(part); i != std::string_view::npos; i = s.find(part, i + 1)) ++n;
  return n;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/gotrace-errors-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  return tmpl;
}

}  // namespace

TEST_CASE("a zombie is named as one, not as a missing process", "[errors]") {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(0);
  // Exited, not reaped yet: a zombie until waitpid.
  for (int i = 0; i < 200; ++i) {
    std::ifstream st(fmt::format("/proc/{}/stat", pid));
    std::string line;
    std::getline(st, line);
    if (line.find(") Z ") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto p = Process::open(pid);
  waitpid(pid, nullptr, 0);
  REQUIRE_FALSE(p.ok());
  INFO(p.error().message);
  CHECK(p.error().message.find("zombie") != std::string::npos);
  CHECK(p.error().message.find("no process") == std::string::npos);

  auto gone = Process::open(pid);  // reaped: now it is really gone
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().message.find(fmt::format("no process with PID {}", pid)) != std::string::npos);
}

TEST_CASE("a Go binary cut short is called truncated, not 'not a Go program'", "[errors]") {
  const Fixture& f = amd64_analyze();
  auto img = ElfImage::open(f.path);
  REQUIRE(img.ok());
  const ElfSection* bi = (*img)->section(".go.buildinfo");
  REQUIRE(bi);
  auto bytes = file_bytes(f.path);
  bytes.resize(bi->offset - 1);
  auto cut = ElfImage::from_bytes(std::move(bytes), "cut-binary");
  REQUIRE(cut.ok());  // the headers are at the front: libelf still reads it
  auto bin = GoBinary::from_image(std::move(*cut));
  REQUIRE_FALSE(bin.ok());
  INFO(bin.error().message);
  CHECK(bin.error().message.find("truncated") != std::string::npos);
  CHECK(bin.error().message.find("not a Go program") == std::string::npos);
}

TEST_CASE("a pclntab error names the file once", "[errors]") {
  const Fixture& f = amd64_analyze();
  auto img = ElfImage::open(f.path);
  REQUIRE(img.ok());
  const ElfSection* tab = (*img)->section(".gopclntab");
  REQUIRE(tab);
  auto bytes = file_bytes(f.path);
  std::memset(&bytes[tab->offset], 0, 8);  // no magic anywhere: not found by section, symbol or scan
  auto copy = ElfImage::from_bytes(std::move(bytes), "/tmp/some-copy");
  REQUIRE(copy.ok());
  auto bin = GoBinary::from_image(std::move(*copy));
  REQUIRE_FALSE(bin.ok());
  INFO(bin.error().message);
  CHECK(bin.error().message.find("pclntab") != std::string::npos);
  CHECK(count_of(bin.error().message, "/tmp/some-copy") == 1);
}

TEST_CASE("an ELF header libelf refuses is explained, never '(no error)'", "[errors]") {
  auto bytes = file_bytes(amd64_analyze().path);
  for (auto [index, value] : {std::pair{EI_CLASS, 0}, std::pair{EI_CLASS, 7}, std::pair{EI_VERSION, 9}}) {
    auto b = bytes;
    b[static_cast<size_t>(index)] = static_cast<uint8_t>(value);
    auto img = ElfImage::from_bytes(std::move(b), "odd");
    INFO(index << "=" << value);
    if (img.ok()) continue;  // libelf may accept some of these; then nothing to explain
    INFO(img.error().message);
    CHECK(img.error().message.find("no error") == std::string::npos);
    CHECK(img.error().message.find("odd") != std::string::npos);
  }
  auto b = bytes;
  b[EI_CLASS] = 0;
  auto img = ElfImage::from_bytes(std::move(b), "classless");
  REQUIRE_FALSE(img.ok());
  CHECK(img.error().message.find("ELF class") != std::string::npos);
}

TEST_CASE("the architecture is named from e_machine the way Go names it", "[errors]") {
  CHECK(go_arch_name(EM_X86_64, true) == "amd64");
  CHECK(go_arch_name(EM_AARCH64, true) == "arm64");
  CHECK(go_arch_name(EM_386, false) == "386");
  CHECK(go_arch_name(EM_ARM, false) == "arm");
  CHECK(go_arch_name(EM_RISCV, true) == "riscv64");
  CHECK(go_arch_name(EM_PPC64, true) == "ppc64le");  // big-endian files are refused before
  CHECK(go_arch_name(EM_S390, true) == "s390x");
  CHECK(go_arch_name(EM_LOONGARCH, true) == "loong64");
  CHECK(go_arch_name(EM_MIPS, false) == "mipsle");
  CHECK(go_arch_name(EM_MIPS, true) == "mips64le");
  CHECK(go_arch_name(0x1234, true) == "unknown machine 0x1234");

  // An amd64 fixture relabelled as i386: `info` says linux/386.
  auto bytes = file_bytes(amd64_analyze().path);
  bytes[18] = EM_386;
  bytes[19] = 0;
  std::string dir = temp_dir();
  std::string path = dir + "/relabelled";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto img = ElfImage::open(path);
  REQUIRE(img.ok());
  CHECK((*img)->arch() == Arch::Other);
  CHECK((*img)->arch_label() == "386");
  auto r = run_command(std::string(GOTRACE_BINARY) + " info --binary " + shell_quote(path) + " 2>&1");
  INFO(r.out);
  CHECK(r.out.find("linux/386") != std::string::npos);
  CHECK(r.out.find("linux/other") == std::string::npos);
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("info --binary refuses FIFOs and devices instead of hanging", "[errors]") {
  std::string dir = temp_dir();
  std::string fifo = dir + "/fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string& path : {fifo, std::string("/dev/zero"), std::string("/dev/null")}) {
    INFO(path);
    // Before the fix, opening the FIFO blocked forever (timeout's 124).
    auto r = run_command("timeout 10 " + std::string(GOTRACE_BINARY) + " info --binary " + shell_quote(path) +
                         " 2>&1");
    INFO(r.out);
    CHECK(r.status == 1);
    CHECK(r.out.find("not a regular file") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
  // Directories are refused by the command line already; the reader says so too.
  auto d = ElfImage::open(dir);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message.find("not a regular file (a directory)") != std::string::npos);
  auto f = ElfImage::open(fifo);
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().message.find("not a regular file (a FIFO)") != std::string::npos);
  unlink(fifo.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("error messages carry no control characters from the input", "[errors]") {
  // A build-information version string holding an escape sequence and a newline.
  const Fixture& f = amd64_analyze();
  auto img = ElfImage::open(f.path);
  REQUIRE(img.ok());
  const ElfSection* bi = (*img)->section(".go.buildinfo");
  REQUIRE(bi);
  auto bytes = file_bytes(f.path);
  // Go 1.18+: inline strings after the 32-byte header, a varint length first ("go1.NN…").
  size_t v = bi->offset + 33;
  REQUIRE(bytes[v] == 'g');
  bytes[v] = 0x1b;
  bytes[v + 1] = '\n';
  auto bad = ElfImage::from_bytes(std::move(bytes), "esc");
  REQUIRE(bad.ok());
  auto info = read_buildinfo(**bad);
  REQUIRE_FALSE(info.ok());
  INFO(info.error().message);
  CHECK_FALSE(has_control(info.error().message));
  CHECK(info.error().message.find("\\x1b") != std::string::npos);

  // A file name with control characters, as a path or a name.
  auto named = ElfImage::from_bytes(std::vector<uint8_t>(128, 'x'), "bad\nname\x07");
  REQUIRE_FALSE(named.ok());
  INFO(named.error().message);
  CHECK_FALSE(has_control(named.error().message));
  CHECK(named.error().message.find("bad\\x0aname\\x07") != std::string::npos);
}
