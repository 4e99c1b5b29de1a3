// The ScalingGroup rules (api/validation/scaling_group.cpp) as a kubectl
// user meets them: each refused object names the field and the rule in the
// API server's words, and its admitted neighbours pass. Objects start from a
// minimal valid group and change one thing, so each refusal is caused by
// that one thing.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

using testing::HasSubstr;

const std::string kPolicy = "spec.scalingPolicies[0]";
const std::string kSteps = "spec.scalingPolicies[0].stepScaling.stepAdjustments";
const std::string kAction = "spec.scheduledActions[0]";

std::vector<Refused> scalingGroupRefused() {
  const json sg = scalingGroup();
  const json withDesired3 = with(sg, {{"/spec/desiredCapacity", 3}});
  return {
      // Bounds and capacity.
      refused("MinSizeAboveMaxSize", with(sg, {{"/spec/minSize", 6}}), "spec.minSize",
              Type::Invalid,
              "spec.minSize: Invalid value: 6: must be less than or equal to spec.maxSize (5)"),
      refused("DesiredBelowMinOnCreate",
              with(sg, {{"/spec/minSize", 2}, {"/spec/desiredCapacity", 1}}),
              "spec.desiredCapacity", Type::Invalid,
              "Invalid value: 1: must be greater than or equal to spec.minSize (2)"),
      refused("DesiredAboveMaxOnCreate", with(sg, {{"/spec/desiredCapacity", 6}}),
              "spec.desiredCapacity", Type::Invalid,
              "Invalid value: 6: must be less than or equal to spec.maxSize (5)"),
      refusedUpdate("UpdateMovingDesiredAboveMax", withDesired3,
                    with(sg, {{"/spec/desiredCapacity", 6}}), "spec.desiredCapacity", Type::Invalid,
                    "must be less than or equal to spec.maxSize (5)"),
      // Adding a desired capacity is changing it.
      refusedUpdate("UpdateAddingDesiredBelowMin", with(sg, {{"/spec/minSize", 2}}),
                    with(sg, {{"/spec/minSize", 2}, {"/spec/desiredCapacity", 0}}),
                    "spec.desiredCapacity", Type::Invalid,
                    "must be greater than or equal to spec.minSize (2)"),
      refused("DuplicateTerminationPolicy",
              with(sg, {{"/spec/terminationPolicies",
                         {"OldestInstance", "Default", "OldestInstance"}}}),
              "spec.terminationPolicies[2]", Type::Duplicate,
              "spec.terminationPolicies[2]: Duplicate value: \"OldestInstance\""),
      refused("MaxInstanceLifetimeOneSecond", with(sg, {{"/spec/maxInstanceLifetimeSeconds", 1}}),
              "spec.maxInstanceLifetimeSeconds", Type::Invalid,
              "Invalid value: 1: must be 0 (no limit) or at least 86400 (one day)"),
      refused("MaxInstanceLifetimeJustUnderADay",
              with(sg, {{"/spec/maxInstanceLifetimeSeconds", 86399}}),
              "spec.maxInstanceLifetimeSeconds", Type::Invalid, "at least 86400"),
      refused("DuplicateLoadBalancerRef",
              with(sg, {{"/spec/loadBalancerRefs",
                         json::array({{{"name", "web"}}, {{"name", "api"}}, {{"name", "web"}}})}}),
              "spec.loadBalancerRefs[2].name", Type::Duplicate, "Duplicate value: \"web\""),
      refused("LoadBalancerHealthCheckWithoutRefs",
              with(sg, {{"/spec/healthCheck", {{"type", "LoadBalancer"}}}}),
              "spec.loadBalancerRefs", Type::Required,
              "spec.loadBalancerRefs: Required value: must name at least one LoadBalancer when "
              "spec.healthCheck.type is LoadBalancer"),
      refused("LoadBalancerHealthCheckWithEmptyRefs",
              with(sg, {{"/spec/healthCheck", {{"type", "LoadBalancer"}}},
                        {"/spec/loadBalancerRefs", json::array()}}),
              "spec.loadBalancerRefs", Type::Required, "must name at least one LoadBalancer"),

      // Instance refresh and warm pool.
      refused("CheckpointRepeated",
              with(sg, {{"/spec/instanceRefresh/checkpointPercentages", {50, 50, 100}}}),
              "spec.instanceRefresh.checkpointPercentages[1]", Type::Invalid,
              "Invalid value: 50: must be greater than the checkpoint before it (50): "
              "checkpoints are strictly ascending"),
      refused("CheckpointsDescending",
              with(sg, {{"/spec/instanceRefresh/checkpointPercentages", {60, 40}}}),
              "spec.instanceRefresh.checkpointPercentages[1]", Type::Invalid, "before it (60)"),
      refused("CheckpointDelayWithoutCheckpoints",
              with(sg, {{"/spec/instanceRefresh/checkpointDelaySeconds", 600}}),
              "spec.instanceRefresh.checkpointDelaySeconds", Type::Forbidden,
              "Forbidden: may only be set with spec.instanceRefresh.checkpointPercentages"),
      refused("HealthySpreadAbove100",
              with(sg, {{"/spec/instanceRefresh/minHealthyPercentage", 0},
                        {"/spec/instanceRefresh/maxHealthyPercentage", 110}}),
              "spec.instanceRefresh.maxHealthyPercentage", Type::Invalid,
              "Invalid value: 110: must be at most 100 above "
              "spec.instanceRefresh.minHealthyPercentage (0), so at most 100"),
      // The schema bounds both, but validate() must not overflow on any JSON.
      refused("HealthySpreadBeyondInt64",
              with(sg, {{"/spec/instanceRefresh/minHealthyPercentage",
                         std::numeric_limits<std::int64_t>::min()},
                        {"/spec/instanceRefresh/maxHealthyPercentage", 100}}),
              "spec.instanceRefresh.maxHealthyPercentage", Type::Invalid,
              "must be at most 100 above"),
      // minHealthyPercentage defaults to 90.
      refused("HealthySpreadAbove100FromTheDefaultMinimum",
              with(sg, {{"/spec/instanceRefresh/maxHealthyPercentage", 200}}),
              "spec.instanceRefresh.maxHealthyPercentage", Type::Invalid, "(90), so at most 190"),
      refused("WarmPoolPreparedCapacityBelowMinSize",
              with(sg, {{"/spec/minSize", 3}, {"/spec/warmPool/maxGroupPreparedCapacity", 2}}),
              "spec.warmPool.maxGroupPreparedCapacity", Type::Invalid,
              "Invalid value: 2: must be greater than or equal to spec.minSize (3)"),

      // Policies: the configuration of the type, and only it.
      refused("TargetTrackingPolicyWithoutTargetTracking",
              withPolicy({{"name", "cpu"}, {"type", "TargetTracking"}}),
              kPolicy + ".targetTracking", Type::Required,
              "Required value: must be set for a TargetTracking policy"),
      refused(
          "TargetTrackingPolicyWithStepScalingToo",
          withPolicy(with(targetTrackingPolicy(cpuTarget()), {{"/stepScaling", stepScaling()}})),
          kPolicy + ".stepScaling", Type::Forbidden,
          "Forbidden: may not be set for a TargetTracking policy"),
      refused("StepScalingPolicyWithoutStepScaling",
              withPolicy({{"name", "burst"}, {"type", "StepScaling"}}), kPolicy + ".stepScaling",
              Type::Required, "must be set for a StepScaling policy"),
      refused("NeitherPredefinedNorCustomMetric",
              withPolicy(targetTrackingPolicy({{"targetValue", 50}})), kPolicy + ".targetTracking",
              Type::Required, "exactly one of predefinedMetric and customMetric must be set"),
      refused("BothPredefinedAndCustomMetric",
              withPolicy(targetTrackingPolicy(with(cpuTarget(), {{"/customMetric/query", "up"}}))),
              kPolicy + ".targetTracking.customMetric", Type::Forbidden,
              "may not be set together with predefinedMetric"),
      refused("ALBRequestCountPerTargetWithoutResourceLabel",
              with(withPolicy(targetTrackingPolicy(
                       {{"predefinedMetric", "ALBRequestCountPerTarget"}, {"targetValue", 100}})),
                   {{"/spec/loadBalancerRefs", json::array({{{"name", "web"}}})}}),
              kPolicy + ".targetTracking.resourceLabel", Type::Required,
              "must name the LoadBalancer of spec.loadBalancerRefs"),
      refused(
          "ResourceLabelNotInLoadBalancerRefs",
          with(withPolicy(targetTrackingPolicy({{"predefinedMetric", "ALBRequestCountPerTarget"},
                                                {"resourceLabel", "api"},
                                                {"targetValue", 100}})),
               {{"/spec/loadBalancerRefs", json::array({{{"name", "web"}}})}}),
          kPolicy + ".targetTracking.resourceLabel", Type::NotFound,
          "Not found: \"api\": must name a LoadBalancer of spec.loadBalancerRefs"),
      refused("ResourceLabelWithAnotherMetric",
              with(withPolicy(targetTrackingPolicy(with(cpuTarget(), {{"/resourceLabel", "web"}}))),
                   {{"/spec/loadBalancerRefs", json::array({{{"name", "web"}}})}}),
              kPolicy + ".targetTracking.resourceLabel", Type::Forbidden,
              "may only be set with predefinedMetric ALBRequestCountPerTarget"),
      refused("EmptyQuery", withPolicy(targetTrackingPolicy(customTarget(" \t"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "must be a PromQL query, not empty"),
      refused("QueryWithAnUnknownPlaceholder",
              withPolicy(targetTrackingPolicy(customTarget("avg(rate(x{ {{selectr}} }[2m]))"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "unknown placeholder {{selectr}}: the placeholders are {{namespace}}, {{group}} and "
              "{{selector}}"),
      refused("QueryWithUnclosedParenthesis",
              withPolicy(targetTrackingPolicy(customTarget("sum(rate(x[5m])"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "must be a PromQL query that parses: expected \")\" but found the end of the query"),

      // Step scaling.
      refused("StepsWithAGap",
              withStepScaling({{"/stepAdjustments/1/metricIntervalLowerBound", 20}}),
              kSteps + "[1].metricIntervalLowerBound", Type::Invalid,
              "Invalid value: 20: leaves a gap after " + kSteps +
                  "[0], whose metricIntervalUpperBound is 10: must equal it"),
      refused("StepsOverlapping",
              withStepScaling({{"/stepAdjustments/1/metricIntervalLowerBound", 5}}),
              kSteps + "[1].metricIntervalLowerBound", Type::Invalid,
              "overlaps " + kSteps + "[0], which ends at 10: intervals must not overlap"),
      refused("StepsOverlappingAnOpenUpperBound",
              withStepScaling(
                  {{"/stepAdjustments", json::array({step(0, std::nullopt, 1), step(10, 20, 2)})}}),
              kSteps + "[1].metricIntervalLowerBound", Type::Invalid,
              "which ends at plus infinity (no upper bound)"),
      refused("TwoStepsWithoutLowerBound",
              withStepScaling({{"/stepAdjustments", json::array({step(std::nullopt, 0, -1),
                                                                 step(std::nullopt, 10, 1)})}}),
              kSteps + "[1].metricIntervalLowerBound", Type::Required,
              "only one step may have no lower bound, and " + kSteps + "[0] has none"),
      refused("TwoStepsWithoutUpperBound",
              withStepScaling({{"/stepAdjustments", json::array({step(0, std::nullopt, 1),
                                                                 step(10, std::nullopt, 2)})}}),
              kSteps + "[1].metricIntervalUpperBound", Type::Required,
              "only one step may have no upper bound"),
      refused("StepLowerBoundEqualToUpper",
              withStepScaling({{"/stepAdjustments", json::array({step(10, 10, 1)})}}),
              kSteps + "[0].metricIntervalUpperBound", Type::Invalid,
              "Invalid value: 10: must be greater than metricIntervalLowerBound (10)"),
      refused("StepLowerBoundAboveUpper",
              withStepScaling({{"/stepAdjustments", json::array({step(10.5, 2.5, 1)})}}),
              kSteps + "[0].metricIntervalUpperBound", Type::Invalid,
              "Invalid value: 2.5: must be greater than metricIntervalLowerBound (10.5)"),
      refused("StepWithoutBounds",
              withStepScaling(
                  {{"/stepAdjustments", json::array({step(std::nullopt, std::nullopt, 1)})}}),
              kSteps + "[0].metricIntervalLowerBound", Type::Required,
              "a step needs metricIntervalLowerBound, metricIntervalUpperBound or both"),
      refused("StepsAboveTheThresholdThatStopShortOfInfinity",
              withStepScaling({{"/stepAdjustments", json::array({step(0, 10, 1)})}}),
              kSteps + "[0].metricIntervalUpperBound", Type::Required,
              "the alarm breaches above the threshold, so one step must have no upper bound: a "
              "breach above 10 would fall in no step"),
      refused("StepsAboveTheThresholdThatStartPastIt",
              withStepScaling({{"/stepAdjustments", json::array({step(5, std::nullopt, 1)})}}),
              kSteps + "[0].metricIntervalLowerBound", Type::Invalid,
              "a breach between 0 and 5 would fall in no step"),
      refused("AStepBelowTheThresholdOfAGreaterThanAlarm",
              withStepScaling({{"/stepAdjustments", json::array({step(std::nullopt, 0, 1)})}}),
              kSteps + "[0].metricIntervalUpperBound", Type::Required,
              "so one step must have no upper bound"),
      refused("StepsBelowTheThresholdThatStopShortOfMinusInfinity",
              withStepScaling({{"/alarm/comparisonOperator", "LessThanThreshold"},
                               {"/stepAdjustments", json::array({step(-10, 0, -1)})}}),
              kSteps + "[0].metricIntervalLowerBound", Type::Required,
              "the alarm breaches below the threshold, so one step must have no lower bound: a "
              "breach below -10 would fall in no step"),
      refused("ExactCapacityNegative",
              withStepScaling({{"/adjustmentType", "ExactCapacity"},
                               {"/stepAdjustments/0/scalingAdjustment", -1}}),
              kSteps + "[0].scalingAdjustment", Type::Invalid,
              "Invalid value: -1: must not be negative with adjustmentType ExactCapacity"),
      refused("MinAdjustmentMagnitudeWithChangeInCapacity",
              withStepScaling({{"/minAdjustmentMagnitude", 2}}),
              kPolicy + ".stepScaling.minAdjustmentMagnitude", Type::Forbidden,
              "may only be set with adjustmentType PercentChangeInCapacity"),
      refused("AlarmPeriod45Seconds", withStepScaling({{"/alarm/periodSeconds", 45}}),
              kPolicy + ".stepScaling.alarm.periodSeconds", Type::Invalid,
              "Invalid value: 45: must be 10, 30 or a multiple of 60"),
      refused("AlarmRequestCountPerTargetWithoutResourceLabel",
              withStepScaling({{"/alarm/predefinedMetric", "RequestCountPerTarget"}}),
              kPolicy + ".stepScaling.alarm.resourceLabel", Type::Required,
              "with predefinedMetric RequestCountPerTarget"),
      refused("AggregationTypeWithCustomMetric",
              withStepScaling({{"/alarm",
                                {{"customMetric", {{"query", "avg(cpu)"}}},
                                 {"comparisonOperator", "GreaterThanThreshold"},
                                 {"threshold", 80}}},
                               {"/metricAggregationType", "Maximum"}}),
              kPolicy + ".stepScaling.metricAggregationType", Type::Forbidden,
              "may not be set with alarm.customMetric"),
      refused("AlarmQueryUnparsable",
              withStepScaling({{"/alarm",
                                {{"customMetric", {{"query", "avg(cpu) >"}}},
                                 {"comparisonOperator", "GreaterThanThreshold"},
                                 {"threshold", 80}}}}),
              kPolicy + ".stepScaling.alarm.customMetric.query", Type::Invalid,
              "that parses: unexpected end of query"),
      refused("PredictiveLoadQueryUnparsable",
              withPolicy({{"name", "daily"},
                          {"type", "Predictive"},
                          {"predictive",
                           {{"customMetric", {{"loadQuery", "sum(x"}}}, {"targetValue", 50}}}}),
              kPolicy + ".predictive.customMetric.loadQuery", Type::Invalid, "that parses"),
      refused("MaxCapacityBufferWithoutIncreaseMaxCapacity",
              withPolicy({{"name", "daily"},
                          {"type", "Predictive"},
                          {"predictive",
                           {{"predefinedMetricPair", "ASGCPUUtilization"},
                            {"targetValue", 50},
                            {"maxCapacityBuffer", 10}}}}),
              kPolicy + ".predictive.maxCapacityBuffer", Type::Forbidden,
              "may only be set with maxCapacityBreachBehavior IncreaseMaxCapacity"),
      refused("DuplicatePolicyName",
              with(scalingGroup(),
                   {{"/spec/scalingPolicies", json::array({targetTrackingPolicy(cpuTarget()),
                                                           targetTrackingPolicy(cpuTarget())})}}),
              "spec.scalingPolicies[1].name", Type::Duplicate, "Duplicate value: \"cpu\""),

      // Scheduled actions.
      refused("CronMinute61", withActionChanged({{"/recurrence", "61 * * * *"}}),
              kAction + ".recurrence", Type::Invalid,
              "Invalid value: \"61 * * * *\": must be a cron expression (minute hour day-of-month "
              "month day-of-week): field 1 (minute): 61 is out of range 0-59"),
      refused("CronWithThreeFields", withActionChanged({{"/recurrence", "* * *"}}),
              kAction + ".recurrence", Type::Invalid, "expected 5 fields"),
      refused("CronWithAnUnknownDayName", withActionChanged({{"/recurrence", "0 9 * * MON-FRY"}}),
              kAction + ".recurrence", Type::Invalid, "field 5 (day-of-week)"),
      refused("CronThatNeverMatches", withActionChanged({{"/recurrence", "0 0 30 2 *"}}),
              kAction + ".recurrence", Type::Invalid, "never matches"),
      refused("UnknownTimeZone", withActionChanged({{"/timeZone", kUnknownZone}}),
              kAction + ".timeZone", Type::Invalid,
              "Invalid value: \"Mars/Olympus\": must be an IANA time zone"),
      refused("OneOffWithoutStartTime", withAction(without(action(), "/recurrence")),
              kAction + ".startTime", Type::Required,
              "an action without recurrence runs once, at startTime"),
      refused("OneOffWithEndTime",
              withAction(with(
                  without(action(), "/recurrence"),
                  {{"/startTime", "2025-11-28T06:00:00Z"}, {"/endTime", "2025-11-29T06:00:00Z"}})),
              kAction + ".endTime", Type::Forbidden, "may only be set with recurrence"),
      refused("EndTimeBeforeStartTime",
              withActionChanged(
                  {{"/startTime", "2025-11-28T06:00:00Z"}, {"/endTime", "2025-11-28T05:59:59Z"}}),
              kAction + ".endTime", Type::Invalid,
              "Invalid value: \"2025-11-28T05:59:59Z\": must be after " + kAction +
                  ".startTime (2025-11-28T06:00:00Z)"),
      refused("EndTimeEqualToStartTime",
              withActionChanged(
                  {{"/startTime", "2025-11-28T06:00:00Z"}, {"/endTime", "2025-11-28T06:00:00Z"}}),
              kAction + ".endTime", Type::Invalid, "must be after"),
      // 06:30+01:00 is 05:30Z: the offsets are applied before comparing.
      refused("EndTimeBeforeStartTimeInAnotherOffset",
              withActionChanged({{"/startTime", "2025-11-28T06:00:00Z"},
                                 {"/endTime", "2025-11-28T06:30:00+01:00"}}),
              kAction + ".endTime", Type::Invalid, "must be after"),
      refused("StartTimeWithoutZone", withActionChanged({{"/startTime", "2025-11-28T06:00:00"}}),
              kAction + ".startTime", Type::Invalid,
              "must be an RFC 3339 time such as 2025-11-28T06:00:00Z"),
      refused("StartTimeOfADayThatDoesNotExist",
              withActionChanged({{"/startTime", "2025-02-30T06:00:00Z"}}), kAction + ".startTime",
              Type::Invalid, "must be an RFC 3339 time"),
      refused("EndTimeInDateOnlyForm", withActionChanged({{"/endTime", "2025-12-01"}}),
              kAction + ".endTime", Type::Invalid, "must be an RFC 3339 time"),
      refused("ActionSettingNothing", withAction(without(action(), "/minSize")), kAction,
              Type::Required,
              "Required value: at least one of minSize, maxSize and desiredCapacity must be set"),
      refused("ActionMinAboveMax", withActionChanged({{"/minSize", 3}, {"/maxSize", 2}}),
              kAction + ".minSize", Type::Invalid,
              "Invalid value: 3: must be less than or equal to " + kAction + ".maxSize (2)"),
      refused("ActionDesiredBelowItsMin", withActionChanged({{"/desiredCapacity", 1}}),
              kAction + ".desiredCapacity", Type::Invalid,
              "must be greater than or equal to " + kAction + ".minSize (2)"),
      refused("ActionDesiredAboveItsMax",
              withActionChanged({{"/maxSize", 4}, {"/desiredCapacity", 5}}),
              kAction + ".desiredCapacity", Type::Invalid,
              "must be less than or equal to " + kAction + ".maxSize (4)"),
      refused("DuplicateActionName",
              with(scalingGroup(), {{"/spec/scheduledActions", json::array({action(), action()})}}),
              "spec.scheduledActions[1].name", Type::Duplicate, "Duplicate value: \"mornings\""),
  };
}

std::vector<Admitted> scalingGroupAdmitted() {
  const json sg = scalingGroup();
  const json lbRefs = json::array({{{"name", "web"}}});
  return {
      admitted("Minimal", sg),
      admitted("CustomQueryWithItsPlaceholders",
               withPolicy(targetTrackingPolicy(
                   customTarget("avg(rate(http_requests_total{ {{selector}} }[2m])) / "
                                "count(up{namespace=\"{{namespace}}\",group=\"{{group}}\"})")))),
      admitted("MinEqualToMax", with(sg, {{"/spec/minSize", 5}})),
      admitted("DesiredAtTheBounds", with(sg, {{"/spec/desiredCapacity", 5}})),
      admitted("MaxInstanceLifetimeZero", with(sg, {{"/spec/maxInstanceLifetimeSeconds", 0}})),
      admitted("MaxInstanceLifetimeOneDay",
               with(sg, {{"/spec/maxInstanceLifetimeSeconds", 86400}})),
      // Lowering the bounds below an unchanged capacity: the operator clamps it.
      admittedUpdate("UpdateOfTheBoundsLeavingDesiredAbove",
                     with(sg, {{"/spec/desiredCapacity", 4}}),
                     with(sg, {{"/spec/maxSize", 3}, {"/spec/desiredCapacity", 4}})),
      admittedUpdate(
          "UpdateOfTheBoundsLeavingDesiredBelow", with(sg, {{"/spec/desiredCapacity", 4}}),
          with(sg, {{"/spec/minSize", 5}, {"/spec/maxSize", 8}, {"/spec/desiredCapacity", 4}})),
      admitted("LoadBalancerHealthCheckWithARef",
               with(sg, {{"/spec/healthCheck", {{"type", "LoadBalancer"}}},
                         {"/spec/loadBalancerRefs", lbRefs}})),
      admitted("CheckpointsAscendingWithDelay",
               with(sg, {{"/spec/instanceRefresh/checkpointPercentages", {20, 50, 100}},
                         {"/spec/instanceRefresh/checkpointDelaySeconds", 600}})),
      admitted("HealthySpreadOfExactly100",
               with(sg, {{"/spec/instanceRefresh/minHealthyPercentage", 100},
                         {"/spec/instanceRefresh/maxHealthyPercentage", 200}})),
      admitted("WarmPoolPreparedCapacityEqualToMinSize",
               with(sg, {{"/spec/minSize", 3}, {"/spec/warmPool/maxGroupPreparedCapacity", 3}})),
      admitted(
          "ResourceLabelInLoadBalancerRefs",
          with(withPolicy(targetTrackingPolicy({{"predefinedMetric", "ALBRequestCountPerTarget"},
                                                {"resourceLabel", "web"},
                                                {"targetValue", 100}})),
               {{"/spec/loadBalancerRefs", lbRefs}})),
      admitted("QueryAggregatedByLabel",
               withPolicy(targetTrackingPolicy(
                   customTarget("sum(rate(http_requests_total{job=\"web\"}[5m])) by (instance)")))),
      admitted("StepsOneContiguousSetInAnyOrder",
               withStepScaling({{"/stepAdjustments",
                                 json::array({step(0, std::nullopt, 2), step(std::nullopt, -10, -2),
                                              step(-10, 0, -1)})}})),
      admitted("ExactCapacityZero", withStepScaling({{"/adjustmentType", "ExactCapacity"},
                                                     {"/stepAdjustments/0/scalingAdjustment", 0}})),
      admitted("MinAdjustmentMagnitudeWithPercentChange",
               withStepScaling({{"/adjustmentType", "PercentChangeInCapacity"},
                                {"/minAdjustmentMagnitude", 2}})),
      admitted("AlarmPeriod10Seconds", withStepScaling({{"/alarm/periodSeconds", 10}})),
      admitted("AlarmPeriod30Seconds", withStepScaling({{"/alarm/periodSeconds", 30}})),
      admitted("AlarmPeriod5Minutes", withStepScaling({{"/alarm/periodSeconds", 300}})),
      admitted("CronWithDayNames", withActionChanged({{"/recurrence", "0 9 * * MON-FRI"}})),
      admitted("CronWithStepsAndLists",
               withActionChanged({{"/recurrence", "*/15 8-18 1,15 JAN-MAR *"}})),
      admitted("RecurringWithStartAndEnd",
               withActionChanged({{"/startTime", "2025-11-28T06:00:00Z"},
                                  {"/endTime", "2025-11-28T07:30:00.5+01:00"},
                                  {"/timeZone", "Europe/Paris"}})),
      admitted("OneOffAtStartTime", withAction(with(without(action(), "/recurrence"),
                                                    {{"/startTime", "2025-11-28T06:00:00Z"}}))),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationScalingGroup, ValidationRefused,
                         testing::ValuesIn(scalingGroupRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationScalingGroup, ValidationAdmitted,
                         testing::ValuesIn(scalingGroupAdmitted()), caseName<Admitted>);

TEST(ValidationScalingGroup, EveryBrokenRuleIsReportedNotJustTheFirst) {
  const auto errs =
      create(with(scalingGroup(), {{"/spec/minSize", 6},
                                   {"/spec/maxInstanceLifetimeSeconds", 60},
                                   {"/spec/terminationPolicies", {"Default", "Default"}}}));
  ASSERT_EQ(errs.size(), 3u) << messages(errs);
  EXPECT_EQ(errs[0].field, "spec.minSize");
  EXPECT_EQ(errs[1].field, "spec.terminationPolicies[1]");
  EXPECT_EQ(errs[2].field, "spec.maxInstanceLifetimeSeconds");
}

// The schema cannot check a name against the zoneinfo directory; the webhook
// must, and must not let a name walk out of it.
TEST(ValidationScalingGroup, TimeZonesAreLookedUpInZoneinfo) {
  EXPECT_TRUE(timeZoneExistsInZoneinfo("UTC"));
  for (const char* name : {"../../etc/passwd", "/etc/localtime", "Europe/../../etc/passwd", "",
                           "Europe//Paris", "UTC/", "Europe"})
    EXPECT_FALSE(timeZoneExistsInZoneinfo(name)) << name;

  const json sg = withActionChanged({{"/timeZone", "../../etc/passwd"}});
  const auto errs = validate({"ScalingGroup", Operation::Create, sg, nullptr});
  expectOneError(errs, kAction + ".timeZone", Type::Invalid, "\"../../etc/passwd\"");
  EXPECT_TRUE(validate({"ScalingGroup", Operation::Create,
                        withActionChanged({{"/timeZone", "UTC"}}), nullptr})
                  .empty());
}

// Restores an environment variable when the test ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// $TZDIR is honoured, and a file there is a zone only when it is a TZif file.
TEST(ValidationScalingGroup, TimeZonesComeFromTzdirAndMustBeTzifFiles) {
  const auto dir = std::filesystem::path(testing::TempDir()) /
                   ("validation_test_zoneinfo_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir / "Test");
  std::ofstream(dir / "Test" / "Zone", std::ios::binary) << "TZif2 and the rest";
  std::ofstream(dir / "Test" / "Text", std::ios::binary) << "not a zone";
  ScopedEnv tzdir("TZDIR", dir.string());
  EXPECT_TRUE(timeZoneExistsInZoneinfo("Test/Zone"));
  EXPECT_FALSE(timeZoneExistsInZoneinfo("Test/Text"));
  EXPECT_FALSE(timeZoneExistsInZoneinfo("Test/Missing"));
  EXPECT_FALSE(timeZoneExistsInZoneinfo("Test"));
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------- scale subresource

// minSize 2, maxSize 12, as the group.
json boundedGroup(std::optional<int> desired = std::nullopt) {
  json g = with(scalingGroup(), {{"/spec/minSize", 2}, {"/spec/maxSize", 12}});
  if (desired) g["spec"]["desiredCapacity"] = *desired;
  return g;
}

// What the API server sends for kubectl scale, a PATCH or a PUT of /scale:
// the new autoscaling/v1 Scale (spec.replicas omitted when 0).
json scaleOf(std::optional<std::int64_t> replicas) {
  json s = {{"apiVersion", "autoscaling/v1"},
            {"kind", "Scale"},
            {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
            {"spec", json::object()}};
  if (replicas) s["spec"]["replicas"] = *replicas;
  return s;
}

StaticLookups withGroup(const json& group) {
  StaticLookups l;
  l.cachedScalingGroups["shop/web"] = group;
  return l;
}

std::vector<FieldError> scale(const json& scaleObject, const AdmissionLookups& lookups) {
  AdmissionInput in{"ScalingGroup", Operation::Update, scaleObject, scaleOf(0), "scale", "web",
                    "shop"};
  return validate(in, fakeZones, lookups);
}

TEST(ValidationScalingGroupScale, ReplicasPastTheBoundsAreRefusedInTheMainResourcesWords) {
  const auto l = withGroup(boundedGroup());
  expectOneError(scale(scaleOf(50), l), "spec.replicas", Type::Invalid,
                 "spec.replicas: Invalid value: 50: must be less than or equal to spec.maxSize "
                 "(12): the scale subresource's spec.replicas is the ScalingGroup's "
                 "spec.desiredCapacity");
  expectOneError(scale(scaleOf(1), l), "spec.replicas", Type::Invalid,
                 "Invalid value: 1: must be greater than or equal to spec.minSize (2)");
  // spec.replicas omitted is 0: setting the capacity to 0, below minSize.
  expectOneError(scale(scaleOf(std::nullopt), l), "spec.replicas", Type::Invalid,
                 "Invalid value: 0: must be greater than or equal to spec.minSize (2)");
  // The same value through the main resource, for comparison.
  expectOneError(create(with(boundedGroup(), {{"/spec/desiredCapacity", 50}})),
                 "spec.desiredCapacity", Type::Invalid,
                 "Invalid value: 50: must be less than or equal to spec.maxSize (12)");
}

TEST(ValidationScalingGroupScale, ReplicasWithinTheBoundsOrUnchangedAreAdmitted) {
  for (int r : {2, 7, 12}) EXPECT_TRUE(scale(scaleOf(r), withGroup(boundedGroup())).empty()) << r;
  // An unchanged capacity the bounds have since moved past is left to the
  // operator's clamping, as through the main resource.
  const auto l = withGroup(with(boundedGroup(20), {{"/spec/maxSize", 12}}));
  EXPECT_TRUE(scale(scaleOf(20), l).empty());
  // Gone meanwhile: the API server answers the write itself.
  EXPECT_TRUE(scale(scaleOf(50), StaticLookups{}).empty());
}

// The cache decides admissions; a refusal is confirmed against the API
// server, so a cache behind a raise of maxSize refuses nothing.
TEST(ValidationScalingGroupScale, ARefusalIsConfirmedByALiveRead) {
  StaticLookups l = withGroup(boundedGroup());
  EXPECT_TRUE(scale(scaleOf(7), l).empty());
  EXPECT_EQ(l.liveReads, 0);
  EXPECT_EQ(scale(scaleOf(50), l).size(), 1u);
  EXPECT_EQ(l.liveReads, 1);

  l.liveScalingGroups["shop/web"] = with(boundedGroup(), {{"/spec/maxSize", 60}});
  EXPECT_TRUE(scale(scaleOf(50), l).empty());
  // Not in the cache (not synced, or another namespace): read live.
  StaticLookups uncached;
  uncached.liveScalingGroups["shop/web"] = boundedGroup();
  EXPECT_EQ(scale(scaleOf(50), uncached).size(), 1u);
  EXPECT_TRUE(scale(scaleOf(5), uncached).empty());
}

TEST(ValidationScalingGroupScale, AGroupThatCannotBeReadIsAnInternalErrorNotAVerdict) {
  StaticLookups l;
  l.scalingGroupError = "connection refused";
  const auto errs = scale(scaleOf(5), l);
  expectOneError(errs, "spec.replicas", Type::Internal,
                 "spec.replicas: Internal error: cannot read ScalingGroup \"web\" to check the "
                 "value against its spec.minSize and spec.maxSize: connection refused");
  EXPECT_EQ(errs[0].causeType(), "InternalError");
  expectOneError(scale(scaleOf(5), noLookups()), "spec.replicas", Type::Internal,
                 "cannot read ScalingGroup");
}

TEST(ValidationScalingGroupScale, OddScalesAndStoredGroupsNeverThrow) {
  const auto l = withGroup(boundedGroup());
  expectOneError(scale(with(scaleOf(5), {{"/spec/replicas", "5"}}), l), "spec.replicas",
                 Type::Invalid, "Invalid value: \"5\": expected an integer");
  expectOneError(scale(with(scaleOf(5), {{"/spec/replicas", 18446744073709551615ULL}}), l),
                 "spec.replicas", Type::Invalid, "expected an integer");
  EXPECT_TRUE(scale(with(scaleOf(5), {{"/spec", "x"}}), withGroup(boundedGroup(0))).empty());
  for (const json& stored : {json(nullptr), json("x"), json({{"spec", 3}}),
                             with(boundedGroup(), {{"/spec/minSize", "two"}})}) {
    std::vector<FieldError> errs;
    EXPECT_NO_THROW(errs = scale(scaleOf(50), withGroup(stored))) << stored;
    EXPECT_TRUE(errs.empty()) << stored << messages(errs);
  }
  // Only UPDATE writes a Scale; other subresources have no rules.
  EXPECT_TRUE(validate({"ScalingGroup", Operation::Update, scaleOf(50), scaleOf(0), "status", "web",
                        "shop"},
                       fakeZones, l)
                  .empty());
  // A Scale without metadata is named by the request.
  EXPECT_EQ(scale(without(scaleOf(50), "/metadata"), l).size(), 1u);
}

// ---------------------------------------------------------------- defaults

json addOp(const std::string& path, json value) {
  return {{"op", "add"}, {"path", path}, {"value", std::move(value)}};
}

TEST(ValidationScalingGroup, DefaultsCheckpointDelayAndAggregation) {
  EXPECT_EQ(defaultsPatch(
                "ScalingGroup",
                with(scalingGroup(), {{"/spec/instanceRefresh/checkpointPercentages", {50, 100}}})),
            json::array({addOp("/spec/instanceRefresh/checkpointDelaySeconds", 3600)}));
  EXPECT_EQ(
      defaultsPatch("ScalingGroup",
                    with(scalingGroup(), {{"/spec/instanceRefresh/minHealthyPercentage", 50}})),
      json::array());
  EXPECT_EQ(
      defaultsPatch("ScalingGroup", withStepScaling({})),
      json::array({addOp("/spec/scalingPolicies/0/stepScaling/metricAggregationType", "Average")}));
  // A custom metric aggregates itself: the field is refused with one.
  EXPECT_EQ(defaultsPatch("ScalingGroup",
                          withStepScaling({{"/alarm",
                                            {{"customMetric", {{"query", "avg(cpu)"}}},
                                             {"comparisonOperator", "GreaterThanThreshold"},
                                             {"threshold", 80}}}})),
            json::array());
  EXPECT_EQ(defaultsPatch("ScalingGroup",
                          withPolicy({{"name", "daily"},
                                      {"type", "Predictive"},
                                      {"predictive",
                                       {{"predefinedMetricPair", "ASGCPUUtilization"},
                                        {"targetValue", 50},
                                        {"maxCapacityBreachBehavior", "IncreaseMaxCapacity"}}}})),
            json::array({addOp("/spec/scalingPolicies/0/predictive/maxCapacityBuffer", 0)}));
}

// ---------------------------------------------------------------- messages

TEST(ValidationScalingGroup, WhatKubectlShowsForARefusedGroup) {
  const auto errs = create(with(scalingGroup(), {{"/spec/minSize", 6}}));
  EXPECT_EQ(invalidMessage("ScalingGroup", "web", errs),
            "ScalingGroup.compute.kubec2.io \"web\" is invalid: spec.minSize: Invalid value: 6: "
            "must be less than or equal to spec.maxSize (5)");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].value, 6);
  EXPECT_EQ(errs[0].causeType(), "FieldValueInvalid");
}

}  // namespace
}  // namespace kubec2::api::vtest
