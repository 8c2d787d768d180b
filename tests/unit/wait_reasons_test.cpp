// waitReason names: runtime.waitReasonStrings of every fixture with symbols
// against the per-version table, the table fallback for stripped fixtures,
// and mutated tables.
#include "gotrace/gobin/wait_reasons.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <sstream>

#include "gotrace/elf/elf_image.h"
#include "gotrace/gobin/buildinfo.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

// Go 1.<minor> of a fixture, from the version `go version` printed for it
// (the manifest's first column is "1.N").
int minor_of(const Fixture& f) {
  auto v = GoVersion::parse(f.version);
  REQUIRE(v);
  return v->minor;
}

std::unique_ptr<ElfImage> open_image(const std::string& path) {
  auto img = ElfImage::open(path);
  INFO(path);
  REQUIRE(img.ok());
  return std::move(*img);
}

GoVersion version_of(const ElfImage& img) {
  auto bi = read_buildinfo(img);
  REQUIRE(bi.ok());
  return bi->version;
}

// Size of runtime.waitReasonStrings in each file, as `go tool nm -size`
// reports it (one run over all the files).
std::map<std::string, uint64_t> nm_sizes(const std::vector<std::string>& paths) {
  std::string cmd = go_command() + " tool nm -size";
  for (const auto& p : paths) cmd += " " + shell_quote(p);
  auto r = run_command(cmd);
  REQUIRE(r.status == 0);
  std::map<std::string, uint64_t> out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    // "<file>:\t<addr> <size> <kind> <name>" (the file prefix only with several files)
    auto colon = line.find(":\t");
    if (colon == std::string::npos) continue;
    std::istringstream ls(line.substr(colon + 2));
    std::string addr, size, kind, name;
    if (ls >> addr >> size >> kind >> name && name == "runtime.waitReasonStrings")
      out[line.substr(0, colon)] = std::stoull(size);
  }
  return out;
}

}  // namespace

TEST_CASE("waitReasonStrings in every fixture with symbols equals the version table", "[waitreasons]") {
  std::vector<std::string> with_symbols;
  for (const auto& f : fixtures())
    if (f.variant != "stripped") with_symbols.push_back(f.path);
  REQUIRE_FALSE(with_symbols.empty());
  auto sizes = nm_sizes(with_symbols);
  for (const auto& f : fixtures()) {
    INFO(f.label());
    auto img = open_image(f.path);
    auto version = version_of(*img);
    auto table = wait_reasons_from_table(version);
    REQUIRE(table.ok());
    CHECK(table->source == WaitReasonSource::VersionTable);
    if (f.variant == "stripped") continue;
    auto bin = wait_reasons_from_binary(*img);
    REQUIRE(bin.ok());
    CHECK(bin->source == WaitReasonSource::Binary);
    REQUIRE(bin->names.size() == table->names.size());
    for (size_t i = 0; i < bin->names.size(); ++i) {
      INFO("waitReason " << i);
      CHECK(bin->names[i] == table->names[i]);
    }
    REQUIRE(sizes.count(f.path) == 1);
    CHECK(bin->names.size() * 16 == sizes[f.path]);
    auto resolved = resolve_wait_reasons(*img, version);
    REQUIRE(resolved.ok());
    CHECK(resolved->source == WaitReasonSource::Binary);
  }
}

TEST_CASE("stripped fixtures fall back to the version table", "[waitreasons]") {
  int stripped = 0;
  for (const auto& f : fixtures()) {
    if (f.variant != "stripped") continue;
    INFO(f.label());
    ++stripped;
    auto img = open_image(f.path);
    auto bin = wait_reasons_from_binary(*img);
    REQUIRE_FALSE(bin.ok());
    CHECK(bin.error().message == f.path + " has no runtime.waitReasonStrings symbol (stripped binary?)");
    auto version = version_of(*img);
    auto resolved = resolve_wait_reasons(*img, version);
    REQUIRE(resolved.ok());
    CHECK(resolved->source == WaitReasonSource::VersionTable);
    CHECK(resolved->names == wait_reasons_from_table(version)->names);
    auto unknown = resolve_wait_reasons(*img, std::nullopt);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message.find("Go version is unknown") != std::string::npos);
  }
  CHECK(stripped > 0);
}

