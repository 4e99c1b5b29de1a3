#include "runtime/timefmt.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace kube {

std::string formatRfc3339(std::chrono::system_clock::time_point t, TimePrecision precision) {
  using namespace std::chrono;
  const auto us = time_point_cast<microseconds>(t);
  auto secs = time_point_cast<seconds>(us);
  if (secs > us) secs -= seconds(1);  // floor, also before the epoch
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  // strftime rather than snprintf: no int-width guesses, no truncation.
  std::array<char, 32> date{};
  const size_t n = std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(date.data(), n);
  const int digits = static_cast<int>(precision);
  if (digits > 0) {
    long long frac = (us - secs).count();  // 0 .. 999999
    for (int d = 6; d > digits; --d) frac /= 10;
    std::string f = std::to_string(frac);
    out += '.';
    out.append(static_cast<size_t>(digits) - f.size(), '0');
    out += f;
  }
  out += 'Z';
  return out;
}

std::optional<std::chrono::system_clock::time_point> parseRfc3339Utc(const std::string& s) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19)
    return std::nullopt;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i + 1 != s.size() || s[i] != 'Z') return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const time_t t = timegm(&tm);
  if (t == -1 && s.rfind("1969-12-31T23:59:59", 0) != 0) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

}  // namespace kube
