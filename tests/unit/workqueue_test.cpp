// The work queue's client-go rules, and the fake clock they are tested with.
// Delays run on a FakeClock: no test sleeps to let time pass.
#include "runtime/workqueue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/fake_clock.h"
#include "runtime/metrics.h"

namespace kube {
namespace {

using namespace std::chrono_literals;

// Generous real-time bound for things that should happen at once; only a
// broken queue hits it.
constexpr auto kTimeout = 10s;

// Spins (without letting simulated time pass) until `p` holds.
template <typename Pred>
bool eventually(Pred p) {
  const auto until = std::chrono::steady_clock::now() + kTimeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

WorkQueueOptions fakeOptions(const FakeClock& clock) {
  WorkQueueOptions o;
  o.clock = &clock;
  return o;
}

// Advances `clock` 1 ms at a time until `q` holds a ready key; returns the
// simulated time that took (or `limit` if it never became ready).
std::chrono::milliseconds readyAfter(WorkQueue& q, FakeClock& clock,
                                     std::chrono::milliseconds limit = 10s) {
  std::chrono::milliseconds waited{0};
  while (q.len() == 0 && waited < limit) {
    clock.advance(1ms);
    waited += 1ms;
  }
  return waited;
}

// For single-threaded tests: the next key if one is ready, else nullopt,
// where get() would block (and hang the test).
std::optional<std::string> next(WorkQueue& q) {
  if (q.len() == 0) return std::nullopt;
  return q.get();
}

// Waits for a thread's result. If it does not come, runs `unstick` so the
// thread can end (a std::async future's destructor waits for it), and fails.
template <typename T, typename Unstick>
bool completes(std::future<T>& f, Unstick unstick) {
  if (f.wait_for(kTimeout) == std::future_status::ready) return true;
  unstick();
  return false;
}

std::string uniqueName(const std::string& base) {
  static std::atomic<int> n{0};
  return "wq-test-" + base + "-" + std::to_string(n++);
}

// ---------------------------------------------------------------- FakeClock

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock c;
  const auto t0 = c.now();
  const auto w0 = c.wallNow();
  EXPECT_EQ(c.now(), t0);
  c.advance(1500ms);
  EXPECT_EQ(c.now() - t0, 1500ms);
  EXPECT_EQ(c.wallNow() - w0, 1500ms);
  EXPECT_THROW(c.advance(-1ms), std::invalid_argument);
}

TEST(FakeClock, WaitUntilPastDeadlineReturnsAtOnce) {
  FakeClock c;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock l(mu);
  c.waitUntil(cv, l, c.now());  // would block forever if it waited
  EXPECT_TRUE(l.owns_lock());
  EXPECT_FALSE(c.hasWaiters());
}

TEST(FakeClock, AdvanceWakesWaiters) {
  FakeClock c;
  std::mutex mu;
  std::condition_variable cv;
  const auto deadline = c.now() + 1s;
  auto waiter = [&] {
    std::unique_lock l(mu);
    while (c.now() < deadline) c.waitUntil(cv, l, deadline);
    return l.owns_lock();
  };
  auto a = std::async(std::launch::async, waiter);
  auto b = std::async(std::launch::async, waiter);
  ASSERT_TRUE(c.waitForWaiters(2));
  EXPECT_EQ(c.waiters(), 2u);
  c.advance(500ms);  // not enough: both wake, re-check and block again
  ASSERT_TRUE(c.waitForWaiters(2));
  EXPECT_EQ(a.wait_for(0s), std::future_status::timeout);
  c.advance(500ms);
  ASSERT_TRUE(completes(a, [&] { c.advance(1h); }));
  ASSERT_TRUE(completes(b, [&] { c.advance(1h); }));
  EXPECT_TRUE(a.get());
  EXPECT_TRUE(b.get());
  EXPECT_FALSE(c.hasWaiters());
}

// advance() racing with a thread about to wait: a waiter that registered
// before the advance must be woken by it. Each round advances the moment the
// waiter has registered, which is when it is about to enter cv.wait(): the
// window a naive notify would miss. A lost wake-up leaves the waiter blocked
// for good (there is no real-time fallback) and the round times out.
TEST(FakeClock, NoLostWakeUps) {
  constexpr int kRounds = 5000;
  FakeClock c;
  const auto t0 = c.now();
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> passed{0};
  std::thread waiter([&] {
    for (int r = 1; r <= kRounds; ++r) {
      const auto deadline = t0 + r * 1ms;
      std::unique_lock l(mu);
      while (c.now() < deadline) c.waitUntil(cv, l, deadline);
      passed.store(r);
    }
  });
  int lostAt = 0;
  for (int r = 1; r <= kRounds; ++r) {
    if (!eventually([&] { return c.hasWaiters(); })) {
      lostAt = r;
      break;
    }
    c.advance(1ms);
    if (!eventually([&] { return passed.load() >= r; })) {
      lostAt = r;
      break;
    }
  }
  if (lostAt != 0) {  // unstick the waiter so it can be joined
    c.advance(kRounds * 1ms);
    std::lock_guard l(mu);
    cv.notify_all();
  }
  waiter.join();
  EXPECT_EQ(lostAt, 0) << "wake-up lost in round " << lostAt;
}

// ------------------------------------------------------------- basic rules

TEST(WorkQueue, DedupesWaitingKey) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("a");
  q.add("a");
  q.add("a");
  EXPECT_EQ(q.len(), 1u);
  EXPECT_EQ(next(q), "a");
  EXPECT_EQ(q.len(), 0u);
  q.done("a");
  EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueue, FifoOrder) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  for (const char* k : {"c", "a", "b", "a"}) q.add(k);
  EXPECT_EQ(next(q), "c");
  EXPECT_EQ(next(q), "a");
  EXPECT_EQ(next(q), "b");
  EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueue, KeyAddedWhileProcessingWaitsForDone) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("a");
  ASSERT_EQ(next(q), "a");
  q.add("a");
  q.add("a");
  EXPECT_EQ(q.len(), 0u);  // not handed to a second worker while in flight

  // A second worker blocked in get() stays blocked until done().
  auto second = std::async(std::launch::async, [&] { return q.get(); });
  ASSERT_TRUE(clock.waitForWaiters(1));
  q.add("b");
  ASSERT_TRUE(completes(second, [&] { q.shutDown(); }));
  EXPECT_EQ(second.get(), "b");  // "b" overtook the in-flight "a"

  q.done("a");
  EXPECT_EQ(q.len(), 1u);  // queued again, once
  EXPECT_EQ(next(q), "a");
  q.done("a");
  EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueue, DoneWithoutReAddDoesNotRequeue) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("a");
  ASSERT_EQ(next(q), "a");
  q.done("a");
  q.done("a");  // a stray done is harmless
  q.done("never-added");
  EXPECT_EQ(q.len(), 0u);
}

