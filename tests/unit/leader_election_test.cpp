#include "runtime/leader_election.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/errors.h"
#include "runtime/metrics.h"

namespace kube {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Simulated time. waitUntil polls in short real-time slices, so a waiter
// sees advance() without the clock having to know the waiter's mutex.
class TestClock final : public Clock {
 public:
  time_point now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  std::chrono::system_clock::time_point wallNow() const override {
    std::lock_guard<std::mutex> l(mu_);
    return std::chrono::system_clock::time_point(1700000000s) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - time_point{});
  }
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 time_point deadline) const override {
    if (now() < deadline) cv.wait_for(lock, 1ms);
  }
  void advance(duration d) {
    std::lock_guard<std::mutex> l(mu_);
    now_ += d;
  }
  void set(time_point t) {
    std::lock_guard<std::mutex> l(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  time_point now_{1000s};
};

ApiError apiError(int code, const std::string& reason) {
  Status s;
  s.code = code;
  s.reason = reason;
  s.message = "injected";
  return ApiError(s);
}

// An in-memory API server holding one Lease, with resourceVersion checks and
// a hook to inject failures per verb and caller.
struct FakeLeaseServer {
  std::mutex mu;
  std::optional<json> lease;
  long long rv = 0;
  std::atomic<int> creates{0};
  std::atomic<int> updates{0};
  // Called before each request; throw to fail it.
  std::function<void(const std::string& verb, const std::string& who)> hook;

  void before(const std::string& verb, const std::string& who) {
    if (hook) hook(verb, who);
  }
  json stored(json obj) {
    obj["metadata"]["resourceVersion"] = std::to_string(++rv);
    lease = obj;
    return obj;
  }
  // Sets the spec as another writer would.
  void put(const LeaderElectionRecord& rec) {
    std::lock_guard<std::mutex> l(mu);
    json obj = lease.value_or(json{{"apiVersion", "coordination.k8s.io/v1"},
                                   {"kind", "Lease"},
                                   {"metadata", {{"name", "lock"}, {"namespace", "ns"}}}});
    rec.writeTo(obj["spec"]);
    stored(obj);
  }
  LeaderElectionRecord record() {
    std::lock_guard<std::mutex> l(mu);
    return lease ? LeaderElectionRecord::fromLease(*lease) : LeaderElectionRecord{};
  }
};

class FakeLeaseClient final : public LeaseClient {
 public:
  FakeLeaseClient(FakeLeaseServer& server, std::string who)
      : server_(server), who_(std::move(who)) {}

  std::optional<json> get(const std::string& ns, const std::string& name) override {
    std::lock_guard<std::mutex> l(server_.mu);
    server_.before("get", who_);
    EXPECT_EQ(ns, "ns");
    EXPECT_EQ(name, "lock");
    return server_.lease;
  }
  json create(const json& lease) override {
    std::lock_guard<std::mutex> l(server_.mu);
    server_.before("create", who_);
    if (server_.lease) throw apiError(409, "AlreadyExists");
    ++server_.creates;
    EXPECT_EQ(lease.at("apiVersion"), "coordination.k8s.io/v1");
    EXPECT_EQ(lease.at("kind"), "Lease");
    return server_.stored(lease);
  }
  json update(const json& lease) override {
    std::lock_guard<std::mutex> l(server_.mu);
    server_.before("update", who_);
    if (!server_.lease) throw apiError(404, "NotFound");
    if (lease.at("metadata").value("resourceVersion", "") !=
        server_.lease->at("metadata").at("resourceVersion")) {
      throw apiError(409, "Conflict");
    }
    ++server_.updates;
    return server_.stored(lease);
  }

 private:
  FakeLeaseServer& server_;
  std::string who_;
};

struct Calls {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::vector<std::string> newLeaders;
  std::stop_token term;
};

LeaderElectionOptions options(const std::string& id, const Clock* clock, Calls* calls) {
  LeaderElectionOptions o;
  o.namespace_ = "ns";
  o.name = "lock";
  o.identity = id;
  o.clock = clock;
  if (calls) {
    o.onStartedLeading = [calls](std::stop_token t) {
      calls->term = t;
      ++calls->started;
    };
    o.onStoppedLeading = [calls] { ++calls->stopped; };
    o.onNewLeader = [calls](const std::string& who) { calls->newLeaders.push_back(who); };
  }
  return o;
}

LeaderElectionRecord heldBy(const std::string& who, int transitions = 0) {
  LeaderElectionRecord r;
  r.holderIdentity = who;
  r.leaseDurationSeconds = 15;
  r.acquireTime = "2000-01-01T00:00:00.000000Z";
  r.renewTime = "2000-01-01T00:00:00.000000Z";
  r.leaseTransitions = transitions;
  return r;
}

// Advances the clock to the elector's next tick and runs it.
Clock::time_point step(LeaderElector& e, TestClock& clock, Clock::time_point next) {
  clock.set(std::max(clock.now(), next));
  return e.tick();
}

// --- The pure decision ---

TEST(DecideLease, Table) {
  const Clock::time_point t0{100s};
  struct Case {
    const char* name;
    std::optional<LeaderElectionRecord> current;
    Clock::duration sinceObserved;
    LeaseAction want;
  };
  LeaderElectionRecord zeroDuration = heldBy("other");
  zeroDuration.leaseDurationSeconds = 0;
  const std::vector<Case> cases = {
      {"no lease: create", std::nullopt, 0s, LeaseAction::Create},
      {"ours: renew", heldBy("me"), 1s, LeaseAction::Renew},
      {"ours, long unrenewed: still renew", heldBy("me"), 1h, LeaseAction::Renew},
      {"no holder: acquire", heldBy(""), 0s, LeaseAction::Acquire},
      {"other, fresh: wait", heldBy("other"), 0s, LeaseAction::Wait},
      {"other, 1ns before expiry: wait", heldBy("other"), 15s - 1ns, LeaseAction::Wait},
      {"other, at expiry: acquire", heldBy("other"), 15s, LeaseAction::Acquire},
      {"other, long expired: acquire", heldBy("other"), 1h, LeaseAction::Acquire},
      {"other, zero duration: acquire", zeroDuration, 0s, LeaseAction::Acquire},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(decideLease(c.current, t0, t0 + c.sinceObserved, "me"), c.want) << c.name;
  }
}

TEST(DecideLease, ExpiryIgnoresRemoteTimestamps) {
  // renewTime is from the year 2000, but this process saw the record just now.
  const Clock::time_point t0{100s};
  EXPECT_EQ(decideLease(heldBy("other"), t0, t0 + 1s, "me"), LeaseAction::Wait);
}

TEST(NextLeaseRecord, CreateAcquireRenew) {
  const auto wall = std::chrono::system_clock::time_point(1700000000s) + 123456us;
  const auto created = nextLeaseRecord(std::nullopt, LeaseAction::Create, "me", 15s, wall);
  EXPECT_EQ(created.holderIdentity, "me");
  EXPECT_EQ(created.leaseDurationSeconds, 15);
  EXPECT_EQ(created.leaseTransitions, 0);
  EXPECT_EQ(created.renewTime, "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(created.acquireTime, created.renewTime);

  const auto acquired = nextLeaseRecord(heldBy("other", 4), LeaseAction::Acquire, "me", 15s, wall);
  EXPECT_EQ(acquired.holderIdentity, "me");
  EXPECT_EQ(acquired.leaseTransitions, 5);
  EXPECT_EQ(acquired.acquireTime, "2023-11-14T22:13:20.123456Z");

  const auto renewed = nextLeaseRecord(heldBy("me", 4), LeaseAction::Renew, "me", 15s, wall);
  EXPECT_EQ(renewed.leaseTransitions, 4);
  EXPECT_EQ(renewed.acquireTime, "2000-01-01T00:00:00.000000Z");
  EXPECT_EQ(renewed.renewTime, "2023-11-14T22:13:20.123456Z");

  EXPECT_THROW(nextLeaseRecord(heldBy("other"), LeaseAction::Wait, "me", 15s, wall),
               std::invalid_argument);
}

TEST(NextLeaseRecord, Released) {
  const auto r = releasedLeaseRecord(heldBy("me", 3), std::chrono::system_clock::time_point(0s));
  EXPECT_EQ(r.holderIdentity, "");
  EXPECT_EQ(r.leaseDurationSeconds, 1);
  EXPECT_EQ(r.leaseTransitions, 3);
  EXPECT_EQ(r.renewTime, "1970-01-01T00:00:00.000000Z");
}

TEST(LeaderElectionRecord, JsonRoundTripKeepsOtherSpecFields) {
  json lease = {{"spec", {{"strategy", "OldestEmulationVersion"}}}};
  heldBy("me", 2).writeTo(lease["spec"]);
  EXPECT_EQ(lease["spec"]["strategy"], "OldestEmulationVersion");
  EXPECT_EQ(LeaderElectionRecord::fromLease(lease), heldBy("me", 2));
  EXPECT_EQ(LeaderElectionRecord::fromLease(json::object()), LeaderElectionRecord{});
}

TEST(LeaderElectionOptions, Validated) {
  FakeLeaseServer server;
  auto make = [&](LeaderElectionOptions o) {
    LeaderElector e(std::move(o), std::make_unique<FakeLeaseClient>(server, "me"));
  };
  auto o = options("me", nullptr, nullptr);
  o.renewDeadline = o.leaseDuration;
  EXPECT_THROW(make(o), std::invalid_argument);
  o = options("me", nullptr, nullptr);
  o.retryPeriod = 9s;  // 1.2 * 9 s > 10 s renew deadline
  EXPECT_THROW(make(o), std::invalid_argument);
  o = options("me", nullptr, nullptr);
  o.name.clear();
  EXPECT_THROW(make(o), std::invalid_argument);
  EXPECT_NO_THROW(make(options("me", nullptr, nullptr)));
}

TEST(LeaderElectionOptions, DefaultIdentityIsUniquePerProcessAndElector) {
  const auto a = defaultLeaderIdentity();
  const auto b = defaultLeaderIdentity();
  EXPECT_NE(a, b);
  EXPECT_NE(a.find('_'), std::string::npos);
}

// --- The elector against the fake server, in simulated time ---

TEST(LeaderElector, AcquiresWhenNoLeaseExists) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  EXPECT_FALSE(e.isLeader());
  const auto next = e.tick();
  EXPECT_TRUE(e.isLeader());
  EXPECT_EQ(next, clock.now() + 2s);
  EXPECT_EQ(server.creates, 1);
  const auto rec = server.record();
  EXPECT_EQ(rec.holderIdentity, "me");
  EXPECT_EQ(rec.leaseDurationSeconds, 15);
  EXPECT_EQ(rec.leaseTransitions, 0);
  EXPECT_EQ(calls.started, 1);
  EXPECT_EQ(calls.newLeaders, std::vector<std::string>{"me"});
  EXPECT_EQ(e.leader(), "me");
  EXPECT_EQ(metrics::leaderStatus("lock").Value(), 1);
}

TEST(LeaderElector, AcquiresAReleasedLeaseAtOnce) {
  TestClock clock;
  FakeLeaseServer server;
  server.put(releasedLeaseRecord(heldBy("old", 2), clock.wallNow()));
  LeaderElector e(options("me", &clock, nullptr), std::make_unique<FakeLeaseClient>(server, "me"));
  e.tick();
  EXPECT_TRUE(e.isLeader());
  EXPECT_EQ(server.record().leaseTransitions, 3);
}

TEST(LeaderElector, WaitsWhileTheHolderKeepsRenewing) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  server.put(heldBy("other"));
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  auto next = e.tick();
  EXPECT_FALSE(e.isLeader());
  // Candidates retry after retryPeriod * [1, 2.2).
  EXPECT_GE(next, clock.now() + 2s);
  EXPECT_LT(next, clock.now() + 4400ms);
  for (int i = 0; i < 50; ++i) {
    auto rec = heldBy("other");
    rec.renewTime = "2000-01-01T00:00:" + std::to_string(10 + i) + ".000000Z";
    server.put(rec);  // the holder renews
    next = step(e, clock, next);
    EXPECT_FALSE(e.isLeader());
  }
  EXPECT_GT(clock.now(), Clock::time_point(1000s) + 60s);
  EXPECT_EQ(calls.started, 0);
  EXPECT_EQ(server.updates, 0);
  EXPECT_EQ(e.leader(), "other");
  EXPECT_EQ(calls.newLeaders, std::vector<std::string>{"other"});
}

