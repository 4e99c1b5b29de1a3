// Request count policies (ALBRequestCountPerTarget, the predictive
// ALBRequestCount pair): where the count comes from (--request-count-metric,
// a per-VMI counter), the queries the evaluator makes, the per-minute
// reading over the in-service instances, and what a policy says when the
// operator has no such metric.
#include <vector>

#include <gtest/gtest.h>

#include "api/target_health.h"
#include "controllers/scalinggroup/policy_metrics.h"
#include "reconcilers/scalinggroup/group_metrics.h"
#include "reconcilers/scalinggroup/policies.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using namespace std::chrono_literals;

const Time kNow = std::chrono::sys_days{std::chrono::year{2026} / 11 / 29} + 12h;
constexpr const char* kCounter = "kubec2_sim_http_requests_total";

nlohmann::json albPolicy(double target = 600) {
  return {{"name", "alb-600"},
          {"type", "TargetTracking"},
          {"targetTracking",
           {{"predefinedMetric", "ALBRequestCountPerTarget"},
            {"resourceLabel", "web"},
            {"targetValue", target}}}};
}

nlohmann::json cpuPolicy() {
  return {
      {"name", "cpu-50"},
      {"type", "TargetTracking"},
      {"targetTracking", {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", 50}}}};
}

nlohmann::json albPredictive() {
  return {{"name", "daily"},
          {"type", "Predictive"},
          {"predictive",
           {{"predefinedMetricPair", "ALBRequestCount"},
            {"targetValue", 600},
            {"mode", "ForecastAndScale"}}}};
}

// A vector, not a json: `group({policy})` is an array of one under gcc but
// the policy itself under clang (a braced list of one json copies it).
v1::ScalingGroup group(std::vector<nlohmann::json> policies, std::int64_t desired = 2) {
  return v1::ScalingGroup::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "ScalingGroup"},
       {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "u-web"}}},
       {"spec",
        {{"launchTemplateRef", {{"name", "web"}}},
         {"minSize", 1},
         {"maxSize", 10},
         {"defaultInstanceWarmupSeconds", 60},
         {"loadBalancerRefs", {{{"name", "web"}}}},
         {"scalingPolicies", nlohmann::json(std::move(policies))}}},
       {"status", {{"desiredCapacity", desired}, {"minSize", 1}, {"maxSize", 10}}}});
}

// A running, Ready instance of group web, in service for an hour.
v1::Instance inService(const std::string& name) {
  v1::Instance i;
  i.metadata.name = name;
  i.metadata.namespace_ = "shop";
  i.metadata.creationTimestamp = kube::formatRfc3339(kNow - 2h);
  i.status = v1::InstanceStatus{};
  i.status->state = "running";
  i.status->instanceType = v1::ResolvedInstanceType{.name = "t3.micro", .vCPU = 2};
  i.status->conditions = std::vector<v1::Condition>{
      {.type = "Ready", .status = "True", .lastTransitionTime = kube::formatRfc3339(kNow - 1h)}};
  return i;
}

// What the evaluator asks Prometheus, and the per-VMI rates it answers.
struct FakePrometheus {
  std::vector<std::string> instant, range;
  std::map<std::string, double> perSecondByName;
  // When Prometheus evaluated its answer (Unix seconds): a moment before now.
  double evaluatedAt = std::chrono::duration<double>((kNow - 5s).time_since_epoch()).count();

  controllers::QueryFunction query() {
    return [this](const std::string& q) {
      instant.push_back(q);
      kube::prom::QueryResult r;
      r.resultType = "vector";
      for (const auto& [name, v] : perSecondByName)
        r.samples.push_back({{{"name", name}}, evaluatedAt, v});
      return r;
    };
  }
  controllers::RangeQueryFunction queryRange() {
    return [this](const std::string& q, double, double end, double) {
      range.push_back(q);
      kube::prom::QueryResult r;
      r.resultType = "matrix";
      kube::prom::Series s;
      s.labels[std::string(groupLabel())] = "web";
      s.points = {{end - 600, 1200}, {end - 300, 1200}};
      r.series.push_back(std::move(s));
      return r;
    };
  }
};

