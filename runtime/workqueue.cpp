// The work queue, after client-go's workqueue package: a FIFO of keys with a
// dirty set (keys waiting to be processed) and a processing set (keys handed
// out and not yet done), a delaying layer (keys waiting for a ready time),
// and a rate limiter that is the max of a per-key exponential backoff and an
// overall token bucket (client-go's DefaultControllerRateLimiter).
//
// Delayed keys sit in an ordered set by ready time. Whoever next looks at the
// queue (get, len, poke, add) moves the keys that are due into the FIFO, so
// after a fake clock is advanced the queue is up to date as soon as anyone
// asks. With the system clock a background thread also does so at each ready
// time, so that the depth metric does not lag when every worker is busy. With
// any other clock there is no thread: blocked get() callers wait on the clock
// itself (Clock::waitUntil) until the earliest ready time, so a fake clock's
// advance() wakes them.
#include "runtime/workqueue.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "runtime/metrics.h"

namespace kube {
namespace {

using TimePoint = Clock::time_point;
using Duration = Clock::duration;

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

// How often the background thread refreshes the in-flight gauges
// (unfinished_work_seconds, longest_running_processor_seconds); client-go's
// period.
constexpr Duration kUnfinishedWorkPeriod = std::chrono::milliseconds(500);

// A bounded "no deadline" for waits with nothing scheduled: time_point::max()
// overflows in some clocks' arithmetic. Waking once an hour to re-check costs
// nothing.
constexpr Duration kIdleWait = std::chrono::hours(1);

}  // namespace

struct WorkQueue::Impl {
  explicit Impl(WorkQueueOptions o)
      : opts(std::move(o)),
        clock(opts.clock ? *opts.clock : SystemClock::instance()),
        systemClock(dynamic_cast<const SystemClock*>(&clock) != nullptr),
        burst(std::max(opts.burst, 1)),  // a bucket holding no token would never allow an add
        tokens(burst),
        lastRefill(clock.now()) {
    if (!opts.name.empty()) m = metrics::workqueue(opts.name);
  }

  WorkQueueOptions opts;
  const Clock& clock;
  const bool systemClock;

  mutable std::mutex mu;
  std::condition_variable getCv;    // getters: a key is queued, or shutdown
  std::condition_variable drainCv;  // shutDownWithDrain: processing emptied, or shutDown
  std::condition_variable delayCv;  // background thread: an earlier ready time, or shutdown

  std::deque<std::string> queue;          // FIFO of keys ready to be handed out
  std::unordered_set<std::string> dirty;  // keys that need processing (queued or re-added)
  std::unordered_map<std::string, TimePoint> processing;  // key -> when get() handed it out
  std::unordered_map<std::string, TimePoint> addedAt;     // key -> when it became dirty

  // Delayed keys, ordered by (ready time, sequence); the sequence keeps keys
  // due at the same time in the order they were added. `waitingByKey` lets a
  // key already waiting be found, so it is held once, at its earliest time.
  using Waiting = std::tuple<TimePoint, std::uint64_t, std::string>;
  std::set<Waiting> waiting;
  std::unordered_map<std::string, std::set<Waiting>::iterator> waitingByKey;
  std::uint64_t waitingSeq = 0;

  std::unordered_map<std::string, int> failures;  // per-key backoff exponent
  const int burst;
  double tokens;  // may go negative: reserved tokens not yet refilled
  TimePoint lastRefill;

  bool shuttingDown = false;
  bool draining = false;

  std::optional<metrics::WorkqueueMetrics> m;
  std::thread delayThread;

  // --- all below: caller holds mu ---

  void addLocked(const std::string& key, TimePoint now) {
    if (shuttingDown) return;
    if (!dirty.insert(key).second) return;  // already waiting to be processed: dedupe
    addedAt.emplace(key, now);
    if (m) {
      m->adds->Increment();
      m->depth->Increment();
    }
    // A key in flight is queued again by done(), never handed to a second worker.
    if (processing.count(key)) return;
    queue.push_back(key);
    getCv.notify_one();
  }