TEST(LeaderElector, TakesOverWhenTheLeaseExpiresByItsOwnClock) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  server.put(heldBy("other", 7));  // renewTime long past; only local observation counts
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  const auto firstSeen = clock.now();
  e.tick();
  EXPECT_FALSE(e.isLeader());
  clock.set(firstSeen + 15s - 1ms);
  e.tick();
  EXPECT_FALSE(e.isLeader());
  clock.set(firstSeen + 15s);
  e.tick();
  EXPECT_TRUE(e.isLeader());
  const auto rec = server.record();
  EXPECT_EQ(rec.holderIdentity, "me");
  EXPECT_EQ(rec.leaseTransitions, 8);
  EXPECT_EQ(rec.acquireTime, formatMicroTime(clock.wallNow()));
  EXPECT_EQ(calls.newLeaders, (std::vector<std::string>{"other", "me"}));
}

TEST(LeaderElector, RenewsEveryRetryPeriodKeepingAcquireTime) {
  TestClock clock;
  FakeLeaseServer server;
  LeaderElector e(options("me", &clock, nullptr), std::make_unique<FakeLeaseClient>(server, "me"));
  auto next = e.tick();
  const auto acquired = server.record();
  for (int i = 1; i <= 5; ++i) {
    next = step(e, clock, next);
    EXPECT_TRUE(e.isLeader());
    EXPECT_EQ(server.updates, i);
  }
  const auto rec = server.record();
  EXPECT_EQ(rec.acquireTime, acquired.acquireTime);
  EXPECT_NE(rec.renewTime, acquired.renewTime);
  EXPECT_EQ(rec.renewTime, formatMicroTime(clock.wallNow()));
  EXPECT_EQ(rec.leaseTransitions, 0);
}

