// Five-field cron expressions: what parses (with the reason when not), what
// matches, and the next run across month and year ends, leap days and
// crontab's day-of-month / day-of-week rule.
#include "api/cron.h"

#include <climits>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace kubec2::api {
namespace {

std::tm civil(int y, int mon, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mon - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return t;
}

std::string show(const std::tm& t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", t.tm_year + 1900, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min);
  return buf;
}

std::string nextAfter(const std::string& expr, const std::tm& after) {
  const auto n = CronSchedule::parse(expr).next(after);
  return n ? show(*n) : "none";
}

std::string parseError(const std::string& expr) {
  try {
    (void)CronSchedule::parse(expr);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(parsed)";
}

TEST(Cron, ValidExpressionsParse) {
  for (const char* expr : {"* * * * *", "0 8 * * 1-5", "*/15 * * * *", "0 0 1,15 * *",
                           "0 12 * JAN-MAR mon-fri", "5/15 * * * *", "0 0 * * 7", "0 0 29 2 *",
                           "0-59/10 0-23 1-31 1-12 0-7", "0 20 * * *", "30 6 * * SUN,sat"}) {
    EXPECT_NO_THROW((void)CronSchedule::parse(expr)) << expr;
  }
  EXPECT_NO_THROW((void)CronSchedule::parse("  0\t8  *  *  1-5 "));
}

TEST(Cron, InvalidExpressionsSayWhichFieldAndWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {"0 24 * * *", "field 2 (hour): 24 is out of range 0-23"},
      {"60 * * * *", "field 1 (minute): 60 is out of range 0-59"},
      {"* * 0 * *", "field 3 (day-of-month): 0 is out of range 1-31"},
      {"* * 32 * *", "field 3 (day-of-month): 32 is out of range 1-31"},
      {"* * * 13 *", "field 4 (month): 13 is out of range 1-12"},
      {"* * * * 8", "field 5 (day-of-week): 8 is out of range 0-7"},
      {"* * * JANU *", "field 4 (month): \"JANU\" is not a number or a month name (JAN-DEC)"},
      {"* * * * MONDAY",
       "field 5 (day-of-week): \"MONDAY\" is not a number or a day name (SUN-SAT)"},
      {"* MON * * *", "field 2 (hour): \"MON\" is not a number"},
      {"? * * * *", "field 1 (minute): \"?\" is not a number"},
      {"* * * * 1-", "field 5 (day-of-week): a value is missing"},
      {"*/0 * * * *", "field 1 (minute): step 0 is not a positive number"},
      {"*/x * * * *", "field 1 (minute): step \"x\" is not a positive number"},
      {"30-10 * * * *", "field 1 (minute): range 30-10 is backwards"},
      {"* * * * MON-SUN", "field 5 (day-of-week): range MON-SUN is backwards"},
      {"1,,2 * * * *", "field 1 (minute): empty item in list \"1,,2\""},
      {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
      {"* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
      {"@daily", "expected 5 fields (minute hour day-of-month month day-of-week), got 1"},
      {"", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"},
      {"99999999999 * * * *", "field 1 (minute): 99999999999 is out of range"},
      {"0 0 31 4 *", "never matches: no selected month has the selected day(s) (31)"},
      {"0 0 30,31 2 *", "never matches"},
  };
  for (const auto& [expr, message] : cases)
    EXPECT_NE(parseError(expr).find(message), std::string::npos)
        << expr << " -> " << parseError(expr);
}

TEST(Cron, MatchesReadsTheCivilMinute) {
  const auto weekdays8 = CronSchedule::parse("0 8 * * 1-5");
  EXPECT_TRUE(weekdays8.matches(civil(2024, 5, 3, 8, 0)));   // Friday
  EXPECT_FALSE(weekdays8.matches(civil(2024, 5, 4, 8, 0)));  // Saturday
  EXPECT_FALSE(weekdays8.matches(civil(2024, 5, 3, 8, 1)));
  EXPECT_TRUE(weekdays8.matches(civil(2024, 5, 3, 8, 0, 59)));  // seconds ignored
  std::tm wrongWday = civil(2024, 5, 4, 8, 0);
  wrongWday.tm_wday = 1;  // not trusted: computed from the date
  EXPECT_FALSE(weekdays8.matches(wrongWday));
  EXPECT_FALSE(weekdays8.matches(civil(2024, 2, 30, 8, 0)));  // no such day
}

TEST(Cron, StepsAndLists) {
  const auto every20 = CronSchedule::parse("*/20 * * * *");
  for (int m = 0; m < 60; ++m)
    EXPECT_EQ(every20.matches(civil(2024, 1, 1, 0, m)), m % 20 == 0) << m;
  const auto ranged = CronSchedule::parse("10-50/20 * * * *");
  EXPECT_TRUE(ranged.matches(civil(2024, 1, 1, 0, 10)));
  EXPECT_TRUE(ranged.matches(civil(2024, 1, 1, 0, 30)));
  EXPECT_TRUE(ranged.matches(civil(2024, 1, 1, 0, 50)));
  EXPECT_FALSE(ranged.matches(civil(2024, 1, 1, 0, 20)));
  const auto fromFive = CronSchedule::parse("5/15 * * * *");  // 5, 20, 35, 50
  EXPECT_TRUE(fromFive.matches(civil(2024, 1, 1, 0, 50)));
  EXPECT_FALSE(fromFive.matches(civil(2024, 1, 1, 0, 0)));
  EXPECT_EQ(nextAfter("0 */6 * * *", civil(2024, 1, 1, 6, 0)), "2024-01-01 12:00");
  EXPECT_EQ(nextAfter("0 9,17 * * *", civil(2024, 1, 1, 9, 0)), "2024-01-01 17:00");
}

TEST(Cron, NamesAnyCaseAndSundayAsSeven) {
  const auto summerWeekends = CronSchedule::parse("0 9 * jun-AUG Sat,SUN");
  EXPECT_TRUE(summerWeekends.matches(civil(2024, 7, 6, 9, 0)));   // Saturday
  EXPECT_TRUE(summerWeekends.matches(civil(2024, 7, 7, 9, 0)));   // Sunday
  EXPECT_FALSE(summerWeekends.matches(civil(2024, 7, 8, 9, 0)));  // Monday
  EXPECT_FALSE(summerWeekends.matches(civil(2024, 9, 7, 9, 0)));  // September
  const auto sunday = CronSchedule::parse("0 0 * * 7");
  EXPECT_TRUE(sunday.matches(civil(2024, 7, 7)));
  EXPECT_FALSE(sunday.matches(civil(2024, 7, 6)));
  const auto friToSun = CronSchedule::parse("0 0 * * 5-7");
  EXPECT_TRUE(friToSun.matches(civil(2024, 7, 5)));
  EXPECT_TRUE(friToSun.matches(civil(2024, 7, 7)));
  EXPECT_FALSE(friToSun.matches(civil(2024, 7, 8)));
}

TEST(Cron, NextIsStrictlyAfterAndDropsSeconds) {
  EXPECT_EQ(nextAfter("* * * * *", civil(2024, 1, 1, 10, 0, 30)), "2024-01-01 10:01");
  EXPECT_EQ(nextAfter("0 8 * * 1-5", civil(2024, 5, 3, 8, 0)), "2024-05-06 08:00");  // Fri -> Mon
  EXPECT_EQ(nextAfter("0 8 * * 1-5", civil(2024, 5, 3, 7, 59)), "2024-05-03 08:00");
}

TEST(Cron, NextCrossesMonthAndYearEnds) {
  EXPECT_EQ(nextAfter("0 0 1 * *", civil(2024, 1, 31, 12, 0)), "2024-02-01 00:00");
  EXPECT_EQ(nextAfter("0 0 1 * *", civil(2024, 12, 31, 23, 59)), "2025-01-01 00:00");
  EXPECT_EQ(nextAfter("59 23 31 12 *", civil(2024, 12, 31, 23, 59)), "2025-12-31 23:59");
  // The 31st skips the months without one.
  EXPECT_EQ(nextAfter("0 0 31 * *", civil(2024, 4, 1)), "2024-05-31 00:00");
  EXPECT_EQ(nextAfter("0 0 30 * *", civil(2024, 1, 30, 0, 0)), "2024-03-30 00:00");
}

TEST(Cron, LeapDay) {
  EXPECT_EQ(nextAfter("0 0 29 2 *", civil(2023, 1, 1)), "2024-02-29 00:00");
  EXPECT_EQ(nextAfter("0 0 29 2 *", civil(2024, 3, 1)), "2028-02-29 00:00");
  // 2100 is not a leap year: from 2096-03-01 the next one is 2104, past five years.
  EXPECT_EQ(nextAfter("0 0 29 2 *", civil(2096, 3, 1)), "none");
  EXPECT_EQ(nextAfter("0 0 29 2 *", civil(2099, 3, 1)), "2104-02-29 00:00");
  EXPECT_EQ(nextAfter("0 0 28 2 *", civil(2024, 2, 28, 0, 0)), "2025-02-28 00:00");
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th or any Friday (crontab's OR), not only Friday the 13th.
  const auto s = CronSchedule::parse("0 0 13 * 5");
  EXPECT_TRUE(s.matches(civil(2024, 9, 13)));   // Friday the 13th
  EXPECT_TRUE(s.matches(civil(2024, 10, 13)));  // a Sunday: the 13th suffices
  EXPECT_TRUE(s.matches(civil(2024, 9, 6)));    // a Friday: suffices
  EXPECT_FALSE(s.matches(civil(2024, 9, 7)));
  EXPECT_EQ(nextAfter("0 0 13 * 5", civil(2024, 9, 1)), "2024-09-06 00:00");
  // With day of week `*` only the day of month counts, and conversely.
  EXPECT_EQ(nextAfter("0 0 13 * *", civil(2024, 9, 1)), "2024-09-13 00:00");
  EXPECT_EQ(nextAfter("0 0 * * 5", civil(2024, 9, 7)), "2024-09-13 00:00");
  // A field starting with `*` is unrestricted even with a step (crontab(5)):
  // then both must match: odd days that are Mondays.
  const auto quirk = CronSchedule::parse("0 0 */2 * 1");
  EXPECT_FALSE(quirk.matches(civil(2024, 9, 2)));  // Monday, even
  EXPECT_FALSE(quirk.matches(civil(2024, 9, 3)));  // odd, Tuesday
  EXPECT_TRUE(quirk.matches(civil(2024, 9, 9)));   // Monday, odd
}

TEST(Cron, NextGivesUpAfterFiveYears) {
  // February 29th on a Sunday (day of week `*/7` is Sunday, AND): 2032 is
  // more than five years after 2024-03-01.
  EXPECT_EQ(nextAfter("0 0 29 2 */7", civil(2024, 3, 1)), "none");
  EXPECT_EQ(nextAfter("0 0 29 2 */7", civil(2028, 3, 1)), "2032-02-29 00:00");
}

TEST(Cron, NextSetsWeekdayAndYearDayAndNormalizesItsInput) {
  const auto n = CronSchedule::parse("30 12 * * *").next(civil(2024, 1, 32, 0, 0));  // = Feb 1
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(show(*n), "2024-02-01 12:30");
  EXPECT_EQ(n->tm_wday, 4);  // Thursday
  EXPECT_EQ(n->tm_yday, 31);
  EXPECT_EQ(n->tm_sec, 0);
  EXPECT_EQ(n->tm_isdst, -1);
  EXPECT_EQ(nextAfter("0 0 1 1 *", civil(2024, 13, 1)), "2026-01-01 00:00");  // month 13 = Jan 2025
  EXPECT_EQ(nextAfter("0 0 * * *", civil(2024, 3, 1, 0, -1)), "2024-03-01 00:00");
}

// Found by cron_fuzz: a day far out of range (INT_MIN) is millions of
// years away, outside the calendar, where the date conversions wrapped and
// a Saturday came out for a weekdays-only schedule.
TEST(Cron, NextOfATimeOutsideTheCalendarIsNone) {
  EXPECT_EQ(nextAfter("0 8 * * 1-5", civil(26, 11, INT_MIN, 27, 7)), "none");
  EXPECT_EQ(nextAfter("0 8 * * 1-5", civil(2026, 1, INT_MAX)), "none");
  EXPECT_EQ(nextAfter("0 8 * * *", civil(2026, 1, 1, INT_MIN / 2)), "none");
  EXPECT_EQ(nextAfter("0 8 * * 1-5", civil(2026, 11, -40)), "2026-09-21 08:00");  // Monday
}

}  // namespace
}  // namespace kubec2::api
