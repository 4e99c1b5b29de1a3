// The manager without an API server: no informers (or one that cannot
// reach its server), controllers fed directly, and leader election over an
// in-memory Lease.
#include "runtime/manager.h"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "runtime/errors.h"
#include "runtime/fake_client.h"
#include "runtime/fake_clock.h"
#include "runtime/leader_election.h"
#include "runtime/object.h"
#include "runtime/wait.h"

namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds timeout = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (p()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return p();
}

std::pair<int, std::string> httpGet(int port, const std::string& target) {
  boost::asio::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(
      tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(sock, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

// Nothing listens there: connections are refused at once.
kube::RestConfig unreachable() {
  kube::RestConfig c;
  c.server = "https://127.0.0.1:1";
  c.maxRetries = 0;
  c.defaultNamespace = "kubec2-system";
  return c;
}

kube::ManagerOptions localOptions() {
  kube::ManagerOptions o;
  // The metrics server (civetweb) takes ~2 s to stop: only where it is tested.
  o.metricsBindAddress = "0";
  o.healthProbeBindAddress = "127.0.0.1:0";
  o.gracefulShutdownTimeout = 5s;
  return o;
}

std::string uniqueName(const std::string& base) {
  static std::atomic<int> n{0};
  return base + "-" + std::to_string(n++);
}

// An in-memory Lease store; `steal` hands the Lease to someone else.
class MemLeases final : public kube::LeaseClient {
 public:
  std::optional<nlohmann::json> get(const std::string&, const std::string&) override {
    std::lock_guard l(mu_);
    return lease_;
  }
  nlohmann::json create(const nlohmann::json& lease) override {
    std::lock_guard l(mu_);
    if (lease_) throw kube::ApiError(kube::Status{409, "AlreadyExists", "exists", {}, {}});
    lease_ = lease;
    (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return *lease_;
  }
  nlohmann::json update(const nlohmann::json& lease) override {
    std::lock_guard l(mu_);
    if (!lease_ || lease["metadata"].value("resourceVersion", "") !=
                       (*lease_)["metadata"].value("resourceVersion", "")) {
      throw kube::ApiError(kube::Status{409, "Conflict", "stale", {}, {}});
    }
    lease_ = lease;
    (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return *lease_;
  }
  void steal() {
    std::lock_guard l(mu_);
    (*lease_)["spec"]["holderIdentity"] = "someone-else";
    (*lease_)["spec"]["leaseDurationSeconds"] = 60;
    (*lease_)["metadata"]["resourceVersion"] = std::to_string(++rv_);
  }
  std::string holder() {
    std::lock_guard l(mu_);
    return lease_ ? (*lease_)["spec"].value("holderIdentity", "") : "(none)";
  }

 private:
  std::mutex mu_;
  std::optional<nlohmann::json> lease_;
  long rv_ = 0;
};

// Wraps a shared MemLeases so the test keeps a handle after the manager takes ownership.
class LeaseRef final : public kube::LeaseClient {
 public:
  explicit LeaseRef(std::shared_ptr<MemLeases> m) : m_(std::move(m)) {}
  std::optional<nlohmann::json> get(const std::string& ns, const std::string& n) override {
    return m_->get(ns, n);
  }
  nlohmann::json create(const nlohmann::json& l) override { return m_->create(l); }
  nlohmann::json update(const nlohmann::json& l) override { return m_->update(l); }

 private:
  std::shared_ptr<MemLeases> m_;
};

struct Counting {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<kube::Reconciler> reconciler() {
    auto c = calls;
    return kube::reconcilerFunc([c](const kube::Request&) {
      ++*c;
      return kube::Result::done();
    });
  }
};

TEST(Manager, RunsControllersServesProbesAndStopsGracefully) {
  auto opts = localOptions();
  opts.metricsBindAddress = "127.0.0.1:0";
  kube::Manager mgr(unreachable(), opts);
  ASSERT_GT(mgr.metricsPort(), 0);
  ASSERT_GT(mgr.healthPort(), 0);
  Counting counting;
  const std::string name = uniqueName("mgr");
  kube::Controller& c = mgr.addController(std::make_unique<kube::Controller>(
      kube::ControllerOptions{name, 2, {}}, counting.reconciler()));
  std::atomic<bool> everywhereRan{false};
  mgr.add(kube::makeRunnable(
      "webhook",
      [&](std::stop_token st) {
        everywhereRan = true;
        while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
      },
      false));
  c.enqueue({"ns", "a"});

  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return *counting.calls == 1; }));
  EXPECT_TRUE(everywhereRan.load());
  EXPECT_TRUE(mgr.isLeader());
  EXPECT_EQ(httpGet(mgr.healthPort(), "/healthz"), (std::pair<int, std::string>{200, "ok"}));
  EXPECT_EQ(httpGet(mgr.healthPort(), "/readyz").first, 200);
  auto metrics = httpGet(mgr.metricsPort(), "/metrics");
  EXPECT_EQ(metrics.first, 200);
  EXPECT_NE(metrics.second.find("controller_runtime_reconcile_total{controller=\"" + name +
                                "\",result=\"success\"} 1"),
            std::string::npos);
  EXPECT_THROW(mgr.add(kube::makeRunnable(
                   "late", [](std::stop_token) {}, true)),
               std::logic_error);

  stop.request_stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  const kube::RunResult res = done.get();
  EXPECT_TRUE(res.ok) << res.error;
  EXPECT_FALSE(res.threadsLeftRunning);
}

TEST(Manager, ReadyzNamesUnsyncedInformersAndSyncTimeoutFails) {
  auto opts = localOptions();
  opts.cacheSyncTimeout = 1500ms;
  kube::Manager mgr(unreachable(), opts);
  const kube::Resource cms{"", "v1", "configmaps", true, "ConfigMap"};
  auto& inf = mgr.informer<kube::RawObject>(cms);
  EXPECT_EQ(&inf, &mgr.informer<kube::RawObject>(cms));  // shared
  kube::InformerOptions other;
  other.namespace_ = "other";
  EXPECT_NE(&inf, &mgr.informer<kube::RawObject>(cms, other));

  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return !inf.lastError().empty(); }));
  auto ready = httpGet(mgr.healthPort(), "/readyz");
  EXPECT_EQ(ready.first, 503);
  EXPECT_NE(ready.second.find("[-]informer configmaps.v1 failed: not synced; last error: "),
            std::string::npos)
      << ready.second;
  EXPECT_FALSE(mgr.cachesSynced());

  ASSERT_EQ(done.wait_for(20s), std::future_status::ready);
  const kube::RunResult res = done.get();
  EXPECT_FALSE(res.ok);
  EXPECT_NE(res.error.find("timed out waiting for informers to sync"), std::string::npos)
      << res.error;
}

