// libFuzzer target: the cron expression parser and its next-run search
// (api/cron.h), which ScheduledAction.recurrence goes through in the webhook
// and the scaling controller.
// Input: an expression, optionally followed by a line "year month day hour
// minute" (any integers: out-of-range fields are normalized as timegm
// would) for the instant to search from; 2026-01-01 00:00 otherwise.
// Checks that parsing fails only with std::invalid_argument and that a next
// run, when there is one, matches the expression and comes strictly later.
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>

#include "api/cron.h"

namespace {

// Minutes since 1970-01-01 of a normalized civil time (days_from_civil).
long long minuteOf(const std::tm& t) {
  long long y = static_cast<long long>(t.tm_year) + 1900;
  const long long m = t.tm_mon + 1;
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const long long yoe = y - era * 400;
  const long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + t.tm_mday - 1;
  const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long long days = era * 146097 + doe - 719468;
  return days * 1440 + static_cast<long long>(t.tm_hour) * 60 + t.tm_min;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t nl = text.find('\n');
  std::tm after{};
  after.tm_year = 2026 - 1900;
  after.tm_mday = 1;
  bool inRange = true;
  if (nl != std::string::npos) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0;
    if (std::sscanf(text.c_str() + nl + 1, "%d %d %d %d %d", &y, &mo, &d, &h, &mi) == 5) {
      if (y < INT_MIN + 1900 || mo == INT_MIN) return 0;  // not a tm
      after.tm_year = y - 1900;
      after.tm_mon = mo - 1;
      after.tm_mday = d;
      after.tm_hour = h;
      after.tm_min = mi;
      // The ordering check below needs a time it can normalize itself.
      inRange = y >= 1 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 28 && h >= 0 &&
                h <= 23 && mi >= 0 && mi <= 59;
    }
  }
  std::optional<kubec2::api::CronSchedule> schedule;
  try {
    schedule = kubec2::api::CronSchedule::parse(text.substr(0, nl));
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::optional<std::tm> next = schedule->next(after);
  if (!next) return 0;
  if (next->tm_sec != 0 || !schedule->matches(*next)) std::abort();
  if (inRange && minuteOf(*next) <= minuteOf(after)) std::abort();
  return 0;
}
