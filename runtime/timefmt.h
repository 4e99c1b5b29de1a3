// RFC 3339 timestamps in UTC, in the three precisions Kubernetes and our logs
// use: metav1.Time (seconds), log lines (milliseconds) and metav1.MicroTime.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace kube {

// Digits after the seconds: 0 (metav1.Time), 3 (logs) or 6 (metav1.MicroTime).
enum class TimePrecision { Seconds = 0, Millis = 3, Micros = 6 };

// 2006-01-02T15:04:05Z, 2006-01-02T15:04:05.000Z or 2006-01-02T15:04:05.000000Z.
// Times before 1970 are floored to the second below, so the fraction is never negative.
std::string formatRfc3339(std::chrono::system_clock::time_point t,
                          TimePrecision precision = TimePrecision::Seconds);

// The inverse for UTC times ("Z", optional fraction, dropped): nullopt for
// anything else.
std::optional<std::chrono::system_clock::time_point> parseRfc3339Utc(const std::string& s);

}  // namespace kube
