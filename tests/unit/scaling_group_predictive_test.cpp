// Predictive policies in the operator: the evaluator's history queries
// (controllers/scalinggroup/policy_metrics.h) and their decision in a
// group's policies (reconcilers/scalinggroup/policies.h), in simulated time.
#include <vector>

#include <gtest/gtest.h>

#include "controllers/scalinggroup/policy_metrics.h"
#include "reconcilers/scaling/decision.h"
#include "reconcilers/scaling/predictive.h"
#include "reconcilers/scalinggroup/policies.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using namespace std::chrono_literals;
namespace sc = kubec2::reconcilers::scaling;

const Time kNow = std::chrono::sys_days{std::chrono::year{2026} / 11 / 29} + 12h;

nlohmann::json predictivePolicy(const std::string& mode, int bufferSeconds) {
  return {{"name", "forecast"},
          {"type", "Predictive"},
          {"predictive",
           {{"predefinedMetricPair", "ASGCPUUtilization"},
            {"targetValue", 50},
            {"mode", mode},
            {"schedulingBufferSeconds", bufferSeconds}}}};
}

nlohmann::json targetTracking() {
  return {
      {"name", "cpu-50"},
      {"type", "TargetTracking"},
      {"targetTracking", {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", 50}}}};
}

// A vector, not a json: `{policy}` is an array of one under gcc but the
// policy itself under clang (a braced list of one json copies it).
v1::ScalingGroup group(const std::string& ns, const std::string& name,
                       std::vector<nlohmann::json> policies, std::int64_t desired = 2) {
  return v1::ScalingGroup::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "ScalingGroup"},
       {"metadata", {{"name", name}, {"namespace", ns}, {"uid", ns + "-" + name}}},
       {"spec",
        {{"launchTemplateRef", {{"name", "web"}}},
         {"minSize", 1},
         {"maxSize", 10},
         {"defaultInstanceWarmupSeconds", 60},
         {"scalingPolicies", nlohmann::json(std::move(policies))}}},
       {"status", {{"desiredCapacity", desired}, {"minSize", 1}, {"maxSize", 10}}}});
}

// Two-vCPU instances in service: at the 50 % target one carries 1 vCPU of load.
struct Fleet {
  std::vector<v1::Instance> instances;
  std::vector<Member> members;
  explicit Fleet(int n) {
    instances.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      auto& inst = instances[static_cast<std::size_t>(i)];
      inst.metadata.name = "web-" + std::to_string(i);
      inst.status = v1::InstanceStatus{};
      inst.status->instanceType = v1::ResolvedInstanceType{.name = "c.large", .vCPU = 2};
    }
    for (auto& inst : instances) {
      Member m;
      m.instance = &inst;
      m.name = inst.metadata.name;
      m.lifecycle = Lifecycle::InService;
      m.inServiceSince = kNow - 3h;
      members.push_back(m);
    }
  }
};

// The load's history at 300 s steps for `span` before `end`: 1 vCPU, and
// 8 vCPUs every day from 20 to 40 minutes past kNow's time of day.
std::vector<std::pair<Time, double>> dailyHistory(Time end, std::chrono::seconds span) {
  std::vector<std::pair<Time, double>> out;
  for (Time t = end - span; t < end; t += 300s) {
    const auto sinceNoon = (t - kNow) % std::chrono::seconds(24h);
    const auto tod = sinceNoon < 0s ? sinceNoon + std::chrono::seconds(24h) : sinceNoon;
    out.emplace_back(t, tod >= 20min && tod < 40min ? 8.0 : 1.0);
  }
  return out;
}

PoliciesInput input(const v1::ScalingGroup& g, const Fleet& fleet, const PolicyReadings& r,
                    Time now) {
  PoliciesInput in;
  in.group = &g;
  in.members = &fleet.members;
  in.desired = g.status->desiredCapacity.value_or(0);
  in.minSize = 1;
  in.maxSize = 10;
  in.readings = &r;
  in.prometheusConfigured = true;
  in.evaluationInterval = 60s;
  in.now = now;
  return in;
}

