// A group's scaling policies at one reconcile: readings in, capacity,
// status.policies and ScalingActive out (reconcilers/scalinggroup/policies.h).
#include "reconcilers/scalinggroup/policies.h"

#include <gtest/gtest.h>

#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using namespace std::chrono_literals;

const Time kNow = std::chrono::sys_days{std::chrono::year{2026} / 11 / 29} + 12h;

v1::ScalingGroup group(std::int64_t desired) {
  return v1::ScalingGroup::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "ScalingGroup"},
       {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "g1"}}},
       {"spec",
        {{"launchTemplateRef", {{"name", "web"}}},
         {"minSize", 1},
         {"maxSize", 10},
         {"defaultInstanceWarmupSeconds", 60},
         {"scalingPolicies",
          {{{"name", "cpu-50"},
            {"type", "TargetTracking"},
            {"targetTracking",
             {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", 50}}}}}}}},
       {"status", {{"desiredCapacity", desired}, {"minSize", 1}, {"maxSize", 10}}}});
}

std::vector<Member> inService(int n) {
  std::vector<Member> out;
  for (int i = 0; i < n; ++i) {
    Member m;
    m.name = "web-" + std::to_string(i);
    m.lifecycle = Lifecycle::InService;
    m.inServiceSince = kNow - 1h;
    out.push_back(m);
  }
  return out;
}

PoliciesInput input(const v1::ScalingGroup& g, const std::vector<Member>& members,
                    const PolicyReadings* r) {
  PoliciesInput in;
  in.group = &g;
  in.members = &members;
  in.desired = g.status->desiredCapacity.value_or(0);
  in.minSize = 1;
  in.maxSize = 10;
  in.readings = r;
  in.prometheusConfigured = true;
  in.evaluationInterval = 60s;
  in.now = kNow;
  return in;
}

PolicyReadings reading(double cpu, Time at = kNow - 1s) {
  PolicyReadings r;
  r.evaluatedAt = at;
  MetricReading m;
  m.value = cpu;
  r.byPolicy["cpu-50"] = m;
  return r;
}

TEST(ScalingGroupPolicies, WithoutPrometheusPoliciesSayTheyCannotAct) {
  const auto g = group(2);
  const auto members = inService(2);
  auto in = input(g, members, nullptr);
  in.prometheusConfigured = false;
  const auto out = decidePolicies(in);
  ASSERT_TRUE(out.scalingActive);
  EXPECT_EQ(out.scalingActive->status, "False");
  EXPECT_EQ(out.scalingActive->reason, "PrometheusNotConfigured");
  EXPECT_FALSE(out.desired);
}

TEST(ScalingGroupPolicies, AHighReadingScalesOutAndIsRecordedInStatus) {
  const auto g = group(2);
  const auto members = inService(2);
  const auto r = reading(100);
  const auto out = decidePolicies(input(g, members, &r));
  ASSERT_TRUE(out.evaluated);
  ASSERT_TRUE(out.desired) << out.scalingActive->message;
  EXPECT_GE(*out.desired, 4);
  EXPECT_NE(out.cause.find("cpu-50"), std::string::npos) << out.cause;
  ASSERT_EQ(out.statuses.size(), 1u);
  EXPECT_EQ(out.statuses[0].name, "cpu-50");
  EXPECT_EQ(out.statuses[0].metricValue.value_or(0), 100);
  EXPECT_TRUE(out.statuses[0].memory.has_value());
  EXPECT_EQ(out.scalingActive->status, "True");
}

TEST(ScalingGroupPolicies, AReadingIsDecidedOnOnce) {
  auto g = group(2);
  const auto members = inService(2);
  const auto r = reading(100);
  const auto first = decidePolicies(input(g, members, &r));
  g.status->policies = first.statuses;
  const auto again = decidePolicies(input(g, members, &r));
  EXPECT_FALSE(again.evaluated);
  EXPECT_FALSE(again.desired);
}

TEST(ScalingGroupPolicies, WithoutDataThePolicyHoldsAndSaysWhy) {
  const auto g = group(4);
  const auto members = inService(4);
  PolicyReadings r;
  r.evaluatedAt = kNow - 1s;
  MetricReading m;
  m.reason = "PrometheusUnreachable";
  m.message = "POST http://prom:9090/api/v1/query: Couldn't connect to server";
  r.byPolicy["cpu-50"] = m;
  const auto out = decidePolicies(input(g, members, &r));
  EXPECT_FALSE(out.desired);
  ASSERT_TRUE(out.scalingActive);
  EXPECT_EQ(out.scalingActive->status, "False");
  EXPECT_EQ(out.scalingActive->reason, "PrometheusUnreachable");
}

// An answer Prometheus evaluated long ago (a stuck cache or proxy in front
// of it serves it as if new) is MetricStale: the policy holds, neither
// scaling out on it nor in; a fresh one is acted on. It was taken as fresh
// before: the controller stamped every value with its own evaluation time.
TEST(ScalingGroupPolicies, AnOldAnswerIsStaleAndThePolicyHolds) {
  const auto g = group(2);
  const auto members = inService(2);
  auto r = reading(100);  // 100 % at a 50 % target: 4 if acted on
  r.byPolicy["cpu-50"].sampleTime = kNow - 10min;
  const auto stale = decidePolicies(input(g, members, &r));
  EXPECT_FALSE(stale.desired);
  ASSERT_TRUE(stale.scalingActive);
  EXPECT_EQ(stale.scalingActive->status, "False");
  EXPECT_EQ(stale.scalingActive->reason, "MetricStale");
  EXPECT_NE(stale.scalingActive->message.find(kube::formatRfc3339(kNow - 10min)), std::string::npos)
      << stale.scalingActive->message;

  // Within 3 evaluation intervals (180 s here) it is fresh, and a
  // timestamp a little after the evaluation (clock skew) is too.
  for (const auto at : {kNow - 2min, kNow + 5s}) {
    r.byPolicy["cpu-50"].sampleTime = at;
    const auto fresh = decidePolicies(input(g, members, &r));
    ASSERT_TRUE(fresh.desired) << fresh.scalingActive->message;
    EXPECT_GE(*fresh.desired, 4);
    EXPECT_EQ(fresh.scalingActive->status, "True");
  }
}

TEST(ScalingGroupPolicies, SuspendedAlarmNotificationStopsEveryPolicy) {
  auto g = group(2);
  g.spec.suspendedProcesses = std::vector<std::string>{"AlarmNotification"};
  const auto members = inService(2);
  const auto r = reading(100);
  const auto out = decidePolicies(input(g, members, &r));
  EXPECT_FALSE(out.desired);
  ASSERT_TRUE(out.scalingActive);
  EXPECT_EQ(out.scalingActive->reason, "AlarmNotificationSuspended");
}

TEST(ScalingGroupPolicies, InstancesStillWarmingUpAreNotAFault) {
  const auto g = group(1);
  std::vector<Member> members = inService(1);
  members[0].inServiceSince = kNow - 10s;  // warmup is 60 s
  PolicyReadings r;
  r.evaluatedAt = kNow - 1s;
  MetricReading m;
  m.reason = "NoInServiceInstances";
  m.message = "no instance is in service past its warmup";
  r.byPolicy["cpu-50"] = m;
  const auto out = decidePolicies(input(g, members, &r));
  EXPECT_FALSE(out.desired);
  ASSERT_TRUE(out.scalingActive);
  EXPECT_EQ(out.scalingActive->status, "True") << out.scalingActive->message;
  // What a user reads: no value (not a made-up 0 %), and why.
  ASSERT_EQ(out.statuses.size(), 1u);
  EXPECT_FALSE(out.statuses[0].metricValue);
  ASSERT_TRUE(out.statuses[0].message);
  EXPECT_NE(out.statuses[0].message->find("no instance is in service past its warmup"),
            std::string::npos)
      << *out.statuses[0].message;
  EXPECT_NE(out.statuses[0].message->find("after 60 s in service"), std::string::npos)
      << *out.statuses[0].message;
}

TEST(ScalingGroupPolicies, APredictivePolicyWithoutInstanceVcpusSaysWhy) {
  // ASGCPUUtilization plans in vCPUs: with no instance reporting its type,
  // the capacity of a forecast load is unknown, and the policy says so
  // (tests/unit/scaling_group_predictive_test.cpp covers forecasts).
  auto g = group(2);
  g.spec.scalingPolicies->push_back(v1::ScalingPolicy::fromJson(
      {{"name", "forecast"},
       {"type", "Predictive"},
       {"predictive", {{"predefinedMetricPair", "ASGCPUUtilization"}, {"targetValue", 50}}}}));
  const auto members = inService(2);
  const auto r = reading(50);
  const auto out = decidePolicies(input(g, members, &r));
  ASSERT_EQ(out.statuses.size(), 2u);
  EXPECT_EQ(out.statuses[1].name, "forecast");
  EXPECT_NE(out.statuses[1].message.value_or("").find("status.instanceType.vCPU"),
            std::string::npos);
  EXPECT_FALSE(out.desired);
}

// 1,000 groups evaluated every 15 s must not mean 67 status writes a
// second: status.policies is written when something a user acts on
// changes, and at least every persistEvery; in between the controller
// keeps the latest decisions (memory included) and gives them back.
TEST(ScalingGroupPolicies, StatusIsWrittenWhenSomethingAUserActsOnChangesNotEveryPass) {
  auto g = group(2);
  const auto members = inService(2);
  // The first evaluation writes (a policy's first status).
  auto r1 = reading(50, kNow - 1s);
  auto in = input(g, members, &r1);
  in.persistEvery = 150s;
  const auto first = decidePolicies(in);
  ASSERT_EQ(first.statuses.size(), 1u);
  ASSERT_TRUE(first.statuses[0].lastEvaluationTime);
  g.status->policies = first.statuses;  // written

  // 15 s later, the same decision at a slightly different CPU: no write,
  // but the latest decision (its new evaluation time, memory) is kept.
  auto r2 = reading(48, kNow + 14s);
  in = input(g, members, &r2);
  in.persistEvery = 150s;
  in.now = kNow + 15s;
  const auto second = decidePolicies(in);
  EXPECT_FALSE(second.desired);
  EXPECT_EQ(second.statuses, *g.status->policies) << "status changed though nothing material did";
  ASSERT_EQ(second.latest.size(), 1u);
  EXPECT_EQ(second.latest[0].metricValue, 48);
  EXPECT_NE(second.latest[0].lastEvaluationTime, first.statuses[0].lastEvaluationTime);

  // Given back, the kept decision is the memory: the same reading is not
  // decided on twice.
  in.latest = &second.latest;
  const auto again = decidePolicies(in);
  EXPECT_FALSE(again.evaluated);

  // Past persistEvery since status was written, the latest is written.
  auto r3 = reading(49, kNow + 159s);
  in = input(g, members, &r3);
  in.persistEvery = 150s;
  in.latest = &second.latest;
  in.now = kNow + 160s;
  const auto late = decidePolicies(in);
  ASSERT_EQ(late.statuses.size(), 1u);
  EXPECT_EQ(late.statuses, late.latest);
  EXPECT_EQ(late.statuses[0].metricValue, 49);

  // A change of capacity is written at once.
  auto r4 = reading(95, kNow + 29s);
  in = input(g, members, &r4);
  in.persistEvery = 150s;
  in.latest = &second.latest;
  in.now = kNow + 30s;
  const auto out = decidePolicies(in);
  ASSERT_TRUE(out.desired);
  EXPECT_EQ(out.statuses, out.latest);
}

TEST(ScalingGroupPolicies, ARestartedOperatorDoesNotCountItsDowntimeTowardScaleIn) {
  // The user's report: 7 instances near the target, evaluated every 2 s
  // (scale-in after 40 s), status written at least every 10 intervals;
  // the operator killed, restarted 70 s later to a load of 0.
  auto g = group(7);
  const auto members = inService(7);
  std::vector<v1::ScalingPolicyStatus> latest;  // the operator's memory
  auto evaluate = [&](Time now, double cpu) {
    const auto r = reading(cpu, now);
    auto in = input(g, members, &r);
    in.evaluationInterval = 2s;
    in.persistEvery = 20s;
    in.now = now;
    if (!latest.empty()) in.latest = &latest;
    auto out = decidePolicies(in);
    EXPECT_TRUE(out.evaluated);
    g.status->policies = out.statuses;  // written, or as it was
    latest = out.latest;
    return out;
  };
  const Time killed = kNow - 70s;
  for (Time now = killed - 60s; now <= killed; now += 2s) {
    const auto out = evaluate(now, 44);  // 6.16 instances' load: 7 kept
    EXPECT_FALSE(out.desired) << out.cause;
  }
  latest.clear();  // kill -9: what was not written is gone
  for (Time now = kNow; now < kNow + 40s; now += 2s) {
    const auto out = evaluate(now, 0);
    EXPECT_FALSE(out.desired) << (now - kNow).count() << " s after the restart: " << out.cause;
  }
  const auto out = evaluate(kNow + 40s, 0);
  ASSERT_TRUE(out.desired);
  EXPECT_EQ(*out.desired, 1);
  EXPECT_EQ(out.cause, "target tracking cpu-50: average CPU 0% below target 50% for 40 s, 7 -> 1");
}

}  // namespace
}  // namespace kubec2::reconcilers