TEST(Manager, FailingRunnableStopsTheManager) {
  kube::Manager mgr(unreachable(), localOptions());
  mgr.add(kube::makeRunnable(
      "broken", [](std::stop_token) { throw std::runtime_error("cannot start"); }, true));
  std::stop_source never;
  const kube::RunResult res = mgr.run(never.get_token());
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error, "broken: cannot start");
}

// ManagerOptions::clock drives the controllers built on the manager: a
// failed reconcile's retry waits for the simulated backoff, not real time.
TEST(Manager, ControllersRunOnTheManagersClock) {
  kube::FakeClock clock;
  auto opts = localOptions();
  opts.clock = &clock;
  kube::Manager mgr(unreachable(), opts);
  kube::Channel wake;
  std::atomic<int> calls{0};
  std::atomic<const kube::Clock*> seen{nullptr};
  kube::ControllerBuilder(mgr, uniqueName("clocked"))
      .watches(wake)
      .complete(kube::reconcilerFunc(
          [&](const kube::Request&, const kube::ReconcileContext& ctx) -> kube::Result {
            seen = &ctx.clock;
            if (++calls == 1) throw std::runtime_error("first attempt fails");
            return kube::Result::done();
          }));
  wake.send({"ns", "a"});
  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return calls == 1; }));
  EXPECT_EQ(seen.load(), &clock);
  // The worker waits on the fake clock for the 5 ms backoff.
  ASSERT_TRUE(clock.waitForWaiters(1));
  EXPECT_EQ(calls, 1);
  clock.advance(5ms);
  EXPECT_TRUE(eventually([&] { return calls == 2; }));
  stop.request_stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(done.get().ok);
}

