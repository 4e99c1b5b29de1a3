#include "runtime/wait.h"

#include <condition_variable>
#include <mutex>

namespace kube {

bool waitUntil(const Clock& clock, Clock::time_point deadline, const std::stop_token& stop) {
  std::mutex m;
  std::condition_variable cv;
  // request_stop() sets the flag before it runs callbacks, and the callback
  // needs `m`: checked under `m` below, a stop is either seen or notified
  // once the waiter sleeps. Runs at once on this thread when already
  // requested (`m` is not held yet).
  std::stop_callback wake(stop, [&] {
    std::lock_guard l(m);
    cv.notify_all();
  });
  // Declared after `wake`: unlocked before the callback is unregistered, as
  // its destructor waits for a callback running on another thread.
  std::unique_lock l(m);
  while (!stop.stop_requested()) {
    if (clock.now() >= deadline) return true;
    clock.waitUntil(cv, l, deadline);
  }
  return false;
}

bool waitFor(const Clock& clock, Clock::duration d, const std::stop_token& stop) {
  return waitUntil(clock, clock.now() + d, stop);
}

void waitForStop(const std::stop_token& stop) {
  if (!stop.stop_possible()) return;
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock l(m);
  cv.wait(l, stop, [] { return false; });
}

}  // namespace kube
