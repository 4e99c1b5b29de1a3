// Stop-aware waits and the periodic runnable, in simulated time: every wait
// is on a FakeClock, so the tests advance it instead of sleeping.
#include "runtime/runnable.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "runtime/fake_clock.h"
#include "runtime/log.h"
#include "runtime/wait.h"

namespace {

using namespace std::chrono_literals;
using kube::Next;

// --- wait ------------------------------------------------------------------------

// One waitFor(d) on a thread; result: -1 while waiting, then 1 (time passed)
// or 0 (stopped).
class WaitTest : public ::testing::Test {
 protected:
  void startWaiting(kube::Clock::duration d) {
    thread_ = std::jthread([this, d] { result_ = kube::waitFor(clock_, d, stop_.get_token()); });
    ASSERT_TRUE(clock_.waitForWaiters(1));
  }
  kube::FakeClock clock_;
  std::stop_source stop_;
  std::atomic<int> result_{-1};
  std::jthread thread_;
};

TEST_F(WaitTest, ReturnsTrueOnceTheClockReachesTheDeadline) {
  startWaiting(10s);
  clock_.advance(10s - 1ns);
  ASSERT_TRUE(clock_.waitForWaiters(1));  // woke, looked, waits again
  EXPECT_EQ(result_.load(), -1);
  clock_.advance(1ns);
  thread_.join();
  EXPECT_EQ(result_.load(), 1);
}

TEST_F(WaitTest, StopEndsTheWaitAtOnce) {
  startWaiting(1h);
  stop_.request_stop();
  thread_.join();  // no time passed
  EXPECT_EQ(result_.load(), 0);
}

TEST(Wait, AlreadyStoppedOrAlreadyDue) {
  kube::FakeClock clock;
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_FALSE(kube::waitFor(clock, 1h, stopped.get_token()));
  EXPECT_FALSE(kube::waitFor(clock, 0s, stopped.get_token()));  // stop wins
  const std::stop_token never;
  EXPECT_TRUE(kube::waitFor(clock, 0s, never));
  EXPECT_TRUE(kube::waitFor(clock, -5s, never));
  EXPECT_TRUE(kube::waitUntil(clock, clock.now(), never));
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(Wait, SystemClockStopsWithoutWaitingTheDuration) {
  std::stop_source stop;
  std::jthread t([&] {
    // Far longer than the test's own timeout: only the stop ends it.
    EXPECT_FALSE(kube::waitFor(kube::SystemClock::instance(), 1h, stop.get_token()));
  });
  stop.request_stop();
  t.join();
}

// --- periodic runnable ------------------------------------------------------------

// Counts calls to the periodic function and lets the test wait for the n-th.
// The real-time bound only keeps a broken test from hanging.
class Calls {
 public:
  int record() {
    std::lock_guard l(mu_);
    ++n_;
    cv_.notify_all();
    return n_;
  }
  bool waitFor(int n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, 10s, [&] { return n_ >= n; });
  }
  int count() {
    std::lock_guard l(mu_);
    return n_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

kube::PeriodicOptions options(const kube::FakeClock& clock) {
  kube::PeriodicOptions o;
  o.period = 60s;
  o.minBackoff = 1s;
  o.maxBackoff = 8s;
  o.clock = &clock;
  return o;
}

// Counts its calls and always asks for the period again.
std::unique_ptr<kube::Runnable> ticker(Calls& calls, const kube::PeriodicOptions& o) {
  return kube::makePeriodicRunnable(
      "tick",
      [&calls](const std::stop_token&) {
        calls.record();
        return Next::period();
      },
      o);
}

// Runs `r` on a thread; joined (after a stop request) when destroyed.
struct Running {
  explicit Running(kube::Runnable& r) : thread([&r](std::stop_token st) { r.start(st); }) {}
  std::jthread thread;
};

// Advances `clock` by `d` and checks that the runnable then calls `fn` for
// the `n`-th time, and not one step earlier.
void expectCallAfter(kube::FakeClock& clock, Calls& calls, int n, kube::Clock::duration d) {
  ASSERT_TRUE(clock.waitForWaiters(1));
  ASSERT_EQ(calls.count(), n - 1);
  clock.advance(d - 1ms);
  ASSERT_TRUE(clock.waitForWaiters(1));
  EXPECT_EQ(calls.count(), n - 1) << "called before " << d.count() << " ns";
  clock.advance(1ms);
  ASSERT_TRUE(calls.waitFor(n));
}

TEST(PeriodicRunnable, RunsAtOnceThenEveryPeriod) {
  kube::FakeClock clock;
  Calls calls;
  auto r = ticker(calls, options(clock));
  EXPECT_EQ(r->name(), "tick");
  EXPECT_TRUE(r->needsLeaderElection());
  Running run(*r);
  ASSERT_TRUE(calls.waitFor(1));
  expectCallAfter(clock, calls, 2, 60s);
  expectCallAfter(clock, calls, 3, 60s);
}

TEST(PeriodicRunnable, NextAfterAndDone) {
  kube::FakeClock clock;
  Calls calls;
  auto r = kube::makePeriodicRunnable(
      "discovery",
      [&](const std::stop_token&) {
        const int n = calls.record();
        if (n == 1) return Next::after(5s);  // "not found yet: look again soon"
        if (n == 2) return Next::after(0s);  // at once
        if (n == 3) return Next::period();
        return Next::done();  // found: nothing more to do
      },
      options(clock));
  std::stop_source never;
  std::jthread t([&] { r->start(never.get_token()); });
  ASSERT_TRUE(calls.waitFor(1));
  expectCallAfter(clock, calls, 2, 5s);
  ASSERT_TRUE(calls.waitFor(3));
  expectCallAfter(clock, calls, 4, 60s);
  t.join();  // start() returned by itself after Next::done()
  EXPECT_EQ(calls.count(), 4);
}

TEST(PeriodicRunnable, FailuresBackOffAreLoggedAndResetOnSuccess) {
  std::ostringstream out;
  kube::log::setup("info", true, std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  kube::FakeClock clock;
  Calls calls;
  auto r = kube::makePeriodicRunnable(
      "certs",
      [&](const std::stop_token&) -> Next {
        const int n = calls.record();
        if (n <= 5 || n == 7) throw std::runtime_error("apiserver unavailable");
        if (n == 6) return Next::period();
        throw 42;  // not a std::exception: retried all the same
      },
      options(clock));
  Running run(*r);
  ASSERT_TRUE(calls.waitFor(1));
  expectCallAfter(clock, calls, 2, 1s);
  expectCallAfter(clock, calls, 3, 2s);
  expectCallAfter(clock, calls, 4, 4s);
  expectCallAfter(clock, calls, 5, 8s);
  expectCallAfter(clock, calls, 6, 8s);   // capped at maxBackoff
  expectCallAfter(clock, calls, 7, 60s);  // success: back to the period
  expectCallAfter(clock, calls, 8, 1s);   // and the backoff starts over
  expectCallAfter(clock, calls, 9, 2s);
  run.thread.request_stop();
  run.thread.join();
  kube::log::setup("info");
  const std::string logs = out.str();
  EXPECT_NE(logs.find(R"("msg":"Periodic run failed; retrying")"), std::string::npos) << logs;
  EXPECT_NE(logs.find(R"("runnable":"certs")"), std::string::npos) << logs;
  EXPECT_NE(logs.find(R"("error":"apiserver unavailable")"), std::string::npos) << logs;
  EXPECT_NE(logs.find(R"("retryAfterMs":8000)"), std::string::npos) << logs;
  EXPECT_NE(logs.find(R"("error":"unknown exception")"), std::string::npos) << logs;
}

TEST(PeriodicRunnable, StopDuringTheWaitReturnsAtOnce) {
  kube::FakeClock clock;
  Calls calls;
  auto r = ticker(calls, options(clock));
  Running run(*r);
  ASSERT_TRUE(calls.waitFor(1));
  ASSERT_TRUE(clock.waitForWaiters(1));
  run.thread.request_stop();
  run.thread.join();  // without advancing the clock
  EXPECT_EQ(calls.count(), 1);
}

TEST(PeriodicRunnable, StopDuringARunIsSeenByTheFunctionAndEndsTheLoop) {
  kube::FakeClock clock;
  Calls calls;
  std::atomic<bool> sawStop{false};
  auto r = kube::makePeriodicRunnable(
      "slow",
      [&](const std::stop_token& stop) -> Next {
        calls.record();
        // A long step that waits by the clock and gives up on stop.
        if (!kube::waitFor(clock, 1h, stop)) {
          sawStop = true;
          throw std::runtime_error("cancelled");  // ignored: stopping
        }
        return Next::period();
      },
      options(clock));
  Running run(*r);
  ASSERT_TRUE(calls.waitFor(1));
  ASSERT_TRUE(clock.waitForWaiters(1));  // inside the function
  run.thread.request_stop();
  run.thread.join();
  EXPECT_TRUE(sawStop.load());
  EXPECT_EQ(calls.count(), 1);
}

TEST(PeriodicRunnable, JitterStretchesThePeriodWithinItsBound) {
  kube::FakeClock clock;
  Calls calls;
  auto o = options(clock);
  o.period = 10s;
  o.jitter = 0.5;  // each wait in [10 s, 15 s)
  auto r = ticker(calls, o);
  Running run(*r);
  ASSERT_TRUE(calls.waitFor(1));
  for (int n = 2; n <= 6; ++n) {
    ASSERT_TRUE(clock.waitForWaiters(1));
    clock.advance(10s - 1ms);
    ASSERT_TRUE(clock.waitForWaiters(1));
    EXPECT_EQ(calls.count(), n - 1) << "before the period";
    clock.advance(5s + 1ms);  // 15 s in all: past the largest jittered wait
    ASSERT_TRUE(calls.waitFor(n));
  }
}

TEST(PeriodicRunnable, OptionsAreChecked) {
  kube::FakeClock clock;
  auto fn = [](const std::stop_token&) { return Next::period(); };
  auto o = options(clock);
  o.needsLeaderElection = false;
  EXPECT_FALSE(kube::makePeriodicRunnable("x", fn, o)->needsLeaderElection());
  EXPECT_THROW(kube::makePeriodicRunnable("x", nullptr, o), std::invalid_argument);
  o = options(clock);
  o.period = 0s;
  EXPECT_THROW(kube::makePeriodicRunnable("x", fn, o), std::invalid_argument);
  o = options(clock);
  o.jitter = -0.1;
  EXPECT_THROW(kube::makePeriodicRunnable("x", fn, o), std::invalid_argument);
  o = options(clock);
  o.minBackoff = 0s;
  EXPECT_THROW(kube::makePeriodicRunnable("x", fn, o), std::invalid_argument);
  o = options(clock);
  o.maxBackoff = 500ms;
  EXPECT_THROW(kube::makePeriodicRunnable("x", fn, o), std::invalid_argument);
  EXPECT_THROW(kube::makeRunnable("x", nullptr, true), std::invalid_argument);
}

}  // namespace
