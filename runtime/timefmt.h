// RFC 3339 timestamps: formatting in UTC in the three precisions Kubernetes
// and our logs use (metav1.Time seconds, log milliseconds, metav1.MicroTime),
// and one parser for every RFC 3339 date-time the operator reads (API
// server timestamps, and user input such as a scheduled action's startTime).
#pragma once

#include <chrono>
#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace kube {

// Digits after the seconds: 0 (metav1.Time), 3 (logs) or 6 (metav1.MicroTime).
enum class TimePrecision { Seconds = 0, Millis = 3, Micros = 6 };

// 2006-01-02T15:04:05Z, 2006-01-02T15:04:05.000Z or 2006-01-02T15:04:05.000000Z.
// Times before 1970 are floored to the second below, so the fraction is never negative.
std::string formatRfc3339(std::chrono::system_clock::time_point t,
                          TimePrecision precision = TimePrecision::Seconds);

// A parsed RFC 3339 date-time. Seconds and nanoseconds are kept apart so
// that every year RFC 3339 can write (0000 to 9999) fits, which a
// nanosecond system_clock::time_point (about 1678 to 2262) does not.
struct Rfc3339Time {
  std::chrono::sys_seconds utc;         // the instant, to the second, offset applied
  std::chrono::nanoseconds fraction{};  // 0 .. 999'999'999
  std::chrono::minutes offset{};        // as written: Z is 0, +01:00 is 60

  // Instants compare; the offset they were written in does not
  // (12:30:00+01:00 == 11:30:00Z).
  friend bool operator==(const Rfc3339Time& a, const Rfc3339Time& b) {
    return a.utc == b.utc && a.fraction == b.fraction;
  }
  friend std::strong_ordering operator<=>(const Rfc3339Time& a, const Rfc3339Time& b) {
    if (auto c = a.utc <=> b.utc; c != 0) return c;
    return a.fraction <=> b.fraction;
  }
};

// RFC 3339 section 5.6 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
// As the RFC allows: 't' and 'z' for 'T' and 'Z', and a space for 'T' (its
// note on readability). The date must exist (no February 30), hours 00-23,
// minutes and seconds 00-59 (no leap second 60: Go's time.Parse, which
// Kubernetes uses, refuses it too), offsets up to 23:59. A fraction has at
// least one digit; digits past nanoseconds are dropped. nullopt for
// anything else (a date alone, no offset, trailing text). Never throws.
std::optional<Rfc3339Time> parseRfc3339(std::string_view s);

// The same parser for times at offset zero (Z, as the API server writes
// every timestamp), as a system_clock time point to the second (the
// fraction is dropped): nullopt for another offset, a malformed time, or a
// year the time point cannot hold (outside about 1678 to 2262).
std::optional<std::chrono::system_clock::time_point> parseRfc3339Utc(const std::string& s);

}  // namespace kube
