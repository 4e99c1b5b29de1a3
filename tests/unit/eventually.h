// Polling for what another thread of the test (a manager's workers, an
// informer) does: never to let time pass, only to wait for it to catch up.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace kubec2::testing {

// True once `f` is; false when it is still not after `within`.
inline bool eventually(const std::function<bool()>& f,
                       std::chrono::milliseconds within = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return f();
}

}  // namespace kubec2::testing