TEST(LeaderElector, RetriesAfterConflict) {
  TestClock clock;
  FakeLeaseServer server;
  server.put(heldBy(""));
  bool conflictOnce = true;
  server.hook = [&](const std::string& verb, const std::string&) {
    if (verb == "update" && std::exchange(conflictOnce, false)) throw apiError(409, "Conflict");
  };
  LeaderElector e(options("me", &clock, nullptr), std::make_unique<FakeLeaseClient>(server, "me"));
  auto next = e.tick();
  EXPECT_FALSE(e.isLeader());
  step(e, clock, next);
  EXPECT_TRUE(e.isLeader());
}

TEST(LeaderElector, StopsLeadingWhenRenewalsFailPastTheDeadline) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  auto next = e.tick();
  ASSERT_TRUE(e.isLeader());
  next = step(e, clock, next);  // one good renewal
  const auto lastRenew = clock.now();
  server.hook = [](const std::string&, const std::string&) { throw apiError(503, "Unavailable"); };
  while (!e.finished()) {
    EXPECT_TRUE(e.isLeader());
    EXPECT_FALSE(calls.term.stop_requested());
    next = step(e, clock, next);
    ASSERT_LT(clock.now(), lastRenew + 1min) << "never gave up";
  }
  EXPECT_FALSE(e.isLeader());
  // Gave up at the renew deadline, before anyone else may take over.
  EXPECT_EQ(clock.now(), lastRenew + 10s);
  EXPECT_EQ(calls.stopped, 1);
  EXPECT_TRUE(calls.term.stop_requested());
  EXPECT_EQ(metrics::leaderStatus("lock").Value(), 0);
  EXPECT_EQ(next, Clock::time_point::max());
}

