// Counter slots: every command's list is checked by the runner before it
// loads anything; here, that the check itself catches what it must.
#include <catch2/catch.hpp>

#include "gotrace/session/trace_context.h"

using namespace gotrace;

TEST_CASE("counter specs: base and park tracking are named once, drops are the table and ring losses",
          "[counters]") {
  CounterSpecs specs = counter_specs({park_counter_specs()});
  REQUIRE(check_counter_specs(specs));
  Counters c{};
  c[GT_CNT_DROP_RINGBUF] = 3;
  c[GT_CNT_DROP_PARKED_FULL] = 4;
  c[GT_CNT_EVENTS] = 100;  // not a loss
  c[GT_CNT_PARKS] = 1000;  // not a loss
  CHECK(total_drops(c, specs) == 7);
  // Without park tracking its slots are neither named nor counted.
  CHECK(total_drops(c, counter_specs()) == 3);
}

TEST_CASE("counter specs: a slot named twice, a name used twice or a slot out of range is refused",
          "[counters]") {
  static constexpr CounterSpec twice_slot[] = {{GT_CNT_OWN_FIRST, "a"}, {GT_CNT_OWN_FIRST, "b"}};
  static constexpr CounterSpec twice_name[] = {{GT_CNT_OWN_FIRST, "parks"}};
  static constexpr CounterSpec out_of_range[] = {{GT_CNT_SLOTS, "far"}};
  static constexpr CounterSpec fine[] = {{GT_CNT_OWN_FIRST, "mine"},
                                         {GT_CNT_OWN_FIRST + 1, "also_mine", true}};
  CHECK_FALSE(check_counter_specs(counter_specs({twice_slot})));
  CHECK_FALSE(check_counter_specs(counter_specs({park_counter_specs(), twice_name})));
  CHECK_FALSE(check_counter_specs(counter_specs({out_of_range})));
  CHECK_FALSE(check_counter_specs(counter_specs({park_counter_specs(), park_counter_specs()})));
  REQUIRE(check_counter_specs(counter_specs({fine})));
  Counters c{};
  c[GT_CNT_OWN_FIRST + 1] = 5;
  CHECK(total_drops(c, counter_specs({fine})) == 5);
}