PolicyReadings readings(Time now, std::optional<HistoryReading> history, double cpu = 40) {
  PolicyReadings r;
  r.evaluatedAt = now - 1s;
  MetricReading m;
  m.value = cpu;
  r.byPolicy["cpu-50"] = m;
  if (history) r.historyByPolicy["forecast"] = std::move(*history);
  return r;
}

HistoryReading history(std::chrono::seconds span, Time end = kNow) {
  HistoryReading h;
  h.samples = dailyHistory(end, span);
  return h;
}

const v1::ScalingPolicyStatus& statusOf(const PoliciesOutcome& out, const std::string& name) {
  for (const auto& s : out.statuses)
    if (s.name == name) return s;
  throw std::runtime_error("no status for " + name);
}

TEST(PredictivePolicies, ForecastAndScaleRaisesTheCapacityBeforeThePeak) {
  const auto g =
      group("shop", "web", {targetTracking(), predictivePolicy("ForecastAndScale", 3600)});
  const Fleet fleet(2);
  const auto r = readings(kNow, history(72h));
  const auto out = decidePolicies(input(g, fleet, r, kNow));
  ASSERT_TRUE(out.evaluated);
  // The peak (8 vCPUs, 1 per instance at 50 %) comes in 20 minutes, within the buffer.
  ASSERT_TRUE(out.desired) << out.scalingActive->message;
  EXPECT_EQ(*out.desired, 8);
  EXPECT_NE(out.cause.find("predictive forecast"), std::string::npos) << out.cause;
  EXPECT_EQ(out.scalingActive->status, "True") << out.scalingActive->message;
  const auto& st = statusOf(out, "forecast");
  EXPECT_EQ(st.desiredCapacity.value_or(0), 8);
  EXPECT_DOUBLE_EQ(st.metricValue.value_or(0), 8);
  EXPECT_TRUE(st.lastScaleTime.has_value());
  ASSERT_TRUE(st.forecast.has_value());
  EXPECT_EQ(st.forecast->size(), 48u);  // bounded: 48 hourly points
  EXPECT_EQ(st.forecast->front().time, "2026-11-29T12:00:00Z");
  EXPECT_EQ(st.forecast->front().capacity, 8);  // this hour holds the peak
  EXPECT_EQ(st.forecast->at(3).capacity, 1);    // 15:00: the quiet hours
}

TEST(PredictivePolicies, ForecastOnlyPublishesWithoutActing) {
  const auto g = group("shop", "web", {targetTracking(), predictivePolicy("ForecastOnly", 3600)});
  const Fleet fleet(2);
  const auto r = readings(kNow, history(72h));
  const auto out = decidePolicies(input(g, fleet, r, kNow));
  ASSERT_TRUE(out.evaluated);
  EXPECT_FALSE(out.desired);
  const auto& st = statusOf(out, "forecast");
  EXPECT_EQ(st.desiredCapacity.value_or(0), 8);
  ASSERT_TRUE(st.forecast.has_value());
  EXPECT_NE(st.message.value_or("").find("ForecastOnly"), std::string::npos);
}

TEST(PredictivePolicies, TheForecastNeverLowersWhatReactivePoliciesWant) {
  // CPU at 100 % on 6 instances: target tracking wants more than the quiet forecast.
  const auto g =
      group("shop", "web", {targetTracking(), predictivePolicy("ForecastAndScale", 0)}, 6);
  const Fleet fleet(6);
  const auto r = readings(kNow + 2h, history(72h, kNow + 2h), 100);
  const auto out = decidePolicies(input(g, fleet, r, kNow + 2h));
  ASSERT_TRUE(out.desired);
  EXPECT_GT(*out.desired, 6);
  EXPECT_NE(out.cause.find("cpu-50"), std::string::npos) << out.cause;
}