// ------------------------------------------------------------ delayed adds

TEST(WorkQueue, AddAfterReadyOnlyAfterTheDelay) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.addAfter("a", 1s);
  EXPECT_EQ(q.len(), 0u);
  clock.advance(999ms);
  q.poke();
  EXPECT_EQ(q.len(), 0u);
  clock.advance(1ms);
  EXPECT_EQ(q.len(), 1u);
  EXPECT_EQ(next(q), "a");
}

TEST(WorkQueue, BlockedGetWakesWhenTheClockReachesTheReadyTime) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.addAfter("a", 1s);
  auto got = std::async(std::launch::async, [&] { return q.get(); });
  ASSERT_TRUE(clock.waitForWaiters(1));
  clock.advance(999ms);
  ASSERT_TRUE(clock.waitForWaiters(1));  // woke, found nothing due, blocked again
  EXPECT_EQ(got.wait_for(0s), std::future_status::timeout);
  clock.advance(1ms);  // no poke(): advance() alone must wake the getter
  ASSERT_TRUE(completes(got, [&] { q.shutDown(); }));
  EXPECT_EQ(got.get(), "a");
}

TEST(WorkQueue, AddAfterNonPositiveDelayAddsAtOnce) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.addAfter("a", 0s);
  q.addAfter("b", -5s);
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(next(q), "a");
  EXPECT_EQ(next(q), "b");
}

