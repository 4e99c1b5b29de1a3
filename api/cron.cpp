#include "api/cron.h"

#include <array>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace kubec2::api {
namespace {

using namespace std::chrono;

struct FieldSpec {
  const char* name;
  int min;
  int max;                                             // day of week: 7, an alias of 0 (Sunday)
  const std::array<const char*, 12>* names = nullptr;  // names[i] is min + i
  const char* namesHint = nullptr;
};

constexpr std::array<const char*, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 12> kDayNames = {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr, nullptr, nullptr, nullptr, nullptr};

const std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59},
    {"hour", 0, 23},
    {"day-of-month", 1, 31},
    {"month", 1, 12, &kMonthNames, "a month name (JAN-DEC)"},
    {"day-of-week", 0, 7, &kDayNames, "a day name (SUN-SAT)"},
}};

[[noreturn]] void fail(size_t field, const std::string& problem) {
  throw std::invalid_argument("field " + std::to_string(field + 1) + " (" + kFields[field].name +
                              "): " + problem);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A number or, where the field has them, a name; range-checked.
int parseValue(size_t field, std::string_view text) {
  const FieldSpec& f = kFields[field];
  if (text.empty()) fail(field, "a value is missing");
  bool digits = true;
  for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c)) != 0;
  if (digits) {
    // More digits than any field needs would overflow; they are out of range anyway.
    if (text.size() > 4) fail(field, std::string(text) + " is out of range");
    int v = 0;
    for (char c : text) v = v * 10 + (c - '0');
    if (v < f.min || v > f.max)
      fail(field, std::to_string(v) + " is out of range " + std::to_string(f.min) + "-" +
                      std::to_string(f.max));
    return v;
  }
  if (f.names != nullptr) {
    const std::string u = upper(text);
    for (size_t i = 0; i < f.names->size(); ++i)
      if ((*f.names)[i] != nullptr && u == (*f.names)[i]) return f.min + static_cast<int>(i);
    fail(field, "\"" + std::string(text) + "\" is not a number or " + f.namesHint);
  }
  fail(field, "\"" + std::string(text) + "\" is not a number");
}

// Sets the bits of one comma-separated field; values are offsets from 0.
std::vector<bool> parseField(size_t field, std::string_view text) {
  const FieldSpec& f = kFields[field];
  std::vector<bool> bits(static_cast<size_t>(f.max) + 1, false);
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) fail(field, "empty item in list \"" + std::string(text) + "\"");
    std::string_view base = item;
    int step = 1;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      const std::string_view stepText = item.substr(slash + 1);
      bool digits = !stepText.empty() && stepText.size() <= 4;
      for (char c : stepText) digits = digits && std::isdigit(static_cast<unsigned char>(c)) != 0;
      if (!digits) fail(field, "step \"" + std::string(stepText) + "\" is not a positive number");
      step = std::stoi(std::string(stepText));
      if (step == 0) fail(field, "step 0 is not a positive number");
    }
    int lo = 0;
    int hi = 0;
    if (base == "*") {
      lo = f.min;
      hi = f.max == 7 ? 6 : f.max;  // `*` in day of week is 0-6 (7 repeats Sunday)
    } else if (const size_t dash = base.find('-'); dash != std::string_view::npos) {
      lo = parseValue(field, base.substr(0, dash));
      hi = parseValue(field, base.substr(dash + 1));
      if (lo > hi) fail(field, "range " + std::string(base) + " is backwards");
    } else {
      lo = parseValue(field, base);
      // `a/n` runs from a to the field's maximum; a lone value is just itself.
      hi = item.size() != base.size() ? (f.max == 7 ? 6 : f.max) : lo;
      if (lo > hi) hi = lo;
    }
    for (int v = lo; v <= hi; v += step) bits[static_cast<size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return bits;
}

template <size_t N>
void assign(std::bitset<N>& out, const std::vector<bool>& bits) {
  for (size_t i = 0; i < N && i < bits.size(); ++i) out[i] = bits[i];
}

unsigned daysInMonth(int year, unsigned month) {
  return static_cast<unsigned>((std::chrono::year{year} / std::chrono::month{month} / last).day());
}

}  // namespace

CronSchedule CronSchedule::parse(const std::string& expr) {
  std::vector<std::string_view> parts;
  const std::string_view s(expr);
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) ++i;
    const size_t begin = i;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) == 0) ++i;
    if (i > begin) parts.push_back(s.substr(begin, i - begin));
  }
  if (parts.size() != 5)
    throw std::invalid_argument(
        "expected 5 fields (minute hour day-of-month month day-of-week), got " +
        std::to_string(parts.size()));

  CronSchedule c;
  assign(c.minutes_, parseField(0, parts[0]));
  assign(c.hours_, parseField(1, parts[1]));
  assign(c.daysOfMonth_, parseField(2, parts[2]));
  assign(c.months_, parseField(3, parts[3]));
  const std::vector<bool> dow = parseField(4, parts[4]);
  assign(c.daysOfWeek_, dow);
  if (dow[7]) c.daysOfWeek_[0] = true;
  // crontab(5): a field is restricted unless it starts with `*`.
  c.domRestricted_ = parts[2].front() != '*';
  c.dowRestricted_ = parts[4].front() != '*';

  // Days of the month only (day of week `*`): some selected month must have
  // one of them, or the schedule never fires (a likely typo, refused early).
  if (c.domRestricted_ && !c.dowRestricted_) {
    bool possible = false;
    for (unsigned m = 1; m <= 12 && !possible; ++m)
      for (unsigned d = 1; d <= daysInMonth(2000, m) && !possible; ++d)  // 2000: a leap year
        possible = c.months_[m] && c.daysOfMonth_[d];
    if (!possible)
      throw std::invalid_argument("never matches: no selected month has the selected day(s) (" +
                                  std::string(parts[2]) + ")");
  }
  return c;
}

