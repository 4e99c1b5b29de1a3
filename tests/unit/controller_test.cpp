// The controller without an API server: keys are fed to its queue directly
// (Controller::enqueue) and a fake reconciler records what it sees. Delays
// (backoff, requeue-after) run on a manual clock, so no test waits for them.
#include "runtime/controller.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>

#include "runtime/events.h"
#include "runtime/fake_clock.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/wait.h"

namespace {

using namespace std::chrono_literals;
using kube::Request;
using kube::Result;

template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds timeout = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (p()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return p();
}

// Long enough for a wrongly scheduled reconcile to show up.
void settle() {
  std::this_thread::sleep_for(50ms);
}

// Records calls; behaviour per call set by the test.
class FakeReconciler final : public kube::Reconciler {
 public:
  using Fn = std::function<Result(const Request&, int call)>;
  explicit FakeReconciler(Fn fn = nullptr) : fn_(std::move(fn)) {}

  Result reconcile(const Request& req, const kube::ReconcileContext&) override {
    int n = 0;
    {
      std::lock_guard l(mu_);
      n = ++calls_[req.key()];
      seen_.push_back(req);
    }
    return fn_ ? fn_(req, n) : Result::done();
  }
  int calls(const std::string& key) const {
    std::lock_guard l(mu_);
    auto it = calls_.find(key);
    return it == calls_.end() ? 0 : it->second;
  }
  std::vector<Request> seen() const {
    std::lock_guard l(mu_);
    return seen_;
  }

 private:
  Fn fn_;
  mutable std::mutex mu_;
  std::map<std::string, int> calls_;
  std::vector<Request> seen_;
};

double value(prometheus::Counter* c) {
  return c->Value();
}

std::uint64_t histogramCount(prometheus::Histogram* h) {
  return h->Collect().histogram.sample_count;
}

// Each test gets its own controller name, so that process-wide metrics
// start at zero.
std::string uniqueName(const std::string& base) {
  static std::atomic<int> n{0};
  return base + "-" + std::to_string(n++);
}

class ControllerTest : public ::testing::Test {
 protected:
  // Owned by the fixture, so that it outlives the thread running it.
  kube::Controller* make(std::shared_ptr<kube::Reconciler> r, int workers = 1,
                         std::chrono::milliseconds timeout = 0ms,
                         kube::Recorder* recorder = nullptr) {
    kube::ControllerOptions o;
    o.name = name_;
    o.maxConcurrentReconciles = workers;
    o.queue.clock = &clock_;
    o.queue.baseDelay = 5ms;
    o.reconcileTimeout = timeout;
    o.recorder = recorder;
    controller_ = std::make_unique<kube::Controller>(std::move(o), std::move(r));
    return controller_.get();
  }
  void run(kube::Controller& c) {
    thread_ = std::jthread([&c](std::stop_token st) { c.start(st); });
  }
  // Runs `c` with a reconcile timeout, queues `key` and returns once its
  // first reconcile (counted by `calls`) is in flight, its deadline fixed,
  // and both it and the watchdog wait on the fake clock. (An idle worker
  // waits on the clock too, in the queue's get(): hence waiting for the call.)
  void runUntilWaiting(kube::Controller& c, const Request& key, const std::atomic<int>& calls) {
    run(c);
    c.enqueue(key);
    ASSERT_TRUE(eventually([&] { return calls == 1; }));
    ASSERT_TRUE(clock_.waitForWaiters(2));
  }
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  void TearDown() override {
    // Without drain: a test that failed half way must not hang on a
    // reconcile still waiting for its stop token.
    if (controller_) controller_->stopNow();
    stop();
  }