  void addAfterLocked(const std::string& key, Duration delay, TimePoint now) {
    if (shuttingDown) return;
    if (delay <= Duration::zero()) {
      addLocked(key, now);
      return;
    }
    const TimePoint ready = now + delay;
    if (auto it = waitingByKey.find(key); it != waitingByKey.end()) {
      if (std::get<0>(*it->second) <= ready) return;  // keep the earlier time
      waiting.erase(it->second);
      waitingByKey.erase(it);
    }
    auto pos = waiting.emplace(ready, waitingSeq++, key).first;
    waitingByKey.emplace(key, pos);
    if (pos == waiting.begin()) {
      // The earliest ready time changed: whoever waits for it must re-arm.
      if (systemClock) {
        delayCv.notify_one();
      } else {
        getCv.notify_all();
      }
    }
  }

  // Moves delayed keys that are due into the queue.
  void promoteLocked(TimePoint now) {
    while (!waiting.empty() && std::get<0>(*waiting.begin()) <= now) {
      std::string key = std::get<2>(*waiting.begin());
      waitingByKey.erase(key);
      waiting.erase(waiting.begin());
      addLocked(key, now);
    }
  }

  TimePoint nextDeadlineLocked(TimePoint now) const {
    return waiting.empty() ? now + kIdleWait : std::get<0>(*waiting.begin());
  }

  // client-go's ItemExponentialFailureRateLimiter: base * 2^failures, capped;
  // each call counts a failure.
  Duration backoffLocked(const std::string& key) {
    int& count = failures[key];
    const int exp = count;
    if (count < std::numeric_limits<int>::max()) ++count;
    const auto base = std::chrono::duration_cast<Duration>(opts.baseDelay);
    const auto cap = std::chrono::duration_cast<Duration>(opts.maxDelay);
    if (base <= Duration::zero()) return Duration::zero();  // also avoids 0 * inf
    // In floating point, so a large exponent saturates instead of overflowing.
    const double d = static_cast<double>(base.count()) * std::pow(2.0, exp);
    if (!(d < static_cast<double>(cap.count()))) return cap;
    return Duration(static_cast<Duration::rep>(d));
  }

  // client-go's BucketRateLimiter (golang.org/x/time/rate Reserve().Delay()):
  // takes a token now, going into debt if there is none; the delay is how
  // long the debt takes to refill. qps <= 0 disables the bucket.
  Duration bucketLocked(TimePoint now) {
    if (!(opts.qps > 0)) return Duration::zero();
    if (now > lastRefill) {
      tokens = std::min(static_cast<double>(burst), tokens + seconds(now - lastRefill) * opts.qps);
      lastRefill = now;
    }
    tokens -= 1;
    if (tokens >= 0) return Duration::zero();
    return std::chrono::round<Duration>(std::chrono::duration<double>(-tokens / opts.qps));
  }

  void updateInFlightGaugesLocked(TimePoint now) {
    if (!m) return;
    double total = 0;
    double longest = 0;
    for (const auto& [key, since] : processing) {
      const double s = seconds(now - since);
      total += s;
      longest = std::max(longest, s);
    }
    m->unfinishedWorkSeconds->Set(total);
    m->longestRunningProcessorSeconds->Set(longest);
  }

  void shutDownLocked() {
    shuttingDown = true;
    draining = false;  // as client-go: a plain shutDown cuts a drain short
    getCv.notify_all();
    drainCv.notify_all();
    delayCv.notify_all();
  }