// A process stopped (SIGSTOP) past the renew deadline and continued: its
// elector's thread has not run since, yet holdsLease() is already false, so
// a write checked against it is not sent though isLeader() still says true.
TEST(LeaderElector, HoldsTheLeaseOnlyUntilTheRenewDeadlineWithoutTicking) {
  TestClock clock;
  FakeLeaseServer server;
  LeaderElector e(options("me", &clock, nullptr), std::make_unique<FakeLeaseClient>(server, "me"));
  EXPECT_FALSE(e.holdsLease());
  auto next = e.tick();
  ASSERT_TRUE(e.isLeader());
  EXPECT_TRUE(e.holdsLease());
  next = step(e, clock, next);  // renewed now
  const auto renewedAt = clock.now();
  clock.set(renewedAt + 10s - 1ms);
  EXPECT_TRUE(e.holdsLease());
  clock.set(renewedAt + 10s);  // the renew deadline; others may take over from +15 s
  EXPECT_FALSE(e.holdsLease());
  EXPECT_TRUE(e.isLeader()) << "the elector has not ticked yet";
  e.tick();
  EXPECT_FALSE(e.isLeader());
  EXPECT_FALSE(e.holdsLease());
  EXPECT_TRUE(e.finished());
}

TEST(LeaderElector, HoldsTheLeaseAgainAfterEachRenewalAndNotAfterStepDown) {
  TestClock clock;
  FakeLeaseServer server;
  LeaderElector e(options("me", &clock, nullptr), std::make_unique<FakeLeaseClient>(server, "me"));
  auto next = e.tick();
  const auto start = clock.now();
  while (clock.now() < start + 30s) {  // three renew deadlines: each renewal moves it on
    next = step(e, clock, next);
    EXPECT_TRUE(e.holdsLease());
  }
  server.put(heldBy("usurper"));
  step(e, clock, next);
  EXPECT_FALSE(e.holdsLease());
}

