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

// The instant of an RFC 3339 time, for comparisons in the tests.
sys_seconds utcOf(const char* s) {
  const auto t = parseRfc3339(s);
  EXPECT_TRUE(t.has_value()) << s;
  return t ? t->utc : sys_seconds{};
}

TEST(ParseRfc3339, UtcWithAndWithoutAFraction) {
  const auto t = parseRfc3339("2025-11-28T06:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->utc, sys_days{year{2025} / 11 / 28} + hours(6));
  EXPECT_EQ(t->fraction, nanoseconds(0));
  EXPECT_EQ(t->offset, minutes(0));
  const auto f = parseRfc3339("2025-11-28T06:00:00.5Z");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->fraction, milliseconds(500));
  // Nanoseconds are kept; digits past them are dropped, not rounded.
  EXPECT_EQ(parseRfc3339("2025-11-28T06:00:00.123456789Z")->fraction, nanoseconds(123456789));
  EXPECT_EQ(parseRfc3339("2025-11-28T06:00:00.1234567899Z")->fraction, nanoseconds(123456789));
}

TEST(ParseRfc3339, OffsetsAreAppliedAndKept) {
  const auto t = parseRfc3339("2025-11-28T07:30:00+01:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->utc, sys_days{year{2025} / 11 / 28} + hours(6) + minutes(30));
  EXPECT_EQ(t->offset, minutes(60));
  const auto w = parseRfc3339("2025-11-27T23:15:00-05:45");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->utc, sys_days{year{2025} / 11 / 28} + hours(5));
  EXPECT_EQ(w->offset, minutes(-345));
  // Across midnight and a year boundary.
  EXPECT_EQ(utcOf("2026-01-01T00:30:00+01:00"),
            sys_days{year{2025} / 12 / 31} + hours(23) + minutes(30));
}

TEST(ParseRfc3339, InstantsCompareWhateverTheirOffset) {
  const auto a = *parseRfc3339("2025-11-28T06:30:00+01:00");
  const auto b = *parseRfc3339("2025-11-28T05:30:00Z");
  const auto c = *parseRfc3339("2025-11-28T05:30:00.000000001Z");
  EXPECT_EQ(a, b);
  EXPECT_LT(b, c);
  EXPECT_GT(c, a);
  EXPECT_LT(*parseRfc3339("2025-11-28T05:59:59Z"), *parseRfc3339("2025-11-28T06:00:00Z"));
}

TEST(ParseRfc3339, LowercaseAndSpaceSeparatorsAsTheRfcAllows) {
  const sys_seconds want = sys_days{year{2025} / 11 / 28} + hours(6);
  EXPECT_EQ(utcOf("2025-11-28t06:00:00z"), want);
  EXPECT_EQ(utcOf("2025-11-28 06:00:00Z"), want);
}

TEST(ParseRfc3339, EveryYearTheFormatCanWrite) {
  EXPECT_EQ(utcOf("0000-01-01T00:00:00Z"), sys_days{year{0} / 1 / 1});
  EXPECT_EQ(utcOf("9999-12-31T23:59:59Z"),
            sys_days{year{9999} / 12 / 31} + hours(23) + minutes(59) + seconds(59));
  EXPECT_EQ(utcOf("1969-12-31T23:59:59Z"), sys_seconds{} - seconds(1));
  // Leap years: 2024 and 2000 have a February 29; 2025 and 1900 do not.
  EXPECT_TRUE(parseRfc3339("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(parseRfc3339("2000-02-29T00:00:00Z"));
  EXPECT_FALSE(parseRfc3339("2025-02-29T00:00:00Z"));
  EXPECT_FALSE(parseRfc3339("1900-02-29T00:00:00Z"));
}

TEST(ParseRfc3339, AnythingElseIsRefused) {
  for (const char* bad : {
           "",
           "2025-11-28",                 // a date alone
           "2025-11-28T06:00:00",        // no offset
           "2025-11-28T06:00Z",          // no seconds
           "2025-11-28T06:00:00.Z",      // a point without digits
           "2025-11-28T06:00:00Zx",      // trailing text
           "2025-11-28T06:00:00+01",     // offset without minutes
           "2025-11-28T06:00:00+0100",   // offset without a colon
           "2025-11-28T06:00:00+24:00",  // offset hours out of range
           "2025-11-28T06:00:00+01:60",  // offset minutes out of range
           "2025-11-28T24:00:00Z",       // hour 24
           "2025-11-28T06:60:00Z",       // minute 60
           "2025-11-28T06:00:60Z",       // leap second
           "2025-02-30T06:00:00Z",       // a day that does not exist
           "2025-13-01T06:00:00Z",       // month 13
           "2025-00-01T06:00:00Z",       // month 0
           "2025-11-00T06:00:00Z",       // day 0
           "2025/11/28T06:00:00Z",       // wrong separators
           "2025-11-28X06:00:00Z",       // wrong date-time separator
           "+2025-11-28T06:00:00Z",      // a sign before the year
           "20251-11-28T06:00:00Z",      // five-digit year
           " 2025-11-28T06:00:00Z",      // leading space
           "2025-11-28T06:00:00 Z",      // space before the offset
           "2025-1a-28T06:00:00Z",       // a letter in a number
       })
    EXPECT_FALSE(parseRfc3339(bad)) << bad;
}

TEST(ParseRfc3339Utc, ZuluTimesToTheSecond) {
  const auto t = parseRfc3339Utc("2024-05-01T12:00:00.007005Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, sys_days{year{2024} / 5 / 1} + hours(12));  // the fraction is dropped
  EXPECT_EQ(parseRfc3339Utc(formatRfc3339(*t)), t);
  EXPECT_EQ(parseRfc3339Utc("1969-12-31T23:59:59Z"), system_clock::time_point{} - seconds(1));
  // Offset zero written as +00:00 is UTC too.
  EXPECT_EQ(parseRfc3339Utc("2024-05-01T12:00:00+00:00"), t);
}

TEST(ParseRfc3339Utc, OtherOffsetsMalformedTimesAndUnrepresentableYearsAreRefused) {
  EXPECT_FALSE(parseRfc3339Utc("2024-05-01T13:00:00+01:00"));
  EXPECT_FALSE(parseRfc3339Utc("2024-05-01T12:00:00"));
  EXPECT_FALSE(parseRfc3339Utc("2024-02-30T12:00:00Z"));
  EXPECT_FALSE(parseRfc3339Utc("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parseRfc3339Utc("0001-01-01T00:00:00Z"));
  EXPECT_TRUE(parseRfc3339Utc("2200-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace kube
