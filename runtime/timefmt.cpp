#include "runtime/timefmt.h"

#include <array>
#include <cctype>
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

namespace {

// The number in s[pos, pos + n), all digits, or -1.
int digitsAt(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t k = pos; k < pos + n; ++k) {
    if (!std::isdigit(static_cast<unsigned char>(s[k]))) return -1;
    v = v * 10 + (s[k] - '0');
  }
  return v;
}

}  // namespace

std::optional<Rfc3339Time> parseRfc3339(std::string_view s) {
  using namespace std::chrono;
  const int y = digitsAt(s, 0, 4), mo = digitsAt(s, 5, 2), d = digitsAt(s, 8, 2),
            h = digitsAt(s, 11, 2), mi = digitsAt(s, 14, 2), se = digitsAt(s, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0 || s[4] != '-' || s[7] != '-' ||
      s[13] != ':' || s[16] != ':' || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
    return std::nullopt;
  if (h > 23 || mi > 59 || se > 59) return std::nullopt;
  size_t i = 19;
  long long nanos = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++n)
      if (n < 9) nanos = nanos * 10 + (s[i] - '0');
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) nanos *= 10;
  }
  int offsetMinutes = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int oh = digitsAt(s, i + 1, 2), om = digitsAt(s, i + 4, 2);
    if (oh < 0 || om < 0 || s[i + 3] != ':' || oh > 23 || om > 59) return std::nullopt;
    offsetMinutes = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const year_month_day date{year{y} / month{static_cast<unsigned>(mo)} /
                            day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  Rfc3339Time t;
  t.offset = minutes(offsetMinutes);
  t.utc = sys_days{date} + hours(h) + minutes(mi) + seconds(se) - t.offset;
  t.fraction = nanoseconds(nanos);
  return t;
}

std::optional<std::chrono::system_clock::time_point> parseRfc3339Utc(const std::string& s) {
  using namespace std::chrono;
  const auto t = parseRfc3339(s);
  if (!t || t->offset != minutes(0)) return std::nullopt;
  // What a system_clock::time_point holds, in seconds, with a margin.
  constexpr auto kLimit = duration_cast<seconds>(system_clock::duration::max()) - seconds(1);
  const seconds sinceEpoch = t->utc.time_since_epoch();
  if (sinceEpoch > kLimit || sinceEpoch < -kLimit) return std::nullopt;
  return system_clock::time_point(duration_cast<system_clock::duration>(sinceEpoch));
}

}  // namespace kube