  kube::FakeClock clock_;
  std::string name_ = uniqueName("test");
  kube::metrics::ReconcileMetrics m_ = kube::metrics::reconcile(name_);
  std::unique_ptr<kube::Controller> controller_;
  std::jthread thread_;
};

TEST(Request, KeyRoundTrip) {
  EXPECT_EQ((Request{"ns", "a"}).key(), "ns/a");
  EXPECT_EQ((Request{"", "node-1"}).key(), "node-1");
  EXPECT_EQ(Request::fromKey("ns/a"), (Request{"ns", "a"}));
  EXPECT_EQ(Request::fromKey("node-1"), (Request{"", "node-1"}));
}

TEST(Result, Constructors) {
  EXPECT_EQ(Result::done(), Result{});
  EXPECT_EQ(Result::after(3s).requeueAfter, 3000ms);
  EXPECT_FALSE(Result::after(3s).requeue);
  EXPECT_TRUE(Result::requeueNow().requeue);
}

TEST(ApiGroupOf, SplitsGroupFromVersion) {
  EXPECT_EQ(kube::apiGroupOf("apps/v1"), "apps");
  EXPECT_EQ(kube::apiGroupOf("v1"), "");
  EXPECT_EQ(kube::apiGroupOf("compute.kubec2.io/v1alpha1"), "compute.kubec2.io");
}

TEST(ControllerOptions, Validated) {
  auto r = kube::reconcilerFunc([](const Request&) { return Result::done(); });
  EXPECT_THROW(kube::Controller({"", 1, {}}, r), std::invalid_argument);
  EXPECT_THROW(kube::Controller({uniqueName("v"), 0, {}}, r), std::invalid_argument);
  EXPECT_THROW(kube::Controller({uniqueName("v"), 1, {}}, nullptr), std::invalid_argument);
  EXPECT_THROW(kube::Controller({uniqueName("v"), 1, {}, -1ms}, r), std::invalid_argument);
}

TEST_F(ControllerTest, SuccessForgetsAndCounts) {
  auto rec = std::make_shared<FakeReconciler>();
  auto c = make(rec);
  c->enqueue({"ns", "a"});  // before start: waits in the queue
  run(*c);
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  EXPECT_EQ(rec->calls("ns/a"), 1);
  EXPECT_EQ(c->queue().numRequeues("ns/a"), 0);
  EXPECT_EQ(rec->seen().at(0), (Request{"ns", "a"}));
  EXPECT_EQ(value(m_.error), 0);
  EXPECT_EQ(value(m_.errors), 0);
  EXPECT_TRUE(eventually([&] { return histogramCount(m_.time) == 1; }));
  EXPECT_TRUE(eventually([&] { return m_.activeWorkers->Value() == 0; }));
  EXPECT_EQ(m_.maxConcurrent->Value(), 1);
  // Nothing comes back later.
  clock_.advance(1h);
  c->queue().poke();
  settle();
  EXPECT_EQ(rec->calls("ns/a"), 1);
}

TEST_F(ControllerTest, ExceptionRequeuesWithBackoff) {
  auto rec = std::make_shared<FakeReconciler>([](const Request&, int call) -> Result {
    if (call <= 2) throw std::runtime_error("transient");
    return Result::done();
  });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return value(m_.errors) == 1; }));
  EXPECT_TRUE(eventually([&] { return c->queue().numRequeues("ns/a") == 1; }));
  // Backoff: not before the base delay has passed on the queue's clock.
  settle();
  EXPECT_EQ(rec->calls("ns/a"), 1);
  clock_.advance(5ms);
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return rec->calls("ns/a") == 2; }));
  ASSERT_TRUE(eventually([&] { return c->queue().numRequeues("ns/a") == 2; }));
  // Second failure: the delay doubles (10 ms); 5 ms is not enough.
  clock_.advance(5ms);
  c->queue().poke();
  settle();
  EXPECT_EQ(rec->calls("ns/a"), 2);
  clock_.advance(5ms);
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  EXPECT_EQ(rec->calls("ns/a"), 3);
  EXPECT_EQ(c->queue().numRequeues("ns/a"), 0);  // forgotten on success
  EXPECT_EQ(value(m_.errors), 2);
  EXPECT_EQ(value(m_.error), 2);
}

TEST_F(ControllerTest, NonStdExceptionAlsoRetried) {
  auto rec = std::make_shared<FakeReconciler>([](const Request&, int call) -> Result {
    if (call == 1) throw 42;
    return Result::done();
  });
  auto c = make(rec);
  run(*c);
  c->enqueue({"", "cluster-scoped"});
  ASSERT_TRUE(eventually([&] { return value(m_.errors) == 1; }));
  ASSERT_TRUE(eventually([&] { return c->queue().numRequeues("cluster-scoped") == 1; }));
  clock_.advance(5ms);
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  EXPECT_EQ(rec->seen().at(0), (Request{"", "cluster-scoped"}));
}

