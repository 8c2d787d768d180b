// Counter slots: every command's list is checked by the runner before it
// loads anything; here, that the check itself catches what it must.
#include <catch2/catch.hpp>

#include "gotrace/session/trace_context.h"

using namespace gotrace;

TEST_CASE("counter specs: base and park tracking are named once, drops are the table losses", "[counters]") {
  CounterSpecs specs = counter_specs({park_counter_specs()});
  REQUIRE(check_counter_specs(specs));
  Counters c{};
  c[GT_CNT_DROP_AGG_FULL] = 3;
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
                                         {GT_CNT_OWN_FIRST + 1, "drop_mine", true}};
  static constexpr CounterSpec drop_misnamed[] = {{GT_CNT_OWN_FIRST, "lost_mine", true}};
  static constexpr CounterSpec misnamed_drop[] = {{GT_CNT_OWN_FIRST, "drop_mine"}};
  CHECK_FALSE(check_counter_specs(counter_specs({twice_slot})));
  CHECK_FALSE(check_counter_specs(counter_specs({park_counter_specs(), twice_name})));
  CHECK_FALSE(check_counter_specs(counter_specs({out_of_range})));
  CHECK_FALSE(check_counter_specs(counter_specs({park_counter_specs(), park_counter_specs()})));
  // Reports find the drops by their name: drops are named drop_…, and only they.
  CHECK_FALSE(check_counter_specs(counter_specs({drop_misnamed})));
  CHECK_FALSE(check_counter_specs(counter_specs({misnamed_drop})));
  REQUIRE(check_counter_specs(counter_specs({fine})));
  Counters c{};
  c[GT_CNT_OWN_FIRST + 1] = 5;
  CHECK(total_drops(c, counter_specs({fine})) == 5);
}

TEST_CASE("dropped counts each lost event once: a lost stack or record is not a lost event", "[counters]") {
  // A block trace on a server with more distinct stacks than the table
  // holds: each of 1000 waits lost its parked stack and its waker's stack
  // (two stack-table misses per wait), 10 long waits lost their ring-buffer
  // record (they are in the aggregates), 3 parks found the park table full.
  CounterSpecs specs = counter_specs({park_counter_specs()});
  Counters c{};
  c[GT_CNT_PARKS] = 1000;
  c[GT_CNT_WAKES] = 997;
  c[GT_CNT_DROP_STACKS_FULL] = 2000;
  c[GT_CNT_STACK_CLOBBERED] = 4;
  c[GT_CNT_DROP_RINGBUF] = 10;
  c[GT_CNT_DROP_PARKED_FULL] = 3;
  // Only the parks that were never recorded are lost events.
  CHECK(total_drops(c, specs) == 3);
  CHECK(total_drops(c, specs) <= c[GT_CNT_PARKS]);
  // A full waker table loses a detail of a wait that was counted.
  c[GT_CNT_DETAIL_AGG_FULL] = 500;
  CHECK(total_drops(c, specs) == 3);
  // Where park tracking only serves another command's details (lock's
  // chains), a park not recorded is not one of the command's events.
  CHECK(total_drops(c, counter_specs({park_counter_specs(false)})) == 0);
  for (const auto& group :
       {counter_specs({park_counter_specs()}), counter_specs({park_counter_specs(false)})})
    REQUIRE(check_counter_specs(group));
}