TEST(Manager, BadBindAddressesNameTheFlag) {
  auto o = localOptions();
  o.metricsBindAddress = "nonsense";  // rejected before anything binds
  try {
    kube::Manager m(unreachable(), o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--metrics-bind-address=\"nonsense\""), std::string::npos)
        << e.what();
  }
  o = localOptions();
  o.metricsBindAddress = "127.0.0.1:0";
  kube::Manager first(unreachable(), o);
  o = localOptions();
  o.healthProbeBindAddress = "127.0.0.1:" + std::to_string(first.healthPort());
  try {
    kube::Manager m(unreachable(), o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--health-probe-bind-address=\"127.0.0.1:"),
              std::string::npos)
        << e.what();
  }
  o = localOptions();
  o.metricsBindAddress = "127.0.0.1:" + std::to_string(first.metricsPort());
  EXPECT_THROW(kube::Manager(unreachable(), o), std::runtime_error);
  o = localOptions();
  o.metricsBindAddress = "0";
  o.healthProbeBindAddress = "0";
  kube::Manager disabled(unreachable(), o);
  EXPECT_EQ(disabled.metricsPort(), 0);
  EXPECT_EQ(disabled.healthPort(), 0);
}

TEST(Manager, LeaderElectionNeedsANamespace) {
  auto o = localOptions();
  o.leaderElection = true;
  auto cfg = unreachable();
  cfg.defaultNamespace.clear();
  EXPECT_THROW(kube::Manager(cfg, o), kube::ConfigError);
}

kube::ManagerOptions leOptions(const std::shared_ptr<MemLeases>& leases) {
  auto o = localOptions();
  o.leaderElection = true;
  o.leaderElectionID = uniqueName("lease");
  o.leaseDuration = 1500ms;
  o.renewDeadline = 1000ms;
  o.retryPeriod = 50ms;
  o.leaseClientFactory = [leases](kube::Client&) { return std::make_unique<LeaseRef>(leases); };
  return o;
}

TEST(Manager, LosingTheLeaseStopsControllersAndFailsRun) {
  auto leases = std::make_shared<MemLeases>();
  kube::Manager mgr(unreachable(), leOptions(leases));
  Counting counting;
  kube::Controller& c = mgr.addController(std::make_unique<kube::Controller>(
      kube::ControllerOptions{uniqueName("le"), 1, {}}, counting.reconciler()));
  c.enqueue({"ns", "a"});
  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return *counting.calls == 1; }));
  EXPECT_TRUE(mgr.isLeader());
  EXPECT_NE(leases->holder(), "");

  leases->steal();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  const kube::RunResult res = done.get();
  EXPECT_FALSE(res.ok);
  EXPECT_EQ(res.error, "leader election lost");
  EXPECT_FALSE(res.threadsLeftRunning);
  EXPECT_FALSE(mgr.isLeader());
  c.enqueue({"ns", "b"});  // nobody reconciles any more
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(*counting.calls, 1);
  EXPECT_EQ(leases->holder(), "someone-else");
}

TEST(Manager, LosingTheLeaseRequestsTheStopTokenOfReconcilesInFlight) {
  auto leases = std::make_shared<MemLeases>();
  kube::Manager mgr(unreachable(), leOptions(leases));
  std::atomic<bool> entered{false}, sawStop{false};
  kube::Controller& c = mgr.addController(std::make_unique<kube::Controller>(
      kube::ControllerOptions{uniqueName("cut"), 1, {}},
      kube::reconcilerFunc([&](const kube::Request&, const kube::ReconcileContext& ctx) {
        entered = true;
        // A slow step that waits by the context: far longer than the test.
        kube::waitFor(ctx.clock, 1h, ctx.stop);
        sawStop = ctx.stopRequested();
        return kube::Result::done();
      })));
  c.enqueue({"ns", "a"});
  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  leases->steal();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  const kube::RunResult res = done.get();
  EXPECT_EQ(res.error, "leader election lost");
  EXPECT_FALSE(res.threadsLeftRunning);  // the reconcile returned: nothing abandoned
  EXPECT_TRUE(sawStop.load());
}