TEST_F(ControllerTest, TerminalErrorIsNotRetried) {
  auto rec = std::make_shared<FakeReconciler>(
      [](const Request&, int) -> Result { throw kube::TerminalError("spec.minSize > maxSize"); });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "bad"});
  ASSERT_TRUE(eventually([&] { return value(m_.errors) == 1; }));
  EXPECT_EQ(value(m_.error), 1);
  clock_.advance(1h);
  c->queue().poke();
  settle();
  EXPECT_EQ(rec->calls("ns/bad"), 1);
  EXPECT_EQ(c->queue().numRequeues("ns/bad"), 0);
  // A new event still reconciles it (and at once: nothing to back off from).
  c->enqueue({"ns", "bad"});
  ASSERT_TRUE(eventually([&] { return rec->calls("ns/bad") == 2; }));
}

TEST_F(ControllerTest, RequeueAfterIsHonoured) {
  auto rec = std::make_shared<FakeReconciler>(
      [](const Request&, int call) { return call == 1 ? Result::after(10s) : Result::done(); });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return value(m_.requeueAfter) == 1; }));
  clock_.advance(9s);
  c->queue().poke();
  settle();
  EXPECT_EQ(rec->calls("ns/a"), 1);
  clock_.advance(1s);
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return rec->calls("ns/a") == 2; }));
  EXPECT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  EXPECT_EQ(c->queue().numRequeues("ns/a"), 0);  // requeue-after is not a failure
}

TEST_F(ControllerTest, RetryAfterFromTheServerIsHonoured) {
  auto rec = std::make_shared<FakeReconciler>([](const Request&, int call) -> Result {
    if (call == 1) throw kube::ApiError(kube::Status{429, "TooManyRequests", "slow down", {}, 3s});
    return Result::done();
  });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return value(m_.errors) == 1; }));
  clock_.advance(2s);  // far past the 5 ms backoff, short of Retry-After
  c->queue().poke();
  settle();
  EXPECT_EQ(rec->calls("ns/a"), 1);
  clock_.advance(1s);
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return rec->calls("ns/a") == 2; }));
  EXPECT_TRUE(eventually([&] { return value(m_.success) == 1; }));
}

TEST_F(ControllerTest, RequeueNowUsesRateLimitedBackoff) {
  auto rec = std::make_shared<FakeReconciler>(
      [](const Request&, int call) { return call == 1 ? Result::requeueNow() : Result::done(); });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return value(m_.requeue) == 1; }));
  EXPECT_EQ(c->queue().numRequeues("ns/a"), 1);
  clock_.advance(5ms);
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  EXPECT_EQ(rec->calls("ns/a"), 2);
}

TEST_F(ControllerTest, OneKeyNeverOnTwoWorkers) {
  std::mutex mu;
  std::map<std::string, int> inFlight;
  std::atomic<int> maxPerKey{0}, maxOverall{0}, overall{0};
  auto rec = std::make_shared<FakeReconciler>([&](const Request& r, int) {
    {
      std::lock_guard l(mu);
      maxPerKey = std::max(maxPerKey.load(), ++inFlight[r.key()]);
    }
    maxOverall = std::max(maxOverall.load(), ++overall);
    std::this_thread::sleep_for(5ms);
    --overall;
    {
      std::lock_guard l(mu);
      --inFlight[r.key()];
    }
    return Result::done();
  });
  auto c = make(rec, 4);
  run(*c);
  // Keep adding the same few keys while they are being reconciled.
  for (int round = 0; round < 40; ++round) {
    for (const char* k : {"a", "b", "c", "d"}) c->enqueue({"ns", k});
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(eventually([&] { return c->queue().len() == 0 && overall == 0; }));
  settle();
  EXPECT_EQ(maxPerKey.load(), 1);
  EXPECT_GT(maxOverall.load(), 1);  // different keys do run in parallel
  EXPECT_LE(maxOverall.load(), 4);
  EXPECT_EQ(m_.maxConcurrent->Value(), 4);
  // Every key added while in flight was reconciled again afterwards.
  for (const char* k : {"a", "b", "c", "d"}) EXPECT_GE(rec->calls(std::string("ns/") + k), 2);
}

TEST_F(ControllerTest, GracefulStopDrainsInFlight) {
  std::atomic<bool> release{false}, entered{false}, finished{false};
  auto rec = std::make_shared<FakeReconciler>([&](const Request& r, int) {
    if (r.name == "slow") {
      entered = true;
      while (!release) std::this_thread::sleep_for(1ms);
      finished = true;
    }
    return Result::done();
  });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "slow"});
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  c->enqueue({"ns", "waiting"});  // never handed out: the queue is shutting down
  std::atomic<bool> returned{false};
  std::thread stopper([&] {
    stop();
    returned = true;
  });
  settle();
  EXPECT_FALSE(returned.load());  // start() waits for the reconcile in flight
  release = true;
  stopper.join();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(value(m_.success), 1);
  EXPECT_EQ(rec->calls("ns/waiting"), 0);
}