TEST(LeaderElector, SurvivesFailuresShorterThanTheDeadline) {
  TestClock clock;
  FakeLeaseServer server;
  LeaderElector e(options("me", &clock, nullptr), std::make_unique<FakeLeaseClient>(server, "me"));
  auto next = e.tick();
  const auto start = clock.now();
  server.hook = [&](const std::string&, const std::string&) {
    if (clock.now() < start + 8s) throw apiError(500, "InternalError");
  };
  while (clock.now() < start + 30s) {
    next = step(e, clock, next);
    ASSERT_TRUE(e.isLeader());
  }
}

TEST(LeaderElector, StepsDownAtOnceWhenAnotherHoldsTheLease) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  auto next = e.tick();
  ASSERT_TRUE(e.isLeader());
  server.put(heldBy("usurper"));
  step(e, clock, next);
  EXPECT_FALSE(e.isLeader());
  EXPECT_TRUE(e.finished());
  EXPECT_EQ(calls.stopped, 1);
  EXPECT_EQ(server.record().holderIdentity, "usurper");
}

TEST(LeaderElector, ReleasesOnStopAfterOnStoppedLeading) {
  TestClock clock;
  FakeLeaseServer server;
  auto o = options("me", &clock, nullptr);
  std::string holderDuringCallback;
  o.onStoppedLeading = [&] { holderDuringCallback = server.record().holderIdentity; };
  LeaderElector e(std::move(o), std::make_unique<FakeLeaseClient>(server, "me"));
  e.tick();
  ASSERT_TRUE(e.isLeader());
  e.shutdown();
  EXPECT_FALSE(e.isLeader());
  EXPECT_EQ(holderDuringCallback, "me");  // still held while leader-only work stops
  const auto rec = server.record();
  EXPECT_EQ(rec.holderIdentity, "");
  EXPECT_EQ(rec.leaseDurationSeconds, 1);

  // Another candidate takes over on its first try, without waiting 15 s.
  LeaderElector other(options("other", &clock, nullptr),
                      std::make_unique<FakeLeaseClient>(server, "other"));
  other.tick();
  EXPECT_TRUE(other.isLeader());
  EXPECT_EQ(server.record().leaseTransitions, 1);
}

TEST(LeaderElector, DoesNotReleaseALeaseItNoLongerHolds) {
  TestClock clock;
  FakeLeaseServer server;
  LeaderElector e(options("me", &clock, nullptr), std::make_unique<FakeLeaseClient>(server, "me"));
  e.tick();
  server.put(heldBy("usurper"));
  e.shutdown();
  EXPECT_EQ(server.record().holderIdentity, "usurper");
}

TEST(LeaderElector, ShutdownOfACandidateWritesNothing) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  server.put(heldBy("other"));
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  e.tick();
  const auto rv = server.rv;
  e.shutdown();
  EXPECT_EQ(server.rv, rv);
  EXPECT_EQ(calls.stopped, 0);
}

