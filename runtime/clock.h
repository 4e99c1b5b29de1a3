// An injectable clock so that anything that waits (queues, backoff, leases,
// health thresholds) is tested in simulated time, not with sleeps.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kube {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  // Wall time, for timestamps written to the API (leases, events).
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
  // Waits on `cv` until `deadline` (by this clock) or a notification.
  // Returns when woken or at the deadline; the caller re-checks its predicate.
  virtual void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         time_point deadline) const = 0;
};

// The real clock.
class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::now();
  }
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 time_point deadline) const override {
    cv.wait_until(lock, deadline);
  }
  static const SystemClock& instance() {
    static const SystemClock c;
    return c;
  }
};

}  // namespace kube