TEST_F(ControllerTest, StopNowStartsNothingNew) {
  std::atomic<bool> release{false}, entered{false};
  auto rec = std::make_shared<FakeReconciler>([&](const Request&, int) {
    entered = true;
    while (!release) std::this_thread::sleep_for(1ms);
    return Result::done();
  });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  c->enqueue({"ns", "b"});
  c->stopNow();
  release = true;
  thread_.join();  // start() returns without a stop request
  EXPECT_EQ(rec->calls("ns/b"), 0);
  EXPECT_EQ(rec->calls("ns/a"), 1);
}

TEST(Controller, DestroyedWhileRunningStopsFirst) {
  std::jthread t;  // declared first: joined after the controller is gone
  auto rec = std::make_shared<FakeReconciler>();
  auto c = std::make_unique<kube::Controller>(kube::ControllerOptions{uniqueName("destroy"), 2, {}},
                                              rec);
  t = std::jthread([&c](std::stop_token st) { c->start(st); });
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return rec->calls("ns/a") == 1; }));
  c.reset();  // must not hang or crash
  t.join();
}

TEST_F(ControllerTest, StartTwiceThrows) {
  auto c = make(std::make_shared<FakeReconciler>());
  run(*c);
  ASSERT_TRUE(eventually([&] { return c->started(); }));
  std::stop_source s;
  EXPECT_THROW(c->start(s.get_token()), std::logic_error);
}

TEST_F(ControllerTest, LogLinesCarryControllerObjectAndReconcileID) {
  std::ostringstream out;
  kube::log::setup("info", true, std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  auto rec = std::make_shared<FakeReconciler>([](const Request&, int call) -> Result {
    kube::log::info("inside reconcile", {{"call", call}});
    if (call == 1) throw std::runtime_error("first attempt fails");
    return Result::done();
  });
  auto c = make(rec);
  run(*c);
  c->enqueue({"ns", "web-1"});
  ASSERT_TRUE(eventually([&] { return value(m_.errors) == 1; }));
  ASSERT_TRUE(eventually([&] { return c->queue().numRequeues("ns/web-1") == 1; }));
  clock_.advance(5ms);
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  stop();
  kube::log::setup("info");

  std::istringstream in(out.str());
  std::string line;
  std::vector<nlohmann::json> inside;
  nlohmann::json errorLine;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["msg"] == "inside reconcile") inside.push_back(j);
    if (j["msg"] == "Reconciler error") errorLine = j;
  }
  ASSERT_EQ(inside.size(), 2u) << out.str();
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (const auto& j : inside) {
    EXPECT_EQ(j["controller"], name_);
    EXPECT_EQ(j["object"], "ns/web-1");
    EXPECT_EQ(j["namespace"], "ns");
    EXPECT_EQ(j["name"], "web-1");
    EXPECT_TRUE(std::regex_match(j["reconcileID"].get<std::string>(), uuid)) << j;
  }
  EXPECT_NE(inside[0]["reconcileID"], inside[1]["reconcileID"]);  // fresh per reconcile
  ASSERT_TRUE(errorLine.is_object()) << out.str();
  EXPECT_EQ(errorLine["level"], "error");
  EXPECT_EQ(errorLine["error"], "first attempt fails");
  EXPECT_EQ(errorLine["reconcileID"], inside[0]["reconcileID"]);
}

// --- reconcile context ---------------------------------------------------------