TEST(LeaderElector, RunLeadsUntilStoppedThenReleases) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  std::jthread t([&](std::stop_token st) { e.run(st); });
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!e.isLeader() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(e.isLeader());
  // Renewals happen as simulated time passes.
  for (int i = 0; i < 20 && server.updates < 2; ++i) {
    clock.advance(2s);
    std::this_thread::sleep_for(5ms);
  }
  t.request_stop();
  t.join();
  EXPECT_FALSE(e.isLeader());
  EXPECT_EQ(calls.stopped, 1);
  EXPECT_TRUE(calls.term.stop_requested());
  EXPECT_EQ(server.record().holderIdentity, "");
}

TEST(LeaderElector, RunReturnsWhenLeadershipIsLost) {
  TestClock clock;
  FakeLeaseServer server;
  Calls calls;
  LeaderElector e(options("me", &clock, &calls), std::make_unique<FakeLeaseClient>(server, "me"));
  std::atomic<bool> returned{false};
  std::jthread t([&](std::stop_token st) {
    e.run(st);
    returned = true;
  });
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!e.isLeader() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(e.isLeader());
  {
    std::lock_guard<std::mutex> l(server.mu);
    server.hook = [](const std::string&, const std::string&) { throw apiError(0, ""); };
  }
  while (!returned && std::chrono::steady_clock::now() < until) {
    clock.advance(1s);
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_TRUE(returned);
  EXPECT_EQ(calls.stopped, 1);
}

// Two electors sharing one server, ticked in simulated time in the order of
// their deadlines, with random failures and partitions: never two leaders.
TEST(LeaderElector, TwoCandidatesNeverLeadTogether) {
  // Thousands of injected failures would each log a warning.
  struct QuietLogs {
    spdlog::level::level_enum was = spdlog::get_level();
    QuietLogs() { spdlog::set_level(spdlog::level::err); }
    ~QuietLogs() { spdlog::set_level(was); }
  } quiet;
  for (unsigned seed = 1; seed <= 20; ++seed) {
    TestClock clock;
    FakeLeaseServer server;
    std::mt19937 rng(seed);
    // Each caller is cut off for random stretches of time, and single
    // requests fail now and then.
    struct Partition {
      Clock::time_point from, to;
    };
    std::map<std::string, Partition> cut;
    server.hook = [&](const std::string&, const std::string& who) {
      const auto& p = cut[who];
      if (clock.now() >= p.from && clock.now() < p.to) throw apiError(0, "");
      if (rng() % 10 == 0) throw apiError(500, "InternalError");
    };
    auto make = [&](const std::string& id) {
      return std::make_unique<LeaderElector>(options(id, &clock, nullptr),
                                             std::make_unique<FakeLeaseClient>(server, id));
    };
    std::vector<std::unique_ptr<LeaderElector>> electors;
    electors.push_back(make("a"));
    electors.push_back(make("b"));
    std::vector<Clock::time_point> next(2, clock.now());
    std::vector<std::string> ids = {"a", "b"};
    int leaderships = 0;
    const auto end = clock.now() + 30min;
    while (clock.now() < end) {
      // Now and then, partition one of them for 5..40 s.
      if (rng() % 50 == 0) {
        const auto& who = ids[rng() % 2];
        cut[who] = {clock.now(), clock.now() + std::chrono::seconds(5 + rng() % 36)};
      }
      const std::size_t i = next[0] <= next[1] ? 0 : 1;
      clock.set(std::max(clock.now(), next[i]));
      const bool was = electors[i]->isLeader();
      next[i] = electors[i]->tick();
      if (!was && electors[i]->isLeader()) ++leaderships;
      ASSERT_FALSE(electors[0]->isLeader() && electors[1]->isLeader())
          << "seed " << seed << " at " << (clock.now().time_since_epoch() / 1s) << "s";
      if (electors[i]->finished()) {  // lost it: campaign again, as a restarted replica would
        electors[i] = make(ids[i]);
        next[i] = clock.now();
      }
    }
    // Partitions forced handovers, so the property was tested, not dodged.
    EXPECT_GE(leaderships, 3) << "seed " << seed;
  }
}

}  // namespace
}  // namespace kube
