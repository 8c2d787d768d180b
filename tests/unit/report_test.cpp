// JSON writer, histograms, durations, wait-reason filters: the small pieces
// every report stands on.
#include "gotrace/model/histogram.h"
#include "gotrace/probes/reason_filter.h"
#include "gotrace/report/block_writer.h"
#include "gotrace/report/json_writer.h"
#include "gotrace/util/duration.h"

#include <catch2/catch.hpp>

#include <sstream>

using namespace gotrace;

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

TEST_CASE("Log2Histogram percentiles stay inside the right bucket and under the max", "[report]") {
  Log2Histogram h;
  // 90 values in [1024, 2048) ns, 10 in [1 Mi, 2 Mi) ns.
  h.buckets[10] = 90;
  h.buckets[20] = 10;
  uint64_t p50 = h.percentile(0.5, 1'500'000);
  CHECK(p50 >= 1024);
  CHECK(p50 < 2048);
  uint64_t p99 = h.percentile(0.99, 1'500'000);
  CHECK(p99 >= (1u << 20));
  CHECK(p99 <= 1'500'000);  // capped by the exact max
  CHECK(Log2Histogram{}.percentile(0.5, 0) == 0);
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

TEST_CASE("format_duration picks a readable unit", "[report]") {
  CHECK(format_duration(12) == "12ns");
  CHECK(format_duration(1'500) == "1.5µs");
  CHECK(format_duration(45'600'000) == "45.6ms");
  CHECK(format_duration(1'230'000'000) == "1.23s");
}

TEST_CASE("reason_mask selects categories, names, and a sensible default", "[report]") {
  WaitReasons w;
  w.names = {"", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)", "dumping heap",
             "garbage collection", "garbage collection scan", "panicwait", "select", "select (no cases)",
             "GC assist wait", "GC sweep wait", "GC scavenge wait", "chan receive", "chan send", "finalizer wait",
             "force gc (idle)", "semacquire", "sleep", "sync.Cond.Wait", "sync.Mutex.Lock"};
  auto def = reason_mask(w, {});
  REQUIRE(def);
  CHECK(mask_has(*def, 14));       // chan receive
  CHECK(mask_has(*def, 2));        // IO wait
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
