// Stop-aware waits on an injected clock: the one way the runtime sleeps, so
// that a stop request (SIGTERM, a lost Lease) ends any wait at once and tests
// drive time with FakeClock instead of sleeping.
//
// Replaces the hand-rolled
//   std::condition_variable_any cv; cv.wait_for(lock, stop, d, [] { return false; });
// loops: those wait on the real clock only, so a test cannot skip the wait.
#pragma once

#include <stop_token>

#include "runtime/clock.h"

namespace kube {

// Blocks until `deadline` on `clock`, or until `stop` is requested, whichever
// comes first. Returns true when the deadline was reached, false when stopped
// (also when stop was already requested on entry, even if the deadline has
// passed too). Never throws. With FakeClock the wait registers as a waiter
// (FakeClock::waitForWaiters) and ends on advance() past the deadline.
bool waitUntil(const Clock& clock, Clock::time_point deadline, const std::stop_token& stop);

// The same for a duration from now by `clock`; `d` <= 0 returns at once
// (true unless stop is requested).
bool waitFor(const Clock& clock, Clock::duration d, const std::stop_token& stop);

// Blocks until `stop` is requested (at once if it already is). A token that
// can never be requested (default-constructed) returns at once rather than
// block forever.
void waitForStop(const std::stop_token& stop);

}  // namespace kube
