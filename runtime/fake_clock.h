// A clock for tests that moves only when told to, so that anything waiting on
// time (queue delays, backoff, leases) is tested without real sleeps.
//
// advance() wakes every thread blocked in waitUntil() so it re-checks its
// predicate, without losing a wake-up: a waiter registers its condition
// variable and mutex here while still holding that mutex, and advance()
// takes the same mutex before notifying. The waiter only releases the mutex
// inside cv.wait(), so advance() can take it only once the waiter is either
// waiting (and so gets the notification) or gone past. No real-time polling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "runtime/clock.h"

namespace kube {

class FakeClock final : public Clock {
 public:
  // Far from the epoch, so that code subtracting durations from now() never
  // goes below zero.
  static constexpr time_point kStart{std::chrono::hours(1000)};

  explicit FakeClock(time_point start = kStart) : now_(start), start_(start) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  time_point now() const override {
    std::lock_guard l(mu_);
    return now_;
  }

  // A fixed wall time (2023-11-14T22:13:20Z) plus the simulated time passed.
  std::chrono::system_clock::time_point wallNow() const override {
    std::lock_guard l(mu_);
    return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - start_);
  }

  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 time_point deadline) const override {
    std::uint64_t id = 0;
    {
      std::lock_guard l(mu_);
      if (now_ >= deadline) return;
      id = nextId_++;
      waiters_.emplace(id, Waiter{&cv, lock.mutex()});
    }
    waitersChanged_.notify_all();
    cv.wait(lock);  // any wake-up is fine: the caller re-checks
    // advance() may still be about to lock our mutex and notify our cv (it
    // notifies outside mu_ to keep lock order caller-mutex -> mu_). Both
    // belong to the caller and may be gone once we return, so wait for any
    // such advance() to finish; drop the caller's mutex meanwhile, as
    // advance() needs it.
    lock.unlock();
    {
      std::unique_lock l(mu_);
      if (waiters_.erase(id) > 0) waitersChanged_.notify_all();
      idle_.wait(l, [this] { return notifying_ == 0; });
    }
    lock.lock();
  }

  // Moves time forward by `d` (>= 0) and wakes every waiter.
  void advance(duration d) {
    if (d < duration::zero()) throw std::invalid_argument("FakeClock::advance: negative duration");
    std::vector<Waiter> woken;
    {
      std::lock_guard l(mu_);
      now_ += d;
      woken.reserve(waiters_.size());
      for (const auto& [id, w] : waiters_) woken.push_back(w);
      // Woken waiters no longer count as blocked: waitForWaiters() after an
      // advance() waits for them to block again.
      waiters_.clear();
      ++notifying_;
    }
    waitersChanged_.notify_all();
    for (const Waiter& w : woken) {
      std::lock_guard wl(*w.mu);  // see the file comment: closes the lost-wake-up window
      w.cv->notify_all();
    }
    {
      std::lock_guard l(mu_);
      --notifying_;
    }
    idle_.notify_all();
  }

  // Threads currently blocked in waitUntil() (and not yet woken by advance()).
  size_t waiters() const {
    std::lock_guard l(mu_);
    return waiters_.size();
  }
  bool hasWaiters() const { return waiters() > 0; }

  // Blocks until at least `n` threads are blocked in waitUntil(), so a test
  // can advance time knowing the worker is waiting for it. The real-time
  // timeout only keeps a broken test from hanging; returns false on timeout.
  bool waitForWaiters(size_t n = 1,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    std::unique_lock l(mu_);
    return waitersChanged_.wait_for(l, timeout, [&] { return waiters_.size() >= n; });
  }

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mu;
  };

  mutable std::mutex mu_;
  mutable std::condition_variable waitersChanged_;
  mutable std::condition_variable idle_;  // notifying_ dropped to 0
  time_point now_;
  const time_point start_;
  mutable std::map<std::uint64_t, Waiter> waiters_;
  mutable std::uint64_t nextId_ = 0;
  int notifying_ = 0;  // advance() calls notifying outside mu_
};

}  // namespace kube
