#include "runtime/timefmt.h"

#include <array>
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

}  // namespace kube