class RecordingRecorder final : public kube::Recorder {
 public:
  void event(const kube::ObjectRef& obj, kube::EventType type, const std::string& reason,
             const std::string& message) override {
    std::lock_guard l(mu_);
    events_.push_back(obj.name + " " + std::string(kube::toString(type)) + " " + reason + " " +
                      message);
  }
  std::vector<std::string> events() const {
    std::lock_guard l(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

// Blocks on the context's clock (a FakeClock here) until its stop token is
// requested, as a reconciler waiting for a slow step would; then gives up.
Result waitForStop(const kube::ReconcileContext& ctx) {
  kube::waitFor(ctx.clock, 24h, ctx.stop);
  ctx.throwIfStopped();
  return Result::done();
}

TEST(ReconcileContext, DefaultsAndHelpers) {
  const kube::ReconcileContext none{};
  EXPECT_EQ(&none.clock, &kube::SystemClock::instance());
  EXPECT_FALSE(none.stopRequested());
  EXPECT_NO_THROW(none.throwIfStopped());
  EXPECT_NO_THROW(none.event({}, kube::EventType::Normal, "R", "m"));  // no recorder: nothing

  kube::FakeClock clock;
  std::stop_source stop;
  RecordingRecorder rec;
  const kube::ReconcileContext ctx{
      .clock = clock, .stop = stop.get_token(), .controller = "c", .recorder = &rec};
  kube::ObjectRef web;
  web.name = "web";
  ctx.event(web, kube::EventType::Warning, "Failed", "no capacity");
  EXPECT_EQ(rec.events(), (std::vector<std::string>{"web Warning Failed no capacity"}));
  stop.request_stop();
  EXPECT_TRUE(ctx.stopRequested());
  EXPECT_THROW(ctx.throwIfStopped(), kube::ReconcileCancelled);
}

TEST_F(ControllerTest, ContextCarriesClockNamesAndRecorder) {
  RecordingRecorder events;
  std::mutex mu;
  std::vector<std::string> ids;
  const kube::Clock* seenClock = nullptr;
  std::string seenName;
  bool stopped = true;
  auto c = make(kube::reconcilerFunc([&](const Request& r, const kube::ReconcileContext& ctx) {
                  std::lock_guard l(mu);
                  seenClock = &ctx.clock;
                  seenName = ctx.controller;
                  stopped = ctx.stopRequested();
                  ids.push_back(ctx.reconcileID);
                  kube::ObjectRef ref;
                  ref.name = r.name;
                  ctx.event(ref, kube::EventType::Normal, "Seen", "reconciled");
                  return Result::done();
                }),
                1, 0ms, &events);
  c->enqueue({"ns", "a"});
  run(*c);
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 2; }));
  std::lock_guard l(mu);
  EXPECT_EQ(seenClock, &clock_);  // the queue's clock
  EXPECT_EQ(seenName, name_);
  EXPECT_FALSE(stopped);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].size(), 36u);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(events.events(),
            (std::vector<std::string>{"a Normal Seen reconciled", "a Normal Seen reconciled"}));
}

TEST_F(ControllerTest, StopNowRequestsTheStopTokenOfReconcilesInFlight) {
  std::atomic<bool> entered{false}, sawStop{false};
  auto c = make(kube::reconcilerFunc([&](const Request&, const kube::ReconcileContext& ctx) {
    entered = true;
    kube::waitFor(ctx.clock, 24h, ctx.stop);
    sawStop = ctx.stopRequested();
    return Result::done();
  }));
  run(*c);
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  // The only thread waiting on the fake clock: the reconcile (the one worker is in it).
  ASSERT_TRUE(clock_.waitForWaiters(1));
  c->enqueue({"ns", "b"});
  c->stopNow();  // as on a lost Lease
  thread_.join();
  EXPECT_TRUE(sawStop.load());
  EXPECT_EQ(value(m_.success), 1);  // it returned normally, once its token was requested
  // Nothing new started, and no simulated time had to pass.
  EXPECT_EQ(histogramCount(m_.time), 1u);
}

TEST_F(ControllerTest, GracefulStopLeavesTheStopTokenAlone) {
  std::atomic<bool> entered{false}, release{false}, sawStop{true};
  auto c = make(kube::reconcilerFunc([&](const Request&, const kube::ReconcileContext& ctx) {
    entered = true;
    while (!release) std::this_thread::sleep_for(1ms);
    sawStop = ctx.stopRequested();
    return Result::done();
  }));
  run(*c);
  c->enqueue({"ns", "a"});
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  std::thread stopper([&] { stop(); });
  settle();
  release = true;
  stopper.join();
  EXPECT_FALSE(sawStop.load());  // drained: allowed to finish
}

