// JSON writer, histograms, durations, wait-reason filters: the small pieces
// every report stands on.
#include <catch2/catch.hpp>
#include <sstream>

#include "commands/block/block_writer.h"
#include "commands/lock/lock_report.h"
#include "gotrace/model/histogram.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"
#include "gotrace/util/duration.h"

using namespace gotrace;

namespace {

// An independent check (RFC 3629): shortest forms, no surrogates, ≤ U+10FFFF.
bool valid_utf8_for_test(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!n || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST_CASE("JsonWriter nests, separates and escapes", "[report]") {
  std::ostringstream out;
  JsonWriter j(out, false);
  j.begin_object();
  j.field("s", "a\"b\\c\n\x01");
  j.key("list");
  j.begin_array();
  j.value(1);
  j.value(uint64_t{18446744073709551615ULL});
  j.value(true);
  j.null();
  j.begin_object();
  j.end();
  j.end();
  j.field("d", 1.5);
  j.end();
  CHECK(out.str() == R"({"s":"a\"b\\c\n\u0001","list":[1,18446744073709551615,true,null,{}],"d":1.5})");
}

TEST_CASE("JsonWriter always writes valid UTF-8", "[report]") {
  auto escaped = [](std::string_view s) {
    std::ostringstream out;
    JsonWriter::write_escaped(out, s);
    return out.str();
  };
  // Valid multi-byte characters pass through untouched.
  CHECK(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Each invalid byte becomes U+FFFD (as Go's encoding/json does): a stray
  // continuation byte, a lone lead byte, a cut sequence, an overlong form, a
  // UTF-16 surrogate, a code point past U+10FFFF, 0xff.
  CHECK(escaped("a\x80"
                "b") == "\"a\\ufffdb\"");
  CHECK(escaped("a\xc3") == "\"a\\ufffd\"");
  CHECK(escaped("\xe2\x82z") == "\"\\ufffd\\ufffdz\"");
  CHECK(escaped("\xc0\xaf") == "\"\\ufffd\\ufffd\"");
  CHECK(escaped("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");
  CHECK(escaped("\xf4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  CHECK(escaped("\xff") == "\"\\ufffd\"");
  // Control characters are escaped, DEL too.
  CHECK(escaped("\x1b[1m\x7f") == "\"\\u001b[1m\\u007f\"");
  // Every one of 20000 random strings is valid UTF-8 once written.
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int k = 0; k < 12; ++k) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s.push_back(static_cast<char>(x & 0xff));
    }
    std::string out = escaped(s);
    INFO(out);
    REQUIRE(valid_utf8_for_test(out));
  }
}

TEST_CASE("Log2Histogram percentiles stay inside the right bucket and under the max", "[report]") {
  Log2Histogram h;
  // 90 values in [1024, 2048) ns, 10 in [1 Mi, 2 Mi) ns.
  h.buckets[10] = 90;
  h.buckets[20] = 10;
  uint64_t p50 = h.percentile(0.5, 0, 1'500'000);
  CHECK(p50 >= 1024);
  CHECK(p50 < 2048);
  uint64_t p99 = h.percentile(0.99, 0, 1'500'000);
  CHECK(p99 >= (1u << 20));
  CHECK(p99 <= 1'500'000);  // capped by the exact max
  CHECK(Log2Histogram{}.percentile(0.5, 0, 0) == 0);
}

TEST_CASE("Log2Histogram percentiles stay inside the observed min and max", "[report]") {
  // Three waits of 1.00-1.01 s all land in [2^29, 2^30) ns; interpolating in
  // the bucket alone put the p50 at ~771 ms, below every value seen.
  Log2Histogram h;
  h.buckets[29] = 3;
  const uint64_t lo = 1'000'000'000, hi = 1'010'000'000;
  for (double q : {0.0, 0.01, 0.5, 0.99, 1.0}) {
    uint64_t p = h.percentile(q, lo, hi);
    CHECK(p >= lo);
    CHECK(p <= hi);
  }
  // Entries carry their min and max: p50/p99 come out inside them.
  BlockEntry e;
  e.count = 3;
  e.min_ns = lo;
  e.max_ns = hi;
  e.hist = h;
  CHECK(e.p50() >= lo);
  CHECK(e.p99() <= hi);
  LockEntry l;
  l.count = 3;
  l.min_ns = lo;
  l.max_ns = hi;
  l.hist = h;
  CHECK(l.p50() >= lo);
  CHECK(l.p99() <= hi);
  // Unknown min (0): the bucket's lower edge still bounds the estimate.
  CHECK(h.percentile(0.0, 0, hi) >= (1ULL << 29));
}

TEST_CASE("parse_duration accepts the usual units", "[report]") {
  using namespace std::chrono;
  CHECK(parse_duration("10s") == nanoseconds(10'000'000'000));
  CHECK(parse_duration("500ms") == nanoseconds(500'000'000));
  CHECK(parse_duration("100us") == nanoseconds(100'000));
  CHECK(parse_duration("2m") == nanoseconds(120'000'000'000));
  CHECK(parse_duration("1.5") == nanoseconds(1'500'000'000));
  CHECK_FALSE(parse_duration("10 parsecs"));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("-1s"));
}

TEST_CASE("parse_duration takes decimal numbers only", "[report]") {
  using namespace std::chrono;
  CHECK(parse_duration(".5s") == nanoseconds(500'000'000));
  CHECK(parse_duration("2.25ms") == nanoseconds(2'250'000));
  // strtod would read these: hex (0x10s was 16 s), exponents, blanks, signs,
  // infinity and NaN spelled out.
  for (const char* bad : {"0x10s", "0x10", "1e3ms", "1E3", " 5s", "5s ", "+5s", "inf", "nan", "infs", ".",
                          "s", "1.2.3s", "5 s"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad));
  }
}

TEST_CASE("format_duration picks a readable unit", "[report]") {
  CHECK(format_duration(12) == "12ns");
  CHECK(format_duration(1'500) == "1.5µs");
  CHECK(format_duration(45'600'000) == "45.6ms");
  CHECK(format_duration(1'230'000'000) == "1.23s");
}

TEST_CASE("reason_mask selects categories, names, and a sensible default", "[report]") {
  WaitReasons w;
  w.names = {"",
             "GC assist marking",
             "IO wait",
             "chan receive (nil chan)",
             "chan send (nil chan)",
             "dumping heap",
             "garbage collection",
             "garbage collection scan",
             "panicwait",
             "select",
             "select (no cases)",
             "GC assist wait",
             "GC sweep wait",
             "GC scavenge wait",
             "chan receive",
             "chan send",
             "finalizer wait",
             "force gc (idle)",
             "semacquire",
             "sleep",
             "sync.Cond.Wait",
             "sync.Mutex.Lock"};
  auto def = reason_mask(w, {});
  REQUIRE(def);
  CHECK(mask_has(*def, 14));        // chan receive
  CHECK(mask_has(*def, 2));         // IO wait
  CHECK_FALSE(mask_has(*def, 12));  // GC sweep wait: runtime idle
  CHECK_FALSE(mask_has(*def, 16));  // finalizer wait

  auto chan = reason_mask(w, {"chan"});
  REQUIRE(chan);
  CHECK(mask_has(*chan, 3));
  CHECK(mask_has(*chan, 14));
  CHECK(mask_has(*chan, 15));
  CHECK_FALSE(mask_has(*chan, 9));

  auto named = reason_mask(w, {"sync.Cond.Wait", "io"});
  REQUIRE(named);
  CHECK(mask_has(*named, 20));
  CHECK(mask_has(*named, 2));
  CHECK_FALSE(mask_has(*named, 14));

  auto bad = reason_mask(w, {"coffee"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("unknown wait reason 'coffee'") != std::string::npos);
}

TEST_CASE("the cost line says what the trace cost the target, or nothing when it is unknown", "[report]") {
  std::ostringstream none;
  write_cost_text(TraceCost{}, none);
  CHECK(none.str().empty());
  TraceCost c;
  c.known = true;
  c.probe_hits = 2000;
  c.trap_ns_per_hit = 600;
  c.bpf_ns = 3'000'000;
  c.estimated_ns = 4'200'000;
  c.target_cpu_ns = 42'000'000;
  std::ostringstream out;
  write_cost_text(c, out);
  CHECK(out.str() ==
        "Cost to the target: ~4.2ms of CPU (10.0% of the 42.0ms it used meanwhile): 2000 probe hits, 600ns "
        "trap "
        "each (measured here), + 3.0ms in BPF\n");
  c.probe_hits = 0;
  std::ostringstream idle;
  write_cost_text(c, idle);
  CHECK(idle.str() == "Cost to the target: none (no probe was hit)\n");
}