TEST(Manager, StopWhileLeadingDrainsAndReleasesTheLease) {
  auto leases = std::make_shared<MemLeases>();
  kube::Manager mgr(unreachable(), leOptions(leases));
  std::atomic<bool> entered{false}, finished{false};
  kube::Controller& c = mgr.addController(
      std::make_unique<kube::Controller>(kube::ControllerOptions{uniqueName("drain"), 1, {}},
                                         kube::reconcilerFunc([&](const kube::Request&) {
                                           entered = true;
                                           std::this_thread::sleep_for(200ms);
                                           finished = true;
                                           return kube::Result::done();
                                         })));
  c.enqueue({"ns", "a"});
  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  stop.request_stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  const kube::RunResult res = done.get();
  EXPECT_TRUE(res.ok) << res.error;
  EXPECT_TRUE(finished.load());     // the reconcile in flight was allowed to finish
  EXPECT_EQ(leases->holder(), "");  // released for the next replica
}

// Writes through client() and controllerClient() are sent only while this
// replica holds the Lease; anyReplicaClient() writes regardless (the
// webhook's certificates). LeaderElector's tests cover the deadline itself.
TEST(Manager, WritesOnlyWhileHoldingTheLease) {
  const kube::Resource configMaps{"", "v1", "configmaps", true, "ConfigMap"};
  auto fake = std::make_unique<kube::FakeClient>();
  kube::FakeClient& api = *fake;
  api.serve(configMaps);
  auto leases = std::make_shared<MemLeases>();
  auto o = leOptions(leases);
  o.leaderElectionNamespace = "kubec2-system";
  kube::Manager mgr(std::move(fake), o);
  auto cm = [](const std::string& name) {
    return nlohmann::json{{"apiVersion", "v1"},
                          {"kind", "ConfigMap"},
                          {"metadata", {{"name", name}, {"namespace", "ns"}}}};
  };
  auto refusal = [&](kube::Client& c, const std::string& name) {
    try {
      c.create(configMaps, "ns", cm(name));
    } catch (const kube::ApiError& e) {
      return e.status().reason;
    }
    return std::string("sent");
  };
  kube::Client& controllerClient = mgr.controllerClient("c");
  // Not leading yet: nothing is sent, whichever client a controller holds.
  EXPECT_EQ(refusal(mgr.client(), "before"), "NotLeader");
  EXPECT_EQ(refusal(controllerClient, "before-c"), "NotLeader");
  try {
    mgr.client().get(configMaps, "ns", "absent");
  } catch (const kube::ApiError& e) {
    EXPECT_EQ(e.status().reason, "NotFound") << "reads reach the server";
  }
  EXPECT_EQ(refusal(mgr.anyReplicaClient(), "any"), "sent");
  EXPECT_EQ(api.writes("create", "configmaps"), 1);

  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  ASSERT_TRUE(eventually([&] { return mgr.isLeader(); }));
  EXPECT_EQ(refusal(mgr.client(), "leading"), "sent");
  EXPECT_EQ(refusal(controllerClient, "leading-c"), "sent");

  leases->steal();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(done.get().error, "leader election lost");
  EXPECT_EQ(refusal(mgr.client(), "after"), "NotLeader");
  EXPECT_EQ(api.writes("create", "configmaps"), 3);
}

TEST(Manager, StandbyDoesNotReconcileUntilItLeads) {
  auto leases = std::make_shared<MemLeases>();
  {
    // Someone else holds a fresh Lease.
    MemLeases& m = *leases;
    m.create({{"metadata", {{"name", "x"}, {"namespace", "kubec2-system"}}},
              {"spec", {{"holderIdentity", "other"}, {"leaseDurationSeconds", 60}}}});
  }
  kube::Manager mgr(unreachable(), leOptions(leases));
  Counting counting;
  kube::Controller& c = mgr.addController(std::make_unique<kube::Controller>(
      kube::ControllerOptions{uniqueName("standby"), 1, {}}, counting.reconciler()));
  c.enqueue({"ns", "a"});
  std::stop_source stop;
  auto done = std::async(std::launch::async, [&] { return mgr.run(stop.get_token()); });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(*counting.calls, 0);
  EXPECT_FALSE(mgr.isLeader());
  EXPECT_EQ(httpGet(mgr.healthPort(), "/readyz").first, 200);  // standbys are ready
  stop.request_stop();
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(done.get().ok);
  EXPECT_EQ(leases->holder(), "other");
}

}  // namespace
