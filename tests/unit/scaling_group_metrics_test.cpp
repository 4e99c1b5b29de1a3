// What a group's policies measure: one PromQL query per namespace and
// metric, and each group's value over its in-service instances only.
#include "reconcilers/scalinggroup/group_metrics.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace kubec2::reconcilers {
namespace {

namespace v1 = api::v1alpha1;
using std::chrono::seconds;

v1::ScalingPolicy targetTracking(const std::string& metric) {
  return v1::ScalingPolicy::fromJson(
      {{"name", "cpu"},
       {"type", "TargetTracking"},
       {"targetTracking", {{"predefinedMetric", metric}, {"targetValue", 50}}}});
}

TEST(GroupMetrics, OneQueryPerNamespaceAndMetricServesEveryGroup) {
  const auto q = namespaceQuery(InstanceMetric::CPUUtilization, "shop", seconds(120));
  ASSERT_TRUE(q);
  EXPECT_EQ(*q,
            "sum by (name) (rate(kubevirt_vmi_cpu_usage_seconds_total{namespace=\"shop\","
            "kubernetes_vmi_label_compute_kubec2_io_scaling_group!=\"\"}[120s]))");
  EXPECT_NE(namespaceQuery(InstanceMetric::NetworkIn, "shop", seconds(60))
                ->find("kubevirt_vmi_network_receive_bytes_total"),
            std::string::npos);
  // Request counts need --request-count-metric (scaling_request_count_test.cpp).
  EXPECT_FALSE(namespaceQuery(InstanceMetric::RequestCountPerTarget, "shop", seconds(60)));
}

TEST(GroupMetrics, TheWindowHoldsTwoIntervalsAndFourScrapes) {
  EXPECT_EQ(queryWindow(seconds(60), seconds(30)), seconds(120));
  EXPECT_EQ(queryWindow(seconds(2), seconds(1)), seconds(4));
  EXPECT_EQ(queryWindow(seconds(5), seconds(15)), seconds(60));
}

TEST(GroupMetrics, PredefinedMetricsResolveToCloudWatchsPerInstanceMetrics) {
  auto m = metricOf(targetTracking("ASGAverageCPUUtilization"));
  ASSERT_TRUE(m && m->predefined);
  EXPECT_EQ(*m->predefined, InstanceMetric::CPUUtilization);
  EXPECT_EQ(m->aggregation, Aggregation::Average);
  auto step = v1::ScalingPolicy::fromJson(
      {{"name", "hi"},
       {"type", "StepScaling"},
       {"stepScaling",
        {{"adjustmentType", "ChangeInCapacity"},
         {"metricAggregationType", "Maximum"},
         {"alarm",
          {{"predefinedMetric", "NetworkOut"},
           {"comparisonOperator", "GreaterThanThreshold"},
           {"threshold", 1e6}}},
         {"stepAdjustments", {{{"metricIntervalLowerBound", 0}, {"scalingAdjustment", 1}}}}}}});
  auto s = metricOf(step);
  ASSERT_TRUE(s && s->predefined);
  EXPECT_EQ(*s->predefined, InstanceMetric::NetworkOut);
  EXPECT_EQ(s->aggregation, Aggregation::Maximum);
}

TEST(GroupMetrics, CpuIsAveragedOverInServiceInstancesInPercentOfTheirVcpus) {
  PolicyMetric cpu;
  cpu.predefined = InstanceMetric::CPUUtilization;
  // web-a uses 1.5 of 2 vCPUs (75 %), web-b 0.5 of 2 (25 %); web-warming is
  // not in service, so its samples do not count.
  const std::map<std::string, double> raw{{"web-a", 1.5}, {"web-b", 0.5}, {"web-warming", 2.0}};
  const auto r = groupReading(cpu, raw, {{"web-a", 2}, {"web-b", 2}}, seconds(120));
  ASSERT_TRUE(r.value) << r.message;
  EXPECT_DOUBLE_EQ(*r.value, 50);
  EXPECT_EQ(r.instancesMeasured, 2);
}

TEST(GroupMetrics, InstancesWithoutASampleAreLeftOutAndNoneIsNoSeries) {
  PolicyMetric cpu;
  cpu.predefined = InstanceMetric::CPUUtilization;
  const auto some = groupReading(cpu, {{"web-a", 1.0}}, {{"web-a", 4}, {"web-b", 4}}, seconds(60));
  ASSERT_TRUE(some.value);
  EXPECT_DOUBLE_EQ(*some.value, 25);
  EXPECT_EQ(some.instancesMeasured, 1);
  const auto none = groupReading(cpu, {{"other-x", 1.0}}, {{"web-a", 4}}, seconds(60));
  EXPECT_FALSE(none.value);
  EXPECT_EQ(none.reason, "NoSeries");
  EXPECT_NE(none.message.find("in the last 60 s"), std::string::npos) << none.message;
  const auto empty = groupReading(cpu, {}, {}, seconds(60));
  EXPECT_EQ(empty.reason, "NoInServiceInstances");
}

TEST(GroupMetrics, NanOrInfinityIsNotANumberAndHoldsThePolicy) {
  PolicyMetric cpu;
  cpu.predefined = InstanceMetric::CPUUtilization;
  const auto r = groupReading(cpu, {{"web-a", std::numeric_limits<double>::quiet_NaN()}},
                              {{"web-a", 2}}, seconds(60));
  EXPECT_FALSE(r.value);
  EXPECT_EQ(r.reason, "NotANumber");
  EXPECT_NE(r.message.find("web-a"), std::string::npos);
}

TEST(GroupMetrics, NetworkIsBytesPerMinuteAsCloudWatchsAndStepAlarmsAggregate) {
  PolicyMetric net;
  net.predefined = InstanceMetric::NetworkIn;
  net.aggregation = Aggregation::Maximum;
  const auto r = groupReading(net, {{"web-a", 100}, {"web-b", 300}}, {{"web-a", 2}, {"web-b", 2}},
                              seconds(60));
  ASSERT_TRUE(r.value);
  EXPECT_DOUBLE_EQ(*r.value, 300 * 60);
}

TEST(GroupMetrics, CustomQueriesGetTheirPlaceholdersAndMustReturnOneNumber) {
  EXPECT_EQ(expandCustomQuery("avg(rate(http_requests_total{ {{selector}} }[1m])) # {{group}} in "
                              "{{namespace}}",
                              "shop", "web"),
            "avg(rate(http_requests_total{ namespace=\"shop\","
            "kubernetes_vmi_label_compute_kubec2_io_scaling_group=\"web\" }[1m])) # web in shop");
  EXPECT_EQ(customReading({}, "q").reason, "NoSeries");
  EXPECT_EQ(customReading({1, 2}, "q").reason, "TooManySeries");
  EXPECT_EQ(customReading({std::numeric_limits<double>::infinity()}, "q").reason, "NotANumber");
  EXPECT_DOUBLE_EQ(*customReading({42}, "q").value, 42);
}

}  // namespace
}  // namespace kubec2::reconcilers