TEST(WorkQueue, DelayedKeyKeepsItsEarliestReadyTime) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.addAfter("early-first", 1s);
  q.addAfter("early-first", 10s);  // later: ignored
  q.addAfter("late-first", 10s);
  q.addAfter("late-first", 1s);  // earlier: replaces
  clock.advance(1s);
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(next(q), "early-first");
  EXPECT_EQ(next(q), "late-first");
  q.done("early-first");
  q.done("late-first");
  // Held once: nothing fires again at 10 s.
  clock.advance(9s);
  EXPECT_EQ(q.len(), 0u);
}

TEST(WorkQueue, DelayedKeysFireInReadyTimeOrder) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.addAfter("c", 3s);
  q.addAfter("a", 1s);
  q.addAfter("b", 2s);
  q.addAfter("b2", 2s);  // same time as "b": added after it
  clock.advance(5s);
  EXPECT_EQ(next(q), "a");
  EXPECT_EQ(next(q), "b");
  EXPECT_EQ(next(q), "b2");
  EXPECT_EQ(next(q), "c");
}

TEST(WorkQueue, DelayedKeyAlreadyQueuedIsDeduped) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("a");
  q.addAfter("a", 1s);
  clock.advance(1s);
  EXPECT_EQ(q.len(), 1u);
}

TEST(WorkQueue, SystemClockDelayedAddFires) {
  // The background thread's path; a short real delay.
  WorkQueueOptions o;
  o.name = uniqueName("system-clock");
  const auto m = metrics::workqueue(o.name);
  WorkQueue q(o);
  q.addAfter("a", 5ms);
  // The thread moves the key into the queue with nobody asking: the depth
  // gauge (only updated under the queue's lock) shows it.
  ASSERT_TRUE(eventually([&] { return m.depth->Value() == 1; }));
  EXPECT_EQ(q.get(), "a");
}

// ----------------------------------------------------------- rate limiting

TEST(WorkQueue, BackoffDoublesPerFailureUpToTheCap) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.baseDelay = 5ms;
  o.maxDelay = 40ms;
  o.qps = 0;  // bucket off: backoff alone
  WorkQueue q(o);
  const std::vector<std::chrono::milliseconds> want{5ms, 10ms, 20ms, 40ms, 40ms, 40ms};
  for (size_t i = 0; i < want.size(); ++i) {
    q.addRateLimited("a");
    EXPECT_EQ(q.numRequeues("a"), static_cast<int>(i + 1));
    EXPECT_EQ(readyAfter(q, clock), want[i]) << "failure " << i + 1;
    ASSERT_EQ(next(q), "a");
    q.done("a");
  }
}

TEST(WorkQueue, BackoffIsPerKeyAndForgetResetsIt) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.baseDelay = 5ms;
  WorkQueue q(o);
  for (int i = 0; i < 3; ++i) {
    q.addRateLimited("a");
    readyAfter(q, clock);
    ASSERT_EQ(next(q), "a");
    q.done("a");
  }
  EXPECT_EQ(q.numRequeues("a"), 3);
  EXPECT_EQ(q.numRequeues("b"), 0);
  q.addRateLimited("b");  // "a"'s failures do not slow "b"
  EXPECT_EQ(readyAfter(q, clock), 5ms);
  ASSERT_EQ(next(q), "b");
  q.done("b");

  q.forget("a");
  EXPECT_EQ(q.numRequeues("a"), 0);
  q.addRateLimited("a");
  EXPECT_EQ(readyAfter(q, clock), 5ms);
}

