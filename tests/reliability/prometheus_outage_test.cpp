// Prometheus outages and garbage answers at peak (issue 15,
// docs/reliability.md): a ScalingGroup scaled out by a target tracking CPU
// policy (the KubeVirt simulator's load, scraped by a real Prometheus every
// second), the operator binary evaluating every 2 s with a 2 s query
// timeout, and between the operator and Prometheus a fault proxy
// (prometheus_fault_proxy.h). Each fault in turn is held for several
// evaluation intervals: the capacity holds (neither drops nor grows), the
// ScalingActive condition is False with a reason naming the fault, one
// Warning Event says so, the operator's metrics show it; then the proxy
// forwards again and the group is active again and acts on real metrics
// (it scales in when the load goes).
//
// Size: the short form (make test) holds each fault 10 s (5 evaluations)
// once; KUBEC2_RELIABILITY_SIZE=full holds each 60 s, longer than target
// tracking's scale-in wait at this interval (300 s x 2 / 15 = 40 s), so a
// fault read as low load would show as a scale-in, for 3 rounds.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/compute/group_probe.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/helpers.h"
#include "tests/integration/http.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/prometheus_server.h"
#include "tests/integration/webhook_env.h"
#include "tests/reliability/prometheus_fault_proxy.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Fault = PrometheusFaultProxy::Fault;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kNs = "rel-prom";

bool fullSize() {
  const char* s = std::getenv("KUBEC2_RELIABILITY_SIZE");
  return s != nullptr && std::string(s) == "full";
}

// What each fault must look like to a user: the ScalingActive reason and,
// for a failed query, the reason label of kubec2_prometheus_query_errors_total.
struct Expected {
  Fault fault;
  std::string reason;
  std::string queryError;  // empty: Prometheus answered (the answer is the fault)
};
const std::vector<Expected> kFaults{
    {Fault::Down, "PrometheusUnreachable", "Unreachable"},
    {Fault::Hang, "PrometheusTimeout", "Timeout"},
    {Fault::Http500, "PrometheusError", "HttpError"},
    {Fault::NaN, "MetricNotANumber", ""},
    {Fault::Empty, "MetricNoSeries", ""},
    {Fault::Stale, "MetricStale", ""},
};

// One fault held once, as measured.
struct Figure {
  std::string fault{};
  int round = 0;
  double detectSeconds = 0;  // fault on to ScalingActive False with its reason
  double heldSeconds = 0;    // how long it was held after that
  std::int64_t minDesired = 0, maxDesired = 0, minRunning = 0, maxRunning = 0;
  int requests = 0;           // operator queries the proxy answered with the fault
  double recoverSeconds = 0;  // forwarding again to ScalingActive True
  int warnings = 0;           // Warning Events (counts) for this occurrence
};

class PrometheusOutages : public ::testing::Test, protected GroupProbe {
 protected:
  PrometheusOutages() : GroupProbe(kNs, "web", sim_->controlUrl()) {}

  static void SetUpTestSuite() {
    sim_ = new SimulatedNamespace(kNs, {.bootDelayMs = 300, .ipRangeStart = "127.41.0.1"});
    // The real Prometheus on a port of its own; the operator's
    // --prometheus-url port (WebhookEnvironment::prometheusPort) is the proxy's.
    prometheus_ =
        new PrometheusServer(freePort(), ControlPlaneEnvironment::get().dir() + "/prometheus");
    prometheus_->addTarget("sim", "127.0.0.1:" + std::to_string(sim_->controlPort()));
    prometheus_->start();
    proxy_ =
        new PrometheusFaultProxy(WebhookEnvironment::get().prometheusPort(), prometheus_->url());
    applyManifest(kNs, launchTemplate("web"));
  }
  static void TearDownTestSuite() {
    delete proxy_;
    delete prometheus_;
    delete sim_;
  }

  // Events of the group with `reason` and `type`, counted as a user's
  // `kubectl get events` counts them (an Event's count included).
  int events(const std::string& reason, const std::string& type) {
    int n = 0;
    for (const auto& e : client.list(kEvents, kNs).items)
      if (e["involvedObject"].value("kind", "") == "ScalingGroup" &&
          e.value("reason", "") == reason && e.value("type", "") == type)
        n += e.value("count", 1);
    return n;
  }
  double metric(const std::string& family, const std::string& labels) {
    return WebhookEnvironment::get().metricSum(family, labels);
  }
  static double since(SteadyClock::time_point t) {
    return std::chrono::duration<double>(SteadyClock::now() - t).count();
  }

  RestClient client{adminConfig()};
  static SimulatedNamespace* sim_;
  static PrometheusServer* prometheus_;
  static PrometheusFaultProxy* proxy_;
};
SimulatedNamespace* PrometheusOutages::sim_ = nullptr;
PrometheusServer* PrometheusOutages::prometheus_ = nullptr;
PrometheusFaultProxy* PrometheusOutages::proxy_ = nullptr;

