#include "runtime/timefmt.h"

#include <gtest/gtest.h>

namespace kube {
namespace {

using namespace std::chrono;

TEST(FormatRfc3339, EachPrecisionPadsTheFraction) {
  // 2024-05-01T12:00:00Z plus 7,005 microseconds.
  const system_clock::time_point t = sys_days{year{2024} / 5 / 1} + hours(12) + microseconds(7005);
  EXPECT_EQ(formatRfc3339(t), "2024-05-01T12:00:00Z");
  EXPECT_EQ(formatRfc3339(t, TimePrecision::Millis), "2024-05-01T12:00:00.007Z");
  EXPECT_EQ(formatRfc3339(t, TimePrecision::Micros), "2024-05-01T12:00:00.007005Z");
}

TEST(FormatRfc3339, BeforeTheEpochFloorsToTheSecondBelow) {
  const system_clock::time_point t = system_clock::time_point{} - microseconds(250000);
  EXPECT_EQ(formatRfc3339(t, TimePrecision::Micros), "1969-12-31T23:59:59.750000Z");
}

}  // namespace
}  // namespace kube