TEST(PredictivePolicies, InsufficientHistoryIsSaidAndOtherPoliciesStillScale) {
  const auto g =
      group("shop", "web", {targetTracking(), predictivePolicy("ForecastAndScale", 3600)});
  const Fleet fleet(2);
  const auto r = readings(kNow, history(12h), 100);
  const auto out = decidePolicies(input(g, fleet, r, kNow));
  const auto& st = statusOf(out, "forecast");
  EXPECT_NE(st.message.value_or("").find("fewer than 24 hours"), std::string::npos);
  EXPECT_FALSE(st.forecast.has_value());
  EXPECT_EQ(out.scalingActive->status, "True");
  EXPECT_NE(out.scalingActive->message.find("fewer than 24 hours"), std::string::npos);
  ASSERT_TRUE(out.desired);  // target tracking scales out on 100 % CPU
  EXPECT_NE(out.cause.find("cpu-50"), std::string::npos);

  // Alone, it leaves the group without a scaling policy that acts: False.
  const auto alone = group("shop", "web", {predictivePolicy("ForecastAndScale", 3600)});
  const auto out2 = decidePolicies(input(alone, fleet, r, kNow));
  EXPECT_EQ(out2.scalingActive->status, "False");
  EXPECT_EQ(out2.scalingActive->reason, "InsufficientHistory");
  EXPECT_FALSE(out2.desired);

  // Its memory says when: the next history query waits an hour.
  const auto memory = sc::PolicyMemory::fromJson(*statusOf(out2, "forecast").memory);
  EXPECT_FALSE(sc::forecastDue(memory, kNow + 30min));
  EXPECT_TRUE(sc::forecastDue(memory, kNow + 1h));
}

TEST(PredictivePolicies, ANewGroupWithoutHistoryWaitsAnHourForTheNextQuery) {
  const auto g = group("shop", "web", {predictivePolicy("ForecastAndScale", 3600)});
  const Fleet fleet(2);
  HistoryReading none;
  none.reason = "NoSeries";
  none.message = "Prometheus has no history of the ASGCPUUtilization load of group web in shop";
  const auto out = decidePolicies(input(g, fleet, readings(kNow, none), kNow));
  EXPECT_EQ(out.scalingActive->reason, "InsufficientHistory");
  const auto memory = sc::PolicyMemory::fromJson(*statusOf(out, "forecast").memory);
  EXPECT_FALSE(sc::forecastDue(memory, kNow + 59min));
  EXPECT_TRUE(sc::forecastDue(memory, kNow + 60min));
}

TEST(PredictivePolicies, WaitingForTheFirstInstanceIsNotAFault) {
  const auto g =
      group("shop", "web", {targetTracking(), predictivePolicy("ForecastAndScale", 3600)});
  Fleet fleet(1);
  fleet.instances[0].status->instanceType.reset();  // launching: its type not reported yet
  const auto out = decidePolicies(input(g, fleet, readings(kNow, history(72h)), kNow));
  EXPECT_EQ(out.scalingActive->status, "True") << out.scalingActive->message;
  EXPECT_NE(statusOf(out, "forecast").message.value_or("").find("status.instanceType.vCPU"),
            std::string::npos);
  EXPECT_FALSE(statusOf(out, "forecast").forecast.has_value());
}

TEST(PredictivePolicies, AlmostADayOfHistoryIsQueriedAgainOnceItIsADay) {
  const auto g = group("shop", "web", {predictivePolicy("ForecastAndScale", 3600)});
  const Fleet fleet(2);
  const auto out = decidePolicies(input(g, fleet, readings(kNow, history(23h + 40min)), kNow));
  EXPECT_EQ(out.scalingActive->reason, "InsufficientHistory");
  const auto memory = sc::PolicyMemory::fromJson(*statusOf(out, "forecast").memory);
  EXPECT_FALSE(sc::forecastDue(memory, kNow + 19min));
  EXPECT_TRUE(sc::forecastDue(memory, kNow + 20min));
}