TEST(RequestCount, TheQueriesReadTheConfiguredCounterPerVmiAndPerGroup) {
  EXPECT_EQ(namespaceQuery(InstanceMetric::RequestCountPerTarget, "shop", 120s, kCounter),
            "sum by (name) (rate(kubec2_sim_http_requests_total{namespace=\"shop\","
            "kubernetes_vmi_label_compute_kubec2_io_scaling_group!=\"\"}[120s]))");
  EXPECT_EQ(namespaceHistoryQuery(InstanceMetric::RequestCountPerTarget, "shop", kCounter),
            "sum by (kubernetes_vmi_label_compute_kubec2_io_scaling_group) "
            "(rate(kubec2_sim_http_requests_total{namespace=\"shop\","
            "kubernetes_vmi_label_compute_kubec2_io_scaling_group!=\"\"}[5m])) * 60");
  // Not configured: no query to make.
  EXPECT_EQ(namespaceQuery(InstanceMetric::RequestCountPerTarget, "shop", 120s), std::nullopt);
  EXPECT_EQ(namespaceHistoryQuery(InstanceMetric::RequestCountPerTarget, "shop"), std::nullopt);
  // The other metrics ignore it.
  EXPECT_EQ(namespaceQuery(InstanceMetric::CPUUtilization, "shop", 120s, kCounter),
            namespaceQuery(InstanceMetric::CPUUtilization, "shop", 120s));
}

TEST(RequestCount, TheFlagMustBeAPrometheusMetricName) {
  for (const char* ok : {"kubec2_sim_http_requests_total", "nginx:requests", "_x", "A9"})
    EXPECT_TRUE(isMetricName(ok)) << ok;
  for (const char* bad :
       {"", "9lives", "http-requests", "requests{job=\"x\"}", "rate(x[1m])", "a b", "caf\xc3\xa9"})
    EXPECT_FALSE(isMetricName(bad)) << bad;
}

TEST(RequestCount, RequestsPerTargetArePerMinuteAveragedOverInServiceInstances) {
  PolicyMetric m;
  m.predefined = InstanceMetric::RequestCountPerTarget;
  m.resourceLabel = "web";
  // 10 and 20 requests per second: 600 and 1,200 per minute, 900 on average;
  // web-new is not in service and its requests do not count.
  const auto r = groupReading(m, {{"web-a", 10}, {"web-b", 20}, {"web-new", 100}},
                              {{"web-a", 2}, {"web-b", 2}}, 120s);
  ASSERT_TRUE(r.value) << r.message;
  EXPECT_DOUBLE_EQ(*r.value, 900);
  EXPECT_EQ(r.instancesMeasured, 2);
  EXPECT_NE(r.message.find("RequestCountPerTarget 900.00 over 2 of 2"), std::string::npos)
      << r.message;
}

TEST(RequestCount, TheEvaluatorReadsOneQueryPerNamespaceForEveryGroup) {
  const auto g = group({albPolicy()});
  const auto a = inService("web-a"), b = inService("web-b");
  FakePrometheus prom;
  prom.perSecondByName = {{"web-a", 25}, {"web-b", 35}, {"other-x", 500}};
  const auto out = controllers::evaluatePolicies({&g}, {{"shop/web", {&a, &b}}}, prom.query(),
                                                 prom.queryRange(), kNow, 120s, kCounter);
  ASSERT_EQ(prom.instant.size(), 1u);
  EXPECT_NE(prom.instant[0].find("rate(kubec2_sim_http_requests_total{namespace=\"shop\""),
            std::string::npos)
      << prom.instant[0];
  const auto& r = out.at("shop/web").byPolicy.at("alb-600");
  ASSERT_TRUE(r.value) << r.reason << ": " << r.message;
  EXPECT_DOUBLE_EQ(*r.value, 1800);  // (25 + 35) / 2 requests per second, per minute
  // Prometheus's timestamp comes with the value: how old the answer is.
  EXPECT_EQ(r.sampleTime, kNow - 5s);
}