TEST(WorkQueue, BackoffSaturatesInsteadOfOverflowing) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.baseDelay = 5ms;
  o.maxDelay = 1000s;
  o.qps = 0;
  WorkQueue q(o);
  for (int i = 0; i < 2000; ++i) q.addRateLimited("a");  // 2^1999 * 5 ms
  EXPECT_EQ(q.numRequeues("a"), 2000);
  clock.advance(5ms);  // the first add (5 ms) is the earliest; take it out of the way
  ASSERT_EQ(next(q), "a");
  q.done("a");
  q.addRateLimited("a");
  clock.advance(1000s - 1ms);
  EXPECT_EQ(q.len(), 0u);
  clock.advance(1ms);
  EXPECT_EQ(q.len(), 1u);
}

TEST(WorkQueue, TokenBucketDelaysAddsBeyondTheBurst) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.baseDelay = 1ms;
  o.qps = 10;  // one token per 100 ms
  o.burst = 2;
  WorkQueue q(o);
  for (const char* k : {"k1", "k2", "k3", "k4"}) q.addRateLimited(k);
  clock.advance(1ms);
  EXPECT_EQ(q.len(), 2u);  // the burst: only the 1 ms backoff
  clock.advance(98ms);
  EXPECT_EQ(q.len(), 2u);
  clock.advance(1ms);  // 100 ms
  EXPECT_EQ(q.len(), 3u);
  clock.advance(99ms);
  EXPECT_EQ(q.len(), 3u);
  clock.advance(1ms);  // 200 ms
  EXPECT_EQ(q.len(), 4u);
  for (const char* k : {"k1", "k2", "k3", "k4"}) {
    EXPECT_EQ(next(q), k);
    q.done(k);
  }

  // Long idle: the bucket refills to the burst, no more.
  clock.advance(1h);
  for (const char* k : {"k5", "k6", "k7"}) q.addRateLimited(k);
  clock.advance(1ms);
  EXPECT_EQ(q.len(), 2u);
  clock.advance(99ms);
  EXPECT_EQ(q.len(), 3u);
}

TEST(WorkQueue, RateLimitedDelayIsTheLongerOfBackoffAndBucket) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.baseDelay = 300ms;
  o.qps = 10;
  o.burst = 1;
  WorkQueue q(o);
  q.addRateLimited("a");  // backoff 300 ms, bucket 0
  q.addRateLimited("b");  // backoff 300 ms, bucket 100 ms
  q.addRateLimited("c");  // backoff 300 ms, bucket 200 ms
  q.addRateLimited("d");  // backoff 300 ms, bucket 300 ms
  q.addRateLimited("e");  // backoff 300 ms, bucket 400 ms
  EXPECT_EQ(readyAfter(q, clock), 300ms);
  EXPECT_EQ(q.len(), 4u);  // the backoff wins for a..d
  clock.advance(99ms);
  EXPECT_EQ(q.len(), 4u);
  clock.advance(1ms);  // the bucket wins for "e"
  EXPECT_EQ(q.len(), 5u);
}

// ----------------------------------------------------------------- shutdown

TEST(WorkQueue, ShutDownWakesBlockedGetters) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  std::vector<std::future<std::optional<std::string>>> getters;
  for (int i = 0; i < 3; ++i)
    getters.push_back(std::async(std::launch::async, [&] { return q.get(); }));
  ASSERT_TRUE(clock.waitForWaiters(3));
  EXPECT_FALSE(q.shuttingDown());
  q.shutDown();
  EXPECT_TRUE(q.shuttingDown());
  for (auto& g : getters) {
    ASSERT_TRUE(completes(g, [] {}));  // nothing else would wake it
    EXPECT_EQ(g.get(), std::nullopt);
  }
}

