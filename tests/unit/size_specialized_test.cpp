// Go 1.27's size-specialized mallocs, read from every fixture: where they
// lie, and the type a compiled `new(T)` passes them, checked against the
// type descriptors of the binary itself.
#include "gotrace/gobin/size_specialized.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "gotrace/disasm/code_analysis.h"
#include "gotrace/gobin/go_types.h"
#include "gotrace/gobin/go_version.h"
#include "support/fixtures.h"

using namespace gotrace;

TEST_CASE("size-specialized malloc names", "[sizespec]") {
  for (const char* n :
       {"runtime.mallocgcTinySC2", "runtime.mallocgcSmallNoScanSC7", "runtime.mallocgcSmallScanNoHeaderSC1",
        "runtime.mallocgcSmallNoScanSlowPath", "runtime.mallocgcTinySlowPath"})
    CHECK(is_size_specialized_malloc(n));
  for (const char* n : {"runtime.mallocgc", "runtime.mallocgcTiny", "runtime.mallocgcSmallNoscan",
                        "runtime.mallocgcLarge", "runtime.mallocgcSC", "runtime.mallocgcSlowPath",
                        "main.mallocgcTinySC2", "runtime.mallocgcSmallScanNoHeader"})
    CHECK_FALSE(is_size_specialized_malloc(n));
}

TEST_CASE("size-specialized mallocs: one run of functions in 1.27+, none before, call sites give their types",
          "[sizespec]") {
  // Class sizes of the first size classes (sizeclasses.go, every release).
  const uint64_t class_size[] = {0, 8, 16, 24, 32, 48, 64, 80};
  size_t checked_sites = 0;
  for (const auto& fx : test::fixtures_of("allocprof")) {
    INFO(fx.label());
    auto img = ElfImage::open(fx.path);
    REQUIRE(img.ok());
    auto tab = Pclntab::load(**img);
    REQUIRE(tab.ok());
    const Pclntab& t = **tab;
    auto range = find_size_specialized_mallocs(t);
    INFO((range.ok() ? "" : range.error().message));
    REQUIRE(range.ok());
    const bool has = t.function_by_name("runtime.mallocgcSmallScanNoHeaderSC2").has_value();
    CHECK(has == (fx.minor >= 27));  // on by default from 1.27 (internal/buildcfg/exp.go)
    REQUIRE(range->has_value() == has);
    if (!has) continue;
    const auto& r = **range;
    // Exactly the named functions are in the range.
    size_t inside = 0;
    for (size_t i = 0; i < t.function_count(); ++i) {
      auto f = t.function_by_index(i);
      bool in = r.contains(f.entry);
      CHECK(in == is_size_specialized_malloc(f.name));
      inside += in;
    }
    CHECK(inside == r.functions);
    CHECK(r.functions >= 15);  // TinySC2, NoScanSC2-7, ScanNoHeaderSC1-7 and the slow paths

    // Every direct call from the workload to one of them passes a constant
    // type whose size fits the callee's size class (and the previous class
    // is too small).
    auto types = GoTypes::load(**img, t);
    REQUIRE(types.ok());
    std::set<std::string> names;
    for (size_t i = 0; i < t.function_count(); ++i) {
      auto f = t.function_by_index(i);
      if (!f.name.starts_with("gotrace.test/fixtures/internal/allocwork.")) continue;
      auto code = (*img)->bytes_at_vaddr(f.entry, f.end - f.entry);
      REQUIRE(code);
      auto fc = analyze_function((*img)->arch(), *code, f.entry);
      for (const auto& c : fc.calls) {
        auto callee = t.function_at(c.target);
        if (!callee || !is_size_specialized_malloc(callee->name) || callee->name.ends_with("SlowPath"))
          continue;
        std::string_view cn = callee->name;
        const uint64_t ret = c.site.address + (fx.arch == "arm64" ? 4 : 5);
        INFO(cn << " called at " << std::hex << c.site.address);
        auto typ = call_site_type(**img, t, ret);
        REQUIRE(typ);
        auto info = types->type_at(*typ);
        INFO((info.ok() ? "" : info.error().message));
        REQUIRE(info.ok());
        INFO(info->name << " size " << info->size);
        const unsigned sc = static_cast<unsigned>(cn.back() - '0');
        REQUIRE((sc >= 1 && sc <= 7));
        if (cn.starts_with("runtime.mallocgcTiny")) {
          CHECK(info->size < 16);  // the tiny allocator: pointer-free objects under 16 bytes
        } else {
          CHECK(info->size <= class_size[sc]);
          CHECK(info->size > class_size[sc - 1]);
        }
        names.insert(info->name);
        ++checked_sites;
      }
    }
    // The workload's small sites (allocwork.go: new([64]byte), &Small{…}).
    CHECK(names.count("[64]uint8") == 1);
    CHECK(names.count("allocwork.Small") == 1);
  }
  CHECK(checked_sites > 0);
}

// The fast path and the SlowPath of one size-specialized malloc give one
// stack: the allocator's frames fold into its outermost function, the
// probed PC and the caller's frames stay as they were (with a load bias as
// a PIE has).
TEST_CASE("size-specialized frames fold into one stack per call site", "[sizespec]") {
  for (const auto& fx : test::fixtures_of("allocprof", "amd64")) {
    if (fx.minor < 27 || fx.variant != "default") continue;
    INFO(fx.label());
    auto img = ElfImage::open(fx.path);
    REQUIRE(img.ok());
    auto tab = Pclntab::load(**img);
    REQUIRE(tab.ok());
    const Pclntab& t = **tab;
    auto range = find_size_specialized_mallocs(t);
    REQUIRE(range.ok());
    REQUIRE(range->has_value());
    auto sc4 = t.function_by_name("runtime.mallocgcSmallScanNoHeaderSC4");
    auto slow = t.function_by_name("runtime.mallocgcSmallScanSlowPath");
    auto prof = t.function_by_name("runtime.profilealloc");
    auto user = t.function_by_name("gotrace.test/fixtures/internal/allocwork.SmallPointerful");
    REQUIRE(sc4);
    REQUIRE(slow);
    REQUIRE(prof);
    REQUIRE(user);
    for (uint64_t bias : {uint64_t{0}, uint64_t{0x5555'5555'0000}}) {
      const uint64_t probed = prof->entry + bias, ret_user = user->entry + 0x20 + bias;
      const std::vector<uint64_t> fast = {probed, sc4->entry + 0x40 + bias, ret_user};
      const std::vector<uint64_t> slow_path = {probed, slow->entry + 0x30 + bias, sc4->entry + 0x90 + bias,
                                               ret_user};
      const std::vector<uint64_t> want = {probed, sc4->entry + 1 + bias, ret_user};
      CHECK(fold_size_specialized_frames(fast, **range, t, bias) == want);
      CHECK(fold_size_specialized_frames(slow_path, **range, t, bias) == want);
      // A stack outside the allocator stays as it is.
      const std::vector<uint64_t> other = {probed, ret_user, ret_user + 8};
      CHECK(fold_size_specialized_frames(other, **range, t, bias) == other);
    }
  }
}