  // The background thread (system clock only): promote keys as they fall due
  // and refresh the in-flight gauges periodically.
  void delayLoop() {
    std::unique_lock l(mu);
    TimePoint nextGauges = clock.now();
    while (!shuttingDown) {
      const TimePoint now = clock.now();
      promoteLocked(now);
      TimePoint deadline = nextDeadlineLocked(now);
      if (m) {
        if (now >= nextGauges) {
          updateInFlightGaugesLocked(now);
          nextGauges = now + kUnfinishedWorkPeriod;
        }
        deadline = std::min(deadline, nextGauges);
      }
      clock.waitUntil(delayCv, l, deadline);
    }
  }
};

WorkQueue::WorkQueue(WorkQueueOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {
  if (impl_->systemClock) impl_->delayThread = std::thread([this] { impl_->delayLoop(); });
}

WorkQueue::~WorkQueue() {
  {
    std::lock_guard l(impl_->mu);
    impl_->shutDownLocked();
    // Keys left behind no longer count towards a shared-name depth gauge.
    if (impl_->m) impl_->m->depth->Decrement(static_cast<double>(impl_->dirty.size()));
  }
  if (impl_->delayThread.joinable()) impl_->delayThread.join();
}

void WorkQueue::add(const std::string& key) {
  auto& q = *impl_;
  std::lock_guard l(q.mu);
  const TimePoint now = q.clock.now();
  q.promoteLocked(now);  // keys already due go first
  q.addLocked(key, now);
}

void WorkQueue::addAfter(const std::string& key, std::chrono::steady_clock::duration delay) {
  auto& q = *impl_;
  std::lock_guard l(q.mu);
  const TimePoint now = q.clock.now();
  q.promoteLocked(now);
  q.addAfterLocked(key, delay, now);
}

void WorkQueue::addRateLimited(const std::string& key) {
  auto& q = *impl_;
  std::lock_guard l(q.mu);
  if (q.shuttingDown) return;
  const TimePoint now = q.clock.now();
  q.promoteLocked(now);
  // Both limiters are always consulted (client-go's MaxOfRateLimiter), so the
  // key's failure count and the bucket both advance.
  const Duration backoff = q.backoffLocked(key);
  const Duration bucket = q.bucketLocked(now);
  if (q.m) q.m->retries->Increment();
  q.addAfterLocked(key, std::max(backoff, bucket), now);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard l(impl_->mu);
  impl_->failures.erase(key);
}

int WorkQueue::numRequeues(const std::string& key) const {
  std::lock_guard l(impl_->mu);
  auto it = impl_->failures.find(key);
  return it == impl_->failures.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::get() {
  auto& q = *impl_;
  std::unique_lock l(q.mu);
  TimePoint now;
  for (;;) {
    // Unlike client-go, keys still queued are not handed out after shutdown:
    // shutDown() stops the workers promptly.
    if (q.shuttingDown) return std::nullopt;
    now = q.clock.now();
    q.promoteLocked(now);
    if (!q.queue.empty()) break;
    if (q.systemClock) {
      q.getCv.wait(l);  // the background thread promotes due keys and notifies
    } else {
      q.clock.waitUntil(q.getCv, l, q.nextDeadlineLocked(now));
    }
  }
  std::string key = std::move(q.queue.front());
  q.queue.pop_front();
  q.dirty.erase(key);
  q.processing.emplace(key, now);
  if (auto it = q.addedAt.find(key); it != q.addedAt.end()) {
    if (q.m) q.m->queueDuration->Observe(seconds(now - it->second));
    q.addedAt.erase(it);
  }
  if (q.m) {
    q.m->depth->Decrement();
    q.updateInFlightGaugesLocked(now);
  }
  return key;
}

void WorkQueue::done(const std::string& key) {
  auto& q = *impl_;
  std::lock_guard l(q.mu);
  auto it = q.processing.find(key);
  if (it == q.processing.end()) return;  // not handed out: nothing to finish
  const TimePoint now = q.clock.now();
  if (q.m) q.m->workDuration->Observe(seconds(now - it->second));
  q.processing.erase(it);
  if (q.m) q.updateInFlightGaugesLocked(now);
  // Added while in flight: its turn now.
  if (q.dirty.count(key) && !q.shuttingDown) {
    q.queue.push_back(key);
    q.getCv.notify_one();
  }
  if (q.processing.empty()) q.drainCv.notify_all();
}

void WorkQueue::shutDown() {
  std::lock_guard l(impl_->mu);
  impl_->shutDownLocked();
}

void WorkQueue::shutDownWithDrain() {
  auto& q = *impl_;
  std::unique_lock l(q.mu);
  q.shutDownLocked();
  q.draining = true;
  q.drainCv.wait(l, [&q] { return q.processing.empty() || !q.draining; });
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard l(impl_->mu);
  return impl_->shuttingDown;
}

size_t WorkQueue::len() const {
  auto& q = *impl_;
  std::lock_guard l(q.mu);
  // Which keys are ready depends on the time, so bring the queue up to date
  // first (logically const).
  q.promoteLocked(q.clock.now());
  return q.queue.size();
}

void WorkQueue::poke() {
  auto& q = *impl_;
  std::lock_guard l(q.mu);
  const TimePoint now = q.clock.now();
  q.promoteLocked(now);
  q.updateInFlightGaugesLocked(now);
  // Getters waiting on a clock that does not notify (or waiting for a ready
  // time that has now passed) re-check.
  q.getCv.notify_all();
}

}  // namespace kube
