// Five-field Unix cron expressions (minute hour day-of-month month
// day-of-week), as crontab(5) and EC2 Auto Scaling's Recurrence read them:
// the webhook parses ScheduledAction.recurrence with it, the scaling
// controller asks it for the next run.
//
// Written here because Debian packages no C++ cron library (apt-cache lists
// only Go ones: gorhill/cronexpr, robfig/cron, go-co-op/gocron).
//
// The syntax, per field: `*`, a number, a range `a-b`, any of those with a
// step `/n` (`a/n` means a through the field's maximum, as in Vixie cron's
// descendants, robfig/cron and EC2), and comma-separated lists of these.
// Months take JAN-DEC and days of the week SUN-SAT (any case); day of week
// 0 and 7 are both Sunday. Day of month and day of week combine as crontab(5)
// says: when both are restricted (neither field starts with `*`), a day
// matches when either does; otherwise both must match.
#pragma once

#include <bitset>
#include <ctime>
#include <optional>
#include <string>

namespace kubec2::api {

class CronSchedule {
 public:
  // Throws std::invalid_argument naming the field and the problem, such as
  // "field 2 (hour): 24 is out of range 0-23", and for expressions that can
  // never match ("0 0 31 4 *": April has no 31st).
  static CronSchedule parse(const std::string& expr);

  // Whether the civil (wall-clock) minute of `civil` matches: tm_year,
  // tm_mon, tm_mday, tm_hour and tm_min are read; the weekday is computed
  // from the date, so tm_wday need not be set. Seconds are ignored.
  bool matches(const std::tm& civil) const;

  // The first matching civil minute strictly after `afterCivil` (its
  // seconds are dropped), within five years; nullopt when none is (such as
  // "0 0 30 2 *"). Out-of-range fields of `afterCivil` are normalized as
  // timegm would. Wall-clock time: mapping it to an instant in a time zone
  // (and skipping or repeating minutes at DST changes) is the caller's.
  // The result has tm_sec 0, tm_wday and tm_yday set, tm_isdst -1.
  std::optional<std::tm> next(const std::tm& afterCivil) const;

 private:
  bool dayMatches(unsigned month, unsigned day, unsigned weekday) const;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> daysOfMonth_;  // 1-31
  std::bitset<13> months_;       // 1-12
  std::bitset<7> daysOfWeek_;    // 0-6, Sunday 0
  bool domRestricted_ = false;
  bool dowRestricted_ = false;
};

}  // namespace kubec2::api