TEST(PredictivePolicies, AFailedHistoryQueryKeepsTheForecastUntilItRunsOut) {
  auto g = group("shop", "web", {predictivePolicy("ForecastAndScale", 3600)});
  const Fleet fleet(2);
  const auto first = decidePolicies(input(g, fleet, readings(kNow, history(72h)), kNow));
  ASSERT_TRUE(first.desired);
  g.status->policies = first.statuses;

  HistoryReading down;
  down.reason = "PrometheusUnreachable";
  down.message = "POST http://prom:9090/api/v1/query_range: Couldn't connect to server";
  // A day later the forecast is due again; the query fails; the day-old
  // forecast still covers the next peak and raises the capacity for it.
  const Time dayLater = kNow + 24h;
  const auto second = decidePolicies(input(g, fleet, readings(dayLater, down), dayLater));
  ASSERT_TRUE(second.desired);
  EXPECT_EQ(*second.desired, 8);
  EXPECT_EQ(second.scalingActive->status, "False");
  EXPECT_EQ(second.scalingActive->reason, "PrometheusUnreachable");
  g.status->policies = second.statuses;

  // Past its 48 hours nothing is forecast: no capacity wanted, and it says so.
  const Time later = kNow + 48h + 10min;
  const auto third = decidePolicies(input(g, fleet, readings(later, down), later));
  EXPECT_FALSE(third.desired);
  EXPECT_NE(statusOf(third, "forecast").message.value_or("").find("no forecast covers now"),
            std::string::npos);
  EXPECT_FALSE(statusOf(third, "forecast").desiredCapacity.has_value());
}

TEST(PredictivePolicies, ScalingQueryIsRefusedInStatus) {
  const auto g = group("shop", "web",
                       {{{"name", "forecast"},
                         {"type", "Predictive"},
                         {"predictive",
                          {{"customMetric",
                            {{"loadQuery", "sum(rate(requests_total[5m]))"},
                             {"scalingQuery", "avg(rate(requests_total[5m]))"}}},
                           {"targetValue", 100},
                           {"mode", "ForecastAndScale"}}}}});
  const Fleet fleet(2);
  const auto out = decidePolicies(input(g, fleet, readings(kNow, history(72h)), kNow));
  EXPECT_FALSE(out.desired);
  EXPECT_EQ(out.scalingActive->status, "False");
  EXPECT_EQ(out.scalingActive->reason, "ScalingQueryNotSupported");
  EXPECT_NE(statusOf(out, "forecast").message.value_or("").find("scalingQuery"), std::string::npos);
}

// The evaluator: what it asks Prometheus.
struct FakePrometheus {
  std::vector<std::string> instant, range;
  std::vector<std::string> groups;  // the series the range query answers, one per group
  std::optional<std::string> fail;  // a QueryError reason for range queries

  controllers::QueryFunction query() {
    return [this](const std::string& q) {
      instant.push_back(q);
      return kube::prom::QueryResult{};
    };
  }
  controllers::RangeQueryFunction queryRange() {
    return [this](const std::string& q, double start, double end, double step) {
      range.push_back(q);
      if (fail) throw kube::prom::QueryError(*fail, "connection refused");
      EXPECT_DOUBLE_EQ(end - start, 14 * 86400.0);
      EXPECT_DOUBLE_EQ(step, 300);
      kube::prom::QueryResult r;
      r.resultType = "matrix";
      for (std::size_t i = 0; i < groups.size(); ++i) {
        kube::prom::Series s;
        s.labels[std::string(groupLabel())] = groups[i];
        s.points = {{end - 600, static_cast<double>(i)}, {end - 300, static_cast<double>(i)}};
        r.series.push_back(std::move(s));
      }
      return r;
    };
  }
};