TEST_F(PrometheusOutages, CapacityHoldsThroughEveryFaultAndRecoveryFollows) {
  const bool full = fullSize();
  const int rounds = full ? 3 : 1;
  const auto hold = full ? 60s : 10s;

  apply(targetTrackingGroup());
  ASSERT_TRUE(
      eventually([&] { return running() == 1 && scalingActive() == "True/ValidMetrics"; }, 60s))
      << explain();

  // The peak: 2.9 cores on 2-vCPU instances at a 50 % target is 3
  // instances (a saturated first reading, or the trend of the step, may
  // take it past 3 for a while: the peak is where it settles, unchanged for
  // longer than the scale-in wait, 40 s at this interval, so real metrics
  // between two faults do not move it).
  load(2.9);
  ASSERT_TRUE(eventually([&] { return desired() >= 3 && running() >= 3; }, 90s)) << explain();
  std::int64_t peak = -1;
  bool settled = false;
  {
    auto stableSince = SteadyClock::now();
    const auto deadline = SteadyClock::now() + 240s;
    while (!settled && SteadyClock::now() < deadline) {
      const auto d = desired();
      if (d != peak) peak = d, stableSince = SteadyClock::now();
      settled = running() == peak && since(stableSince) >= 50;
      std::this_thread::sleep_for(1s);
    }
  }
  ASSERT_TRUE(settled && peak >= 3) << "never settled\n" << explain();
  ASSERT_EQ(scalingActive(), "True/ValidMetrics") << explain();

  std::vector<Figure> figures;
  for (int round = 1; round <= rounds; ++round)
    for (const auto& want : kFaults) {
      SCOPED_TRACE(std::string(PrometheusFaultProxy::name(want.fault)) + ", round " +
                   std::to_string(round));
      Figure f{.fault = std::string(PrometheusFaultProxy::name(want.fault)), .round = round};
      const int warningsBefore = events(want.reason, "Warning");
      const int activeBefore = events("ScalingActive", "Normal");
      const double errorsBefore = want.queryError.empty()
                                      ? 0
                                      : metric("kubec2_prometheus_query_errors_total",
                                               "reason=\"" + want.queryError + "\"");
      const int requestsBefore = proxy_->requests(want.fault);

      const auto on = SteadyClock::now();
      proxy_->set(want.fault);
      const std::string expected = "False/" + want.reason;
      ASSERT_TRUE(eventually([&] { return scalingActive() == expected; }, 30s))
          << "expected ScalingActive " << expected << ", is " << scalingActive() << "\n"
          << explain();
      f.detectSeconds = since(on);

      // Held: the capacity neither drops nor grows, the condition stays.
      f.minDesired = f.maxDesired = desired();
      f.minRunning = f.maxRunning = running();
      const auto held = SteadyClock::now();
      while (SteadyClock::now() - held < hold) {
        const auto d = desired(), r = running();
        f.minDesired = std::min(f.minDesired, d), f.maxDesired = std::max(f.maxDesired, d);
        f.minRunning = std::min(f.minRunning, r), f.maxRunning = std::max(f.maxRunning, r);
        ASSERT_EQ(d, peak) << "the capacity moved on a fault\n" << explain();
        ASSERT_EQ(r, peak) << "an instance went or came on a fault\n" << explain();
        ASSERT_EQ(scalingActive(), expected) << explain();
        std::this_thread::sleep_for(1s);
      }
      f.heldSeconds = since(held);
      EXPECT_EQ(metric("kubec2_scalinggroup_scaling_active", "namespace=\"rel-prom\""), 0);
      if (!want.queryError.empty()) {
        EXPECT_GT(
            metric("kubec2_prometheus_query_errors_total", "reason=\"" + want.queryError + "\""),
            errorsBefore);
      }
      // One Warning per fault, not one per evaluation.
      f.warnings = events(want.reason, "Warning") - warningsBefore;
      EXPECT_EQ(f.warnings, 1) << explain();
      f.requests = proxy_->requests(want.fault) - requestsBefore;

      // Recovery: forwarding again, ScalingActive True, a Normal Event.
      const auto off = SteadyClock::now();
      proxy_->set(Fault::None);
      ASSERT_TRUE(eventually([&] { return scalingActive() == "True/ValidMetrics"; }, 30s))
          << explain();
      f.recoverSeconds = since(off);
      EXPECT_TRUE(eventually([&] {
        return metric("kubec2_scalinggroup_scaling_active", "namespace=\"rel-prom\"") == 1;
      })) << explain();
      EXPECT_TRUE(eventually([&] { return events("ScalingActive", "Normal") > activeBefore; }))
          << explain();
      EXPECT_EQ(desired(), peak) << explain();
      figures.push_back(f);
    }

  // Acting on real metrics again: the load goes and the group scales in.
  load(0.2);
  const auto unloaded = SteadyClock::now();
  EXPECT_TRUE(eventually([&] { return desired() == 1; }, 180s)) << explain();
  const double scaleInSeconds = since(unloaded);

  std::printf("[figures] size=%s peak=%lld hold=%llds scale-in after recovery: %.1f s\n",
              full ? "full" : "short", static_cast<long long>(peak),
              static_cast<long long>(hold.count()), scaleInSeconds);
  std::printf(
      "[figures] fault | round | detect s | held s | desired min-max | running min-max "
      "| queries faulted | recover s | Warning Events\n");
  for (const auto& f : figures)
    std::printf("[figures] %s | %d | %.1f | %.1f | %lld-%lld | %lld-%lld | %d | %.1f | %d\n",
                f.fault.c_str(), f.round, f.detectSeconds, f.heldSeconds,
                static_cast<long long>(f.minDesired), static_cast<long long>(f.maxDesired),
                static_cast<long long>(f.minRunning), static_cast<long long>(f.maxRunning),
                f.requests, f.recoverSeconds, f.warnings);
}

}  // namespace
}  // namespace kube::testing