TEST(RequestCount, WithoutTheFlagRequestCountPoliciesSaySoAndOthersGoOn) {
  const auto g = group({albPolicy(), cpuPolicy(), albPredictive()});
  const auto a = inService("web-a"), b = inService("web-b");
  FakePrometheus prom;
  prom.perSecondByName = {{"web-a", 2}, {"web-b", 2}};  // CPU: 100 % of 2 vCPUs
  const auto readings = controllers::evaluatePolicies({&g}, {{"shop/web", {&a, &b}}}, prom.query(),
                                                      prom.queryRange(), kNow, 120s);
  // Only the CPU query is made; nothing is asked for request counts.
  ASSERT_EQ(prom.instant.size(), 1u);
  EXPECT_NE(prom.instant[0].find("kubevirt_vmi_cpu_usage_seconds_total"), std::string::npos);
  EXPECT_TRUE(prom.range.empty());
  const auto& r = readings.at("shop/web");
  EXPECT_EQ(r.byPolicy.at("alb-600").reason, "RequestCountMetricNotConfigured");
  EXPECT_NE(r.byPolicy.at("alb-600").message.find("--request-count-metric"), std::string::npos);
  EXPECT_EQ(r.historyByPolicy.at("daily").reason, "RequestCountMetricNotConfigured");
  ASSERT_TRUE(r.byPolicy.at("cpu-50").value);

  // The decision: the CPU policy scales out (100 % at a 50 % target: 4);
  // the request count policies never act and ScalingActive names the flag.
  std::vector<Member> members;
  const api::TargetHealthIndex noTargets;
  for (const auto* i : {&a, &b}) members.push_back(memberOf(*i, {}, noTargets, kNow));
  PoliciesInput in;
  in.group = &g;
  in.members = &members;
  in.desired = 2;
  in.minSize = 1;
  in.maxSize = 10;
  in.readings = &r;
  in.prometheusConfigured = true;
  in.evaluationInterval = 60s;
  in.now = kNow;
  const auto out = decidePolicies(in);
  ASSERT_TRUE(out.scalingActive);
  EXPECT_EQ(out.scalingActive->status, "False");
  EXPECT_EQ(out.scalingActive->reason, "RequestCountMetricNotConfigured");
  EXPECT_NE(out.scalingActive->message.find("target tracking alb-600"), std::string::npos)
      << out.scalingActive->message;
  EXPECT_NE(out.scalingActive->message.find("--request-count-metric"), std::string::npos);
  EXPECT_NE(out.scalingActive->message.find("predictive daily"), std::string::npos);
  for (const auto& s : out.statuses)
    if (s.name != "cpu-50") {
      EXPECT_FALSE(s.desiredCapacity) << s.name;
      EXPECT_NE(s.message.value_or("").find("--request-count-metric"), std::string::npos) << s.name;
    }
  ASSERT_TRUE(out.desired);
  EXPECT_GE(*out.desired, 4);
  EXPECT_NE(out.cause.find("cpu-50"), std::string::npos) << out.cause;

  // Alone, a request count policy never changes the capacity.
  const auto alone = group({albPolicy()});
  in.group = &alone;
  const auto albOnly = decidePolicies(in);
  EXPECT_FALSE(albOnly.desired);
  EXPECT_EQ(albOnly.scalingActive->reason, "RequestCountMetricNotConfigured");
}

TEST(RequestCount, PredictiveALBRequestCountReadsTheGroupsRequestsPerMinute) {
  const auto g = group({albPredictive()});
  FakePrometheus prom;
  const auto out = controllers::evaluatePolicies({&g}, {}, prom.query(), prom.queryRange(), kNow,
                                                 120s, kCounter);
  ASSERT_EQ(prom.range.size(), 1u);
  EXPECT_EQ(prom.range[0],
            *namespaceHistoryQuery(InstanceMetric::RequestCountPerTarget, "shop", kCounter));
  const auto& h = out.at("shop/web").historyByPolicy.at("daily");
  EXPECT_EQ(h.reason, "");
  ASSERT_EQ(h.samples.size(), 2u);
  EXPECT_EQ(h.samples[1].second, 1200);
}

}  // namespace
}  // namespace kubec2::reconcilers