TEST(PredictiveEvaluator, OneRangeQueryPerNamespaceAndPairServesEveryDueGroup) {
  std::vector<v1::ScalingGroup> groups;
  for (int i = 0; i < 20; ++i)
    groups.push_back(
        group("shop", "g" + std::to_string(i), {predictivePolicy("ForecastAndScale", 600)}));
  groups.push_back(group("blog", "b0", {predictivePolicy("ForecastOnly", 0)}));
  std::vector<const v1::ScalingGroup*> ptrs;
  for (const auto& g : groups) ptrs.push_back(&g);
  FakePrometheus prom;
  for (int i = 0; i < 20; ++i) prom.groups.push_back("g" + std::to_string(i));
  const auto out =
      controllers::evaluatePolicies(ptrs, {}, prom.query(), prom.queryRange(), kNow, 120s);
  EXPECT_TRUE(prom.instant.empty());
  ASSERT_EQ(prom.range.size(), 2u);  // shop and blog, not 21
  EXPECT_NE(prom.range[0].find("sum by (kubernetes_vmi_label_compute_kubec2_io_scaling_group)"),
            std::string::npos)
      << prom.range[0];
  EXPECT_NE(prom.range[0].find("kubevirt_vmi_cpu_usage_seconds_total"), std::string::npos);
  // Each group gets its own series.
  const auto& g7 = out.at("shop/g7").historyByPolicy.at("forecast");
  ASSERT_EQ(g7.samples.size(), 2u);
  EXPECT_EQ(g7.samples[0].second, 7);
  EXPECT_EQ(g7.samples[0].first, kNow - 600s);
  // A group absent from the answer has no history, and says so.
  EXPECT_EQ(out.at("blog/b0").historyByPolicy.at("forecast").reason, "NoSeries");
}

TEST(PredictiveEvaluator, NoRangeQueryWhenNoForecastIsDue) {
  auto g = group("shop", "web", {predictivePolicy("ForecastAndScale", 600)});
  sc::PolicyMemory memory;
  memory.forecast = sc::Forecast{kNow - 10min, 300s, {1.0}, {1}};
  g.status->policies = std::vector<v1::ScalingPolicyStatus>{
      v1::ScalingPolicyStatus{.name = "forecast", .memory = memory.toJson()}};
  FakePrometheus prom;
  const auto out =
      controllers::evaluatePolicies({&g}, {}, prom.query(), prom.queryRange(), kNow, 120s);
  EXPECT_TRUE(prom.range.empty());
  EXPECT_TRUE(out.at("shop/web").historyByPolicy.empty());
  // An hour after the forecast was made it is due again.
  controllers::evaluatePolicies({&g}, {}, prom.query(), prom.queryRange(), kNow + 1h, 120s);
  EXPECT_EQ(prom.range.size(), 1u);
}

TEST(PredictiveEvaluator, CustomLoadQueriesAndFailures) {
  auto custom = group("shop", "web",
                      {{{"name", "forecast"},
                        {"type", "Predictive"},
                        {"predictive",
                         {{"customMetric",
                           {{"loadQuery",
                             "sum(rate(requests_total{namespace=\"{{namespace}}\","
                             "group=\"{{group}}\"}[5m]))"}}},
                          {"targetValue", 100}}}}});
  FakePrometheus prom;
  prom.fail = "Unreachable";
  const auto out =
      controllers::evaluatePolicies({&custom}, {}, prom.query(), prom.queryRange(), kNow, 120s);
  ASSERT_EQ(prom.range.size(), 1u);
  EXPECT_EQ(prom.range[0], "sum(rate(requests_total{namespace=\"shop\",group=\"web\"}[5m]))");
  EXPECT_EQ(out.at("shop/web").historyByPolicy.at("forecast").reason, "PrometheusUnreachable");
}

}  // namespace
}  // namespace kubec2::reconcilers