TEST(WorkQueue, ShutDownWakesBlockedGettersOnTheSystemClock) {
  WorkQueue q;
  std::vector<std::future<std::optional<std::string>>> getters;
  for (int i = 0; i < 3; ++i)
    getters.push_back(std::async(std::launch::async, [&] { return q.get(); }));
  q.shutDown();
  for (auto& g : getters) {
    ASSERT_TRUE(completes(g, [] {}));  // nothing else would wake it
    EXPECT_EQ(g.get(), std::nullopt);
  }
}

TEST(WorkQueue, AfterShutDownNothingIsAddedOrHandedOut) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("queued");
  q.shutDown();
  q.add("a");
  q.addAfter("b", 1s);
  q.addRateLimited("c");
  clock.advance(1h);
  EXPECT_EQ(q.len(), 1u);            // only the key queued before
  EXPECT_EQ(q.get(), std::nullopt);  // which is not handed out any more
}

TEST(WorkQueue, ShutDownWithDrainWaitsForKeysInFlight) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("a");
  q.add("b");
  ASSERT_EQ(next(q), "a");
  auto drain = std::async(std::launch::async, [&] { q.shutDownWithDrain(); });
  ASSERT_TRUE(eventually([&] { return q.shuttingDown(); }));
  EXPECT_EQ(q.get(), std::nullopt);  // "b" is not handed out
  // Still draining: "a" is in flight. (A bounded check that something does
  // not happen; a drain that returned early is seen here.)
  EXPECT_EQ(drain.wait_for(50ms), std::future_status::timeout);
  q.done("a");
  ASSERT_TRUE(completes(drain, [&] { q.shutDown(); }));
}

TEST(WorkQueue, ShutDownWithDrainReturnsAtOnceWhenIdle) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("a");
  auto drain = std::async(std::launch::async, [&] { q.shutDownWithDrain(); });
  ASSERT_TRUE(completes(drain, [&] { q.shutDown(); }));
}

TEST(WorkQueue, ShutDownCutsADrainShort) {
  FakeClock clock;
  WorkQueue q(fakeOptions(clock));
  q.add("a");
  ASSERT_EQ(next(q), "a");
  auto drain = std::async(std::launch::async, [&] { q.shutDownWithDrain(); });
  ASSERT_TRUE(eventually([&] { return q.shuttingDown(); }));
  q.shutDown();
  ASSERT_TRUE(completes(drain, [&] { q.done("a"); }));
}

// ------------------------------------------------------------- concurrency

TEST(WorkQueue, WorkersNeverShareAKeyAndNoAddIsLost) {
  constexpr int kKeys = 50;
  constexpr int kProducers = 3;
  constexpr int kAddsPerProducer = 3000;
  constexpr int kWorkers = 4;
  WorkQueue q;  // system clock: the real thing

  std::vector<std::atomic<int>> inFlight(kKeys);
  std::vector<std::atomic<int>> added(kKeys);      // adds completed, per key
  std::vector<std::atomic<int>> processed(kKeys);  // `added` as seen when a worker took the key
  std::atomic<int> overlaps{0};
  std::atomic<int> handled{0};

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        const auto k = static_cast<size_t>(std::stoi(*key));
        if (inFlight[k].fetch_add(1) != 0) overlaps.fetch_add(1);
        // Adds counted before this get are covered by this processing.
        processed[k].store(added[k].load());
        std::this_thread::yield();  // widen the window for a second worker
        inFlight[k].fetch_sub(1);
        handled.fetch_add(1);
        q.done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kAddsPerProducer; ++i) {
        const auto k = static_cast<size_t>((i * 7 + p) % kKeys);
        // Counted before the add, so the get it causes sees it.
        added[k].fetch_add(1);
        q.add(std::to_string(k));
      }
    });
  }
  for (auto& t : producers) t.join();
  // Every key is processed at least once after its last add.
  const bool allSeen = eventually([&] {
    for (size_t k = 0; k < kKeys; ++k) {
      if (processed[k].load() != added[k].load()) return false;
    }
    return true;
  });
  q.shutDownWithDrain();
  for (auto& t : workers) t.join();
  EXPECT_TRUE(allSeen);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(handled.load(), kKeys);
  EXPECT_LE(handled.load(), kProducers * kAddsPerProducer);
}