TEST_F(ControllerTest, TimeoutRequestsTheStopTokenAndTheKeyIsRetried) {
  std::atomic<int> calls{0};
  auto c = make(kube::reconcilerFunc([&](const Request&, const kube::ReconcileContext& ctx) {
                  if (++calls == 1) return waitForStop(ctx);  // throws once stopped
                  return Result::done();
                }),
                1, 30s);
  runUntilWaiting(*c, {"ns", "slow"}, calls);
  clock_.advance(30s - 1ms);
  // Both woke, looked at the time and went back to waiting: not yet.
  ASSERT_TRUE(clock_.waitForWaiters(2));
  EXPECT_EQ(value(m_.errors), 0);
  clock_.advance(1ms);
  ASSERT_TRUE(eventually([&] { return value(m_.errors) == 1; }));  // ReconcileCancelled
  ASSERT_TRUE(eventually([&] { return c->queue().numRequeues("ns/slow") == 1; }));
  clock_.advance(5ms);  // the key's backoff
  c->queue().poke();
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(ControllerTest, TimeoutCountsFromEachReconcilesStart) {
  std::atomic<int> calls{0};
  std::atomic<bool> stoppedEarly{false};
  auto c = make(kube::reconcilerFunc([&](const Request&, const kube::ReconcileContext& ctx) {
                  ++calls;
                  // Waits 20 s of a 30 s budget: never timed out.
                  kube::waitFor(ctx.clock, 20s, ctx.stop);
                  if (ctx.stopRequested()) stoppedEarly = true;
                  return Result::done();
                }),
                1, 30s);
  runUntilWaiting(*c, {"ns", "a"}, calls);
  clock_.advance(20s);
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 1; }));
  c->enqueue({"ns", "a"});  // starts at +20 s: its deadline is +50 s, not +30 s
  ASSERT_TRUE(eventually([&] { return calls == 2; }));
  ASSERT_TRUE(clock_.waitForWaiters(2));
  clock_.advance(15s);  // +35 s
  ASSERT_TRUE(clock_.waitForWaiters(2));
  EXPECT_FALSE(stoppedEarly.load());
  clock_.advance(5s);
  ASSERT_TRUE(eventually([&] { return value(m_.success) == 2; }));
  EXPECT_FALSE(stoppedEarly.load());
  EXPECT_EQ(value(m_.errors), 0);
}

// --- builder -----------------------------------------------------------------

class FakeInformer final : public kube::InformerBase {
 public:
  const kube::Resource& resource() const override { return res_; }
  void run(std::stop_token) override {}
  bool hasSynced() const override { return true; }
  void addMetaHandler(kube::MetaHandler h) override { handlers_.push_back(std::move(h)); }
  std::string lastError() const override { return ""; }

  void emit(const kube::ObjectMeta& m) {
    for (auto& h : handlers_) h(m);
  }
  size_t handlers() const { return handlers_.size(); }

 private:
  kube::Resource res_{"", "v1", "configmaps", true, "ConfigMap"};
  std::vector<kube::MetaHandler> handlers_;
};

class FakeRegistry final : public kube::ControllerRegistry {
 public:
  kube::Controller& addController(std::unique_ptr<kube::Controller> c) override {
    controllers.push_back(std::move(c));
    return *controllers.back();
  }
  int defaultMaxConcurrentReconciles() const override { return 3; }
  std::vector<std::unique_ptr<kube::Controller>> controllers;
};

kube::ObjectMeta meta(const std::string& ns, const std::string& name) {
  kube::ObjectMeta m;
  m.namespace_ = ns;
  m.name = name;
  return m;
}

kube::OwnerReference owner(const std::string& apiVersion, const std::string& kind,
                           const std::string& name, bool controller) {
  kube::OwnerReference r;
  r.apiVersion = apiVersion;
  r.kind = kind;
  r.name = name;
  r.uid = "uid-" + name;
  r.controller = controller;
  return r;
}

// Drains the controller's queue without running it.
std::set<std::string> queued(kube::Controller& c) {
  std::set<std::string> keys;
  while (c.queue().len() > 0) {
    auto k = c.queue().get();
    if (!k) break;
    keys.insert(*k);
    c.queue().done(*k);
  }
  return keys;
}