TEST_CASE("wait reason values move between releases as the runtime source says", "[waitreasons]") {
  // From each release's src/runtime/runtime2.go waitReason constants.
  struct Expect {
    int minor;
    size_t count;
    unsigned chan_receive, sleep, select, semacquire;
  };
  const Expect expects[] = {
      {17, 27, 14, 19, 9, 18}, {18, 27, 14, 19, 9, 18},  {19, 27, 14, 19, 9, 18}, {20, 32, 14, 19, 9, 18},
      {21, 32, 14, 19, 9, 18}, {22, 37, 14, 19, 9, 18},  {23, 38, 14, 19, 9, 18}, {24, 44, 14, 19, 9, 18},
      {25, 47, 14, 20, 9, 19}, {26, 47, 19, 14, 18, 13},
  };
  for (const auto& e : expects) {
    INFO("go1." << e.minor);
    auto t = wait_reasons_from_table(GoVersion{1, e.minor, 0, ""});
    REQUIRE(t.ok());
    CHECK(t->names.size() == e.count);
    CHECK(t->value_of("chan receive") == e.chan_receive);
    CHECK(t->value_of("sleep") == e.sleep);
    CHECK(t->value_of("select") == e.select);
    CHECK(t->value_of("semacquire") == e.semacquire);
    CHECK(t->name(0).empty());
    CHECK(t->name(e.chan_receive) == "chan receive");
    CHECK(t->name(200) == "waitreason(200)");
    CHECK_FALSE(t->value_of("no such reason"));
    CHECK(t->value_of("sync.Mutex.Lock").has_value() == (e.minor >= 20));
    CHECK(t->value_of("timer goroutine (idle)").has_value() == (e.minor < 20));
  }
  // And the fixtures' own tables say the same.
  for (const auto& f : fixtures()) {
    if (f.variant != "default") continue;
    INFO(f.label());
    auto img = open_image(f.path);
    auto bin = wait_reasons_from_binary(*img);
    REQUIRE(bin.ok());
    CHECK(bin->value_of("chan receive") == (minor_of(f) >= 26 ? 19u : 14u));
  }
  CHECK_FALSE(wait_reasons_from_table(GoVersion{1, 16, 0, ""}).ok());
  CHECK_FALSE(wait_reasons_from_table(GoVersion{1, 28, 0, ""}).ok());
  CHECK_FALSE(wait_reasons_from_table(GoVersion{2, 0, 0, ""}).ok());
}

TEST_CASE("mutated waitReasonStrings never crash the reader", "[waitreasons]") {
  std::mt19937_64 rng(0x3a17);
  int ok = 0, failed = 0;
  for (const auto& f : fixtures_of("analyze")) {
    if (f.variant != "default" || f.arch != "amd64" || (minor_of(f) != 19 && minor_of(f) != 26)) continue;
    INFO(f.label());
    auto img = open_image(f.path);
    const ElfSymbol* sym = img->symbol("runtime.waitReasonStrings");
    REQUIRE(sym);
    auto off = img->vaddr_to_file_offset(sym->value);
    REQUIRE(off);
    auto span = img->file_bytes();
    std::vector<uint8_t> pristine(span.begin(), span.end());
    for (int iter = 0; iter < 250; ++iter) {
      auto bytes = pristine;
      int n = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < n; ++k) {
        uint64_t at = *off + rng() % sym->size;
        // Mostly hit the high bytes of pointers and lengths, which make them huge.
        bytes[at] = (iter % 2) ? static_cast<uint8_t>(rng()) : 0xff;
      }
      if (iter % 25 == 24) bytes.resize(*off + rng() % sym->size);  // cut through the table
      auto copy = ElfImage::from_bytes(std::move(bytes), "mutated");
      if (!copy.ok()) {
        ++failed;
        continue;
      }
      auto r = wait_reasons_from_binary(**copy);
      if (r.ok()) {
        ++ok;
        CHECK(r->names.size() <= 256);
      } else {
        ++failed;
        CHECK_FALSE(r.error().message.empty());
      }
    }
  }
  CHECK(ok > 0);
  CHECK(failed > 0);
}