// ----------------------------------------------------------------- metrics

std::uint64_t sampleCount(prometheus::Histogram* h) {
  return h->Collect().histogram.sample_count;
}
double sampleSum(prometheus::Histogram* h) {
  return h->Collect().histogram.sample_sum;
}

TEST(WorkQueue, MetricsFollowTheQueue) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.name = uniqueName("metrics");
  const auto m = metrics::workqueue(o.name);
  WorkQueue q(o);

  q.add("a");
  q.add("a");
  q.add("a");
  EXPECT_EQ(m.adds->Value(), 1);  // deduped adds are not counted
  EXPECT_EQ(m.depth->Value(), 1);

  q.addAfter("b", 2s);
  EXPECT_EQ(m.adds->Value(), 1);  // counted when it falls due
  clock.advance(2s);
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(m.adds->Value(), 2);
  EXPECT_EQ(m.depth->Value(), 2);

  ASSERT_EQ(next(q), "a");  // waited 2 s
  ASSERT_EQ(next(q), "b");  // waited 0 s
  EXPECT_EQ(m.depth->Value(), 0);
  EXPECT_EQ(sampleCount(m.queueDuration), 2u);
  EXPECT_DOUBLE_EQ(sampleSum(m.queueDuration), 2.0);

  clock.advance(3s);
  q.poke();
  EXPECT_DOUBLE_EQ(m.unfinishedWorkSeconds->Value(), 6.0);
  EXPECT_DOUBLE_EQ(m.longestRunningProcessorSeconds->Value(), 3.0);
  q.done("a");
  clock.advance(1s);
  q.done("b");
  EXPECT_EQ(sampleCount(m.workDuration), 2u);
  EXPECT_DOUBLE_EQ(sampleSum(m.workDuration), 7.0);
  EXPECT_DOUBLE_EQ(m.unfinishedWorkSeconds->Value(), 0.0);
  EXPECT_DOUBLE_EQ(m.longestRunningProcessorSeconds->Value(), 0.0);

  EXPECT_EQ(m.retries->Value(), 0);
  q.addRateLimited("c");
  q.addRateLimited("c");
  EXPECT_EQ(m.retries->Value(), 2);
  EXPECT_EQ(m.adds->Value(), 2);  // still waiting out the backoff
  clock.advance(5ms);
  EXPECT_EQ(q.len(), 1u);
  EXPECT_EQ(m.adds->Value(), 3);
  EXPECT_EQ(m.depth->Value(), 1);
}

TEST(WorkQueue, AddDuringProcessingCountsTowardsDepth) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.name = uniqueName("depth");
  const auto m = metrics::workqueue(o.name);
  WorkQueue q(o);
  q.add("a");
  ASSERT_EQ(next(q), "a");
  q.add("a");  // as client-go: dirty, waiting for done, counted
  EXPECT_EQ(m.depth->Value(), 1);
  EXPECT_EQ(q.len(), 0u);
  q.done("a");
  ASSERT_EQ(next(q), "a");
  EXPECT_EQ(m.depth->Value(), 0);
  EXPECT_EQ(m.adds->Value(), 2);
}

TEST(WorkQueue, DepthOfAQueueDestroyedWithKeysIsReleased) {
  FakeClock clock;
  auto o = fakeOptions(clock);
  o.name = uniqueName("destroyed");
  const auto m = metrics::workqueue(o.name);
  {
    WorkQueue q(o);
    q.add("a");
    q.add("b");
    EXPECT_EQ(m.depth->Value(), 2);
  }
  EXPECT_EQ(m.depth->Value(), 0);
}

}  // namespace
}  // namespace kube