bool CronSchedule::dayMatches(unsigned month, unsigned day, unsigned weekday) const {
  if (!months_[month]) return false;
  const bool dom = daysOfMonth_[day];
  const bool dow = daysOfWeek_[weekday];
  return domRestricted_ && dowRestricted_ ? (dom || dow) : (dom && dow);
}

bool CronSchedule::matches(const std::tm& civil) const {
  if (civil.tm_min < 0 || civil.tm_min > 59 || civil.tm_hour < 0 || civil.tm_hour > 23 ||
      civil.tm_mon < 0 || civil.tm_mon > 11 || civil.tm_mday < 1)
    return false;
  const year_month_day ymd{year{civil.tm_year + 1900} /
                           month{static_cast<unsigned>(civil.tm_mon + 1)} /
                           day{static_cast<unsigned>(civil.tm_mday)}};
  if (!ymd.ok()) return false;
  const unsigned wd = weekday{sys_days{ymd}}.c_encoding();
  return minutes_[static_cast<size_t>(civil.tm_min)] &&
         hours_[static_cast<size_t>(civil.tm_hour)] &&
         dayMatches(static_cast<unsigned>(civil.tm_mon + 1), static_cast<unsigned>(civil.tm_mday),
                    wd);
}

std::optional<std::tm> CronSchedule::next(const std::tm& afterCivil) const {
  // Normalize the input as timegm would: months, then days and minutes as offsets.
  long long y = static_cast<long long>(afterCivil.tm_year) + 1900;
  long long mon = afterCivil.tm_mon;
  y += mon >= 0 ? mon / 12 : -((11 - mon) / 12);
  mon = ((mon % 12) + 12) % 12;
  if (y < -30000 || y > 30000) return std::nullopt;  // outside chrono's calendar
  const sys_days firstOfMonth{year{static_cast<int>(y)} / month{static_cast<unsigned>(mon + 1)} /
                              1};
  const long long minuteOfEpoch =
      static_cast<long long>(firstOfMonth.time_since_epoch().count()) * 1440 +
      (static_cast<long long>(afterCivil.tm_mday) - 1) * 1440 +
      static_cast<long long>(afterCivil.tm_hour) * 60 + afterCivil.tm_min + 1;  // strictly after
  long long dayNum = minuteOfEpoch >= 0 ? minuteOfEpoch / 1440 : -((1439 - minuteOfEpoch) / 1440);
  long long firstMinute = minuteOfEpoch - dayNum * 1440;
  // A day or minute field far out of range (tm_mday = INT_MIN) lands
  // outside the calendar as well, where the date conversions wrap.
  static const long long kFirstDay =
      sys_days{year{-30000} / January / 1}.time_since_epoch().count();
  static const long long kLastDay =
      sys_days{year{30000} / December / 31}.time_since_epoch().count();
  if (dayNum < kFirstDay || dayNum > kLastDay) return std::nullopt;

  const year_month_day startDate{sys_days{days{dayNum}}};
  const sys_days limit{year_month_day{
      startDate.year() + years{5}, startDate.month(),
      startDate.month() == February && startDate.day() == day{29} ? day{28} : startDate.day()}};
  for (sys_days d{days{dayNum}}; d <= limit; d += days{1}, firstMinute = 0) {
    const year_month_day ymd{d};
    const unsigned wd = weekday{d}.c_encoding();
    if (!dayMatches(static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), wd))
      continue;
    for (long long m = firstMinute; m < 1440; ++m) {
      if (!hours_[static_cast<size_t>(m / 60)]) {
        m = (m / 60) * 60 + 59;  // skip the rest of this hour
        continue;
      }
      if (!minutes_[static_cast<size_t>(m % 60)]) continue;
      std::tm out{};
      out.tm_year = static_cast<int>(ymd.year()) - 1900;
      out.tm_mon = static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
      out.tm_mday = static_cast<int>(static_cast<unsigned>(ymd.day()));
      out.tm_hour = static_cast<int>(m / 60);
      out.tm_min = static_cast<int>(m % 60);
      out.tm_sec = 0;
      out.tm_wday = static_cast<int>(wd);
      out.tm_yday = static_cast<int>((d - sys_days{ymd.year() / January / 1}).count());
      out.tm_isdst = -1;
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace kubec2::api