TEST(ControllerBuilder, WiresForOwnsAndWatches) {
  FakeRegistry reg;
  FakeInformer groups, instances, templates;
  auto rec = std::make_shared<FakeReconciler>();
  kube::Controller& c =
      kube::ControllerBuilder(reg, uniqueName("scalinggroup"))
          .forResource(groups)
          .owns(instances, "ScalingGroup", "compute.kubec2.io/v1alpha1")
          .watches(templates,
                   [](const kube::ObjectMeta& m) {
                     return std::vector<Request>{{m.namespace_, "users-of-" + m.name},
                                                 {m.namespace_, "other"}};
                   })
          .complete(rec);
  ASSERT_EQ(reg.controllers.size(), 1u);
  EXPECT_EQ(&c, reg.controllers[0].get());
  EXPECT_EQ(c.maxConcurrentReconciles(), 3);  // the registry's default
  EXPECT_EQ(groups.handlers(), 1u);
  EXPECT_EQ(instances.handlers(), 1u);
  EXPECT_EQ(templates.handlers(), 1u);

  groups.emit(meta("ns", "g1"));
  EXPECT_EQ(queued(c), (std::set<std::string>{"ns/g1"}));

  auto inst = meta("ns", "i1");
  // Same group, another version: still the owner (controller-runtime compares groups).
  inst.ownerReferences = {owner("compute.kubec2.io/v1beta1", "ScalingGroup", "g2", true)};
  instances.emit(inst);
  EXPECT_EQ(queued(c), (std::set<std::string>{"ns/g2"}));

  inst.ownerReferences = {owner("compute.kubec2.io/v1alpha1", "ScalingGroup", "g3", false)};
  instances.emit(inst);  // not the controller reference
  inst.ownerReferences = {owner("compute.kubec2.io/v1alpha1", "LoadBalancer", "lb", true)};
  instances.emit(inst);  // another kind
  inst.ownerReferences = {owner("other.io/v1alpha1", "ScalingGroup", "g4", true)};
  instances.emit(inst);  // another group
  instances.emit(meta("ns", "orphan"));
  EXPECT_TRUE(queued(c).empty());

  inst.ownerReferences = {owner("v1", "ConfigMap", "cm", false),
                          owner("compute.kubec2.io/v1alpha1", "ScalingGroup", "g5", true)};
  instances.emit(inst);
  EXPECT_EQ(queued(c), (std::set<std::string>{"ns/g5"}));

  templates.emit(meta("ns", "t1"));
  EXPECT_EQ(queued(c), (std::set<std::string>{"ns/users-of-t1", "ns/other"}));
}

TEST(ControllerBuilder, ClusterScopedOwnerAndOptions) {
  FakeRegistry reg;
  FakeInformer children;
  kube::Controller& c = kube::ControllerBuilder(reg, uniqueName("cluster"))
                            .owns(children, "Node", "v1", /*ownerNamespaced=*/false)
                            .withMaxConcurrentReconciles(7)
                            .complete(std::make_shared<FakeReconciler>());
  EXPECT_EQ(c.maxConcurrentReconciles(), 7);
  auto m = meta("ns", "pod");
  m.ownerReferences = {owner("v1", "Node", "node-1", true)};
  children.emit(m);
  EXPECT_EQ(queued(c), (std::set<std::string>{"node-1"}));
}

TEST(ControllerBuilder, ThrowingMapperDoesNotEscape) {
  FakeRegistry reg;
  FakeInformer inf;
  kube::Controller& c = kube::ControllerBuilder(reg, uniqueName("mapper"))
                            .watches(inf,
                                     [](const kube::ObjectMeta&) -> std::vector<Request> {
                                       throw std::runtime_error("bad mapper");
                                     })
                            .complete(std::make_shared<FakeReconciler>());
  EXPECT_NO_THROW(inf.emit(meta("ns", "x")));
  EXPECT_TRUE(queued(c).empty());
}

TEST(ControllerBuilder, Misuse) {
  FakeRegistry reg;
  FakeInformer inf;
  EXPECT_THROW(kube::ControllerBuilder(reg, "nothing").complete(std::make_shared<FakeReconciler>()),
               std::logic_error);
  kube::ControllerBuilder b(reg, uniqueName("twice"));
  b.forResource(inf).complete(std::make_shared<FakeReconciler>());
  EXPECT_THROW(b.complete(std::make_shared<FakeReconciler>()), std::logic_error);
  EXPECT_THROW(kube::ControllerBuilder(reg, "x").watches(inf, nullptr), std::invalid_argument);
}

// --- sources -------------------------------------------------------------------

TEST(Channel, HoldsKeysUntilAControllerIsConnected) {
  FakeRegistry reg;
  kube::Channel ch;
  ch.send({"ns", "a"});
  ch.send({"ns", "a"});  // held once
  ch.send({"", "b"});
  EXPECT_EQ(ch.held(), 2u);
  kube::Controller& c = kube::ControllerBuilder(reg, uniqueName("channel"))
                            .watches(ch)  // a channel alone is enough to build on
                            .complete(std::make_shared<FakeReconciler>());
  EXPECT_EQ(ch.held(), 0u);
  EXPECT_EQ(queued(c), (std::set<std::string>{"ns/a", "b"}));
  ch.send({"ns", "c"});
  EXPECT_EQ(queued(c), (std::set<std::string>{"ns/c"}));
}

TEST(Channel, SendsReachEveryConnectedController) {
  FakeRegistry reg;
  kube::Channel ch;
  ch.send({"ns", "early"});
  kube::Controller& first = kube::ControllerBuilder(reg, uniqueName("first"))
                                .watches(ch)
                                .complete(std::make_shared<FakeReconciler>());
  kube::Controller& second = kube::ControllerBuilder(reg, uniqueName("second"))
                                 .watches(ch)
                                 .complete(std::make_shared<FakeReconciler>());
  ch.send({"ns", "late"});
  EXPECT_EQ(queued(first), (std::set<std::string>{"ns/early", "ns/late"}));
  EXPECT_EQ(queued(second), (std::set<std::string>{"ns/late"}));
}

TEST(Channel, SendersOnManyThreadsLoseNothing) {
  FakeRegistry reg;
  kube::Channel ch;
  std::vector<std::jthread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&ch, t] {
      for (int i = 0; i < 200; ++i) ch.send({"ns", std::to_string(t * 1000 + i)});
    });
  }
  // Connected while the senders run: every key is held or delivered.
  kube::Controller& c = kube::ControllerBuilder(reg, uniqueName("threads"))
                            .watches(ch)
                            .complete(std::make_shared<FakeReconciler>());
  senders.clear();
  EXPECT_EQ(queued(c).size(), 800u);
}

TEST_F(ControllerTest, ChannelKeysAreReconciled) {
  FakeRegistry reg;
  FakeInformer inf;
  kube::Channel health;
  auto rec = std::make_shared<FakeReconciler>();
  health.send({"ns", "lb-1"});  // before the controller starts, as a prober's first result
  kube::WorkQueueOptions q;
  q.clock = &clock_;
  kube::Controller& c = kube::ControllerBuilder(reg, name_)
                            .forResource(inf)
                            .watches(health)
                            .withQueueOptions(q)
                            .withMaxConcurrentReconciles(1)
                            .complete(rec);
  run(c);
  ASSERT_TRUE(eventually([&] { return rec->calls("ns/lb-1") == 1; }));
  health.send({"ns", "lb-2"});
  inf.emit(meta("ns", "lb-3"));
  ASSERT_TRUE(eventually([&] { return rec->calls("ns/lb-2") == 1 && rec->calls("ns/lb-3") == 1; }));
  stop();
}

// A source of the test's own: connected once per controller, at complete().
class CountingSource final : public kube::Source {
 public:
  void connect(kube::Controller& c) override { connected.push_back(c.name()); }
  std::vector<std::string> connected;
};

TEST(ControllerBuilder, ConnectsSourcesAtComplete) {
  FakeRegistry reg;
  CountingSource src;
  const std::string name = uniqueName("custom");
  kube::ControllerBuilder b(reg, name);
  b.watches(src).withReconcileTimeout(5s);
  EXPECT_TRUE(src.connected.empty());
  b.complete(std::make_shared<FakeReconciler>());
  EXPECT_EQ(src.connected, std::vector<std::string>{name});
  FakeInformer inf;
  EXPECT_THROW(kube::InformerSource(inf, nullptr), std::invalid_argument);
}

}  // namespace
