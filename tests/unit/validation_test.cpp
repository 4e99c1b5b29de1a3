// The admission rules of api/validation.h as a kubectl user meets them: each
// refused object names the field and the rule in the API server's words, and
// its admitted neighbours pass. Objects start from a minimal valid one per
// kind and change one thing, so each refusal is caused by that one thing.
#include "api/validation.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/yaml.h"

namespace kubec2::api {
namespace {

using nlohmann::json;
using testing::HasSubstr;
using Type = FieldError::Type;

// ---------------------------------------------------------------- helpers

// Every time zone exists but this one, so that no test depends on the
// machine's tzdata (except those that test the zoneinfo lookup itself).
constexpr const char* kUnknownZone = "Mars/Olympus";
bool fakeZones(const std::string& name) {
  return name != kUnknownZone;
}

json objectOf(const char* kind, json spec) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", kind},
          {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
          {"spec", std::move(spec)}};
}

json scalingGroup() {
  return objectOf("ScalingGroup",
                  {{"minSize", 1}, {"maxSize", 5}, {"launchTemplateRef", {{"name", "web"}}}});
}

json launchSpec() {
  return {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
          {"instanceType", "t3.micro"}};
}

json instance() {
  return objectOf("Instance", launchSpec());
}

// An instance with a persistent root volume (a containerDisk image takes none).
json instanceWithVolumes() {
  json spec = {{"image", {{"registry", "docker://quay.io/containerdisks/ubuntu:24.04"}}},
               {"instanceType", "m5.large"},
               {"volumes",
                {{"root", {{"sizeGiB", 20}}},
                 {"extra", json::array({{{"name", "data"}, {"sizeGiB", 100}}})}}}};
  return objectOf("Instance", std::move(spec));
}

json launchTemplate() {
  return objectOf("LaunchTemplate", {{"versions", json::array({{{"spec", launchSpec()}}})}});
}

json loadBalancer() {
  return objectOf(
      "LoadBalancer",
      {{"type", "application"},
       {"listeners",
        json::array({{{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "web"}}})},
       {"targetGroups", json::array({{{"name", "web"},
                                      {"port", 80},
                                      {"targets", {{"scalingGroupRef", {{"name", "web"}}}}}}})}});
}

// A network load balancer with one TCP listener.
json networkLoadBalancer() {
  json lb = loadBalancer();
  lb["spec"]["type"] = "network";
  lb["spec"]["listeners"][0]["protocol"] = "TCP";
  return lb;
}

// `base` with each JSON pointer set to its value (missing objects are created).
json with(json base, std::initializer_list<std::pair<std::string, json>> changes) {
  for (const auto& [pointer, value] : changes) base[json::json_pointer(pointer)] = value;
  return base;
}

json without(json base, const std::string& pointer) {
  return base.patch(json::array({{{"op", "remove"}, {"path", pointer}}}));
}

// ScalingGroup pieces.
json cpuTarget() {
  return {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", 50}};
}
json customTarget(const std::string& query) {
  return {{"customMetric", {{"query", query}}}, {"targetValue", 50}};
}
json targetTrackingPolicy(json config) {
  return {{"name", "cpu"}, {"type", "TargetTracking"}, {"targetTracking", std::move(config)}};
}
json step(std::optional<double> lower, std::optional<double> upper, int adjustment) {
  json s = {{"scalingAdjustment", adjustment}};
  if (lower) s["metricIntervalLowerBound"] = *lower;
  if (upper) s["metricIntervalUpperBound"] = *upper;
  return s;
}
// CPU above 80: +1 from 80 to 90, +2 from 90.
json stepScaling() {
  return {{"adjustmentType", "ChangeInCapacity"},
          {"alarm",
           {{"predefinedMetric", "CPUUtilization"},
            {"comparisonOperator", "GreaterThanThreshold"},
            {"threshold", 80}}},
          {"stepAdjustments", json::array({step(0, 10, 1), step(10, std::nullopt, 2)})}};
}
json stepPolicy() {
  return {{"name", "burst"}, {"type", "StepScaling"}, {"stepScaling", stepScaling()}};
}
json withPolicy(json policy) {
  return with(scalingGroup(), {{"/spec/scalingPolicies", json::array({std::move(policy)})}});
}
json withStepScaling(std::initializer_list<std::pair<std::string, json>> changes) {
  json policy = stepPolicy();
  for (const auto& [pointer, value] : changes)
    policy["stepScaling"][json::json_pointer(pointer)] = value;
  return withPolicy(std::move(policy));
}
json action() {
  return {{"name", "mornings"}, {"recurrence", "0 8 * * *"}, {"minSize", 2}};
}
json withAction(json a) {
  return with(scalingGroup(), {{"/spec/scheduledActions", json::array({std::move(a)})}});
}
json withActionChanged(std::initializer_list<std::pair<std::string, json>> changes) {
  return withAction(with(action(), changes));
}

std::vector<FieldError> create(const json& object) {
  return validate({object.value("kind", ""), Operation::Create, object, nullptr}, fakeZones);
}
std::vector<FieldError> update(const json& old, const json& object) {
  return validate({object.value("kind", ""), Operation::Update, object, old}, fakeZones);
}

// For failure output: what validate() said.
std::string messages(const std::vector<FieldError>& errs) {
  std::string out;
  for (const auto& e : errs) out += "\n  " + e.message();
  return errs.empty() ? "no errors" : out;
}

const char* typeName(Type t) {
  switch (t) {
    case Type::Invalid:
      return "Invalid";
    case Type::Required:
      return "Required";
    case Type::Forbidden:
      return "Forbidden";
    case Type::Duplicate:
      return "Duplicate";
    case Type::NotFound:
      return "NotFound";
  }
  return "?";
}

// The one error validate() returns, with the field, type and words expected.
void expectOneError(const std::vector<FieldError>& errs, const std::string& field, Type type,
                    const std::string& words) {
  ASSERT_EQ(errs.size(), 1u) << messages(errs);
  EXPECT_EQ(errs[0].field, field) << errs[0].message();
  EXPECT_STREQ(typeName(errs[0].type), typeName(type)) << errs[0].message();
  EXPECT_THAT(errs[0].message(), HasSubstr(words));
}

// ---------------------------------------------------------------- tables

// A refused object (on create, or on update from `old` when it is set).
struct Refused {
  std::string name;
  json object;
  json old;
  std::string field;
  Type type;
  std::string words;  // a distinctive part of FieldError::message()
};
void PrintTo(const Refused& c, std::ostream* os) {
  *os << c.name;
}
Refused refused(std::string name, json object, std::string field, Type type, std::string words) {
  return {std::move(name), std::move(object), nullptr, std::move(field), type, std::move(words)};
}
Refused refusedUpdate(std::string name, json old, json object, std::string field, Type type,
                      std::string words) {
  return {std::move(name), std::move(object), std::move(old), std::move(field), type,
          std::move(words)};
}

struct Admitted {
  std::string name;
  json object;
  json old;
};
void PrintTo(const Admitted& c, std::ostream* os) {
  *os << c.name;
}
Admitted admitted(std::string name, json object) {
  return {std::move(name), std::move(object), nullptr};
}
Admitted admittedUpdate(std::string name, json old, json object) {
  return {std::move(name), std::move(object), std::move(old)};
}

class ValidationRefused : public testing::TestWithParam<Refused> {};
class ValidationAdmitted : public testing::TestWithParam<Admitted> {};

TEST_P(ValidationRefused, OneErrorNamingTheFieldAndTheRule) {
  const Refused& c = GetParam();
  const auto errs = c.old.is_null() ? create(c.object) : update(c.old, c.object);
  expectOneError(errs, c.field, c.type, c.words);
}

TEST_P(ValidationAdmitted, NoErrors) {
  const Admitted& c = GetParam();
  const auto errs = c.old.is_null() ? create(c.object) : update(c.old, c.object);
  EXPECT_TRUE(errs.empty()) << messages(errs);
}

template <typename Case>
std::string caseName(const testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

// ---------------------------------------------------------------- ScalingGroup

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
      refused("QueryOfACommentOnly", withPolicy(targetTrackingPolicy(customTarget("# up"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid, "the query is empty"),
      refused("QueryWithUnclosedParenthesis",
              withPolicy(targetTrackingPolicy(customTarget("sum(rate(x[5m])"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "must be a PromQL query that parses: expected \")\" but found the end of the query"),
      refused("QueryWithUnquotedLabelValue",
              withPolicy(targetTrackingPolicy(customTarget("up{job=web}"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "expected a quoted label value but found \"web\""),
      refused("QueryWithRangeWithoutUnit",
              withPolicy(targetTrackingPolicy(customTarget("rate(x[5])"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "expected a duration such as 5m"),
      refused("QueryWithDanglingOperator", withPolicy(targetTrackingPolicy(customTarget("a + "))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "unexpected end of query"),
      refused("QueryWithUnterminatedString",
              withPolicy(targetTrackingPolicy(customTarget("up{job=\"web}"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid, "unterminated string"),
      refused("QueryWithTwoSelectorsInARow",
              withPolicy(targetTrackingPolicy(customTarget("x{a=\"b\"}{c=\"d\"}"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid,
              "unexpected \"{\" at position 9"),
      refused("QueryGroupedTwice",
              withPolicy(targetTrackingPolicy(customTarget("sum(x) by (a) by (b)"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid, "unexpected \"by\""),
      refused("QueryOfADurationAlone", withPolicy(targetTrackingPolicy(customTarget("5m"))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid, "unexpected \"5m\""),
      // Recursion is bounded: a hostile query is refused, not a stack overflow.
      refused("QueryNestedTooDeeply",
              withPolicy(targetTrackingPolicy(
                  customTarget(std::string(100000, '(') + "1" + std::string(100000, ')')))),
              kPolicy + ".targetTracking.customMetric.query", Type::Invalid, "nested too deeply"),

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
      admitted("QueryMatchingOnLabelsWithBool",
               withPolicy(targetTrackingPolicy(
                   customTarget("a / on(instance) group_left(zone) b > bool 0.5")))),
      admitted("QuerySubqueryWithOffset",
               withPolicy(targetTrackingPolicy(customTarget(
                   "avg_over_time(kubevirt_vmi_cpu_usage_seconds_total[1m:10s] offset 5m)")))),
      admitted("QuerySubqueryWithDefaultStep",
               withPolicy(targetTrackingPolicy(customTarget("max_over_time(rate(x[5m])[30m:])")))),
      admitted("QueryHistogramQuantile",
               withPolicy(targetTrackingPolicy(
                   customTarget("histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))")))),
      admitted("QueryWithRecordingRuleNameAndRegexMatcher",
               withPolicy(targetTrackingPolicy(customTarget(
                   "job:http_requests:rate5m{code=~\"5..\", path!=\"/healthz\"} offset 1h30m")))),
      admitted(
          "QueryWithOffsetAndAtModifiers",
          withPolicy(targetTrackingPolicy(customTarget("rate(x[5m] @ end()) + x offset -5m")))),
      admitted("QueryAggregationWithParameterAndGrouping",
               withPolicy(targetTrackingPolicy(
                   customTarget("topk by (zone) (3, sum by (zone, instance) (rate(x[5m])))")))),
      admitted("QueryWithQuotesTrailingCommaAndComment",
               withPolicy(targetTrackingPolicy(
                   customTarget("x{a=\"b\", c='d', e=~`f.*`,} # per instance\n"
                                " + label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")")))),
      admitted("QueryWithNumbersOfEveryForm",
               withPolicy(targetTrackingPolicy(customTarget("0x1F + 1e3 - .5 * 2 ^ 3 ^ 2 + Inf")))),
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

// ---------------------------------------------------------------- LaunchTemplate

json launchSpecTagged(const std::string& key) {
  return with(launchSpec(), {{"/tags/" + key, "x"}});
}
json twoVersions() {
  return with(launchTemplate(), {{"/spec/versions/1",
                                  {{"spec", with(launchSpec(), {{"/instanceType", "m5.large"}})}}},
                                 {"/spec/defaultVersion", 2}});
}

std::vector<Refused> launchTemplateRefused() {
  const json lt = launchTemplate();
  return {
      refused("DefaultVersionBeyondTheVersions", with(lt, {{"/spec/defaultVersion", 2}}),
              "spec.defaultVersion", Type::Invalid,
              "Invalid value: 2: must be at most the number of versions in spec.versions (1): "
              "there is no version 2"),
      refusedUpdate("EditingPublishedVersion1", lt,
                    with(lt, {{"/spec/versions/0/spec/instanceType", "m5.large"}}),
                    "spec.versions[0]", Type::Forbidden,
                    "Forbidden: version 1 is published and cannot change or move: append a new "
                    "version instead"),
      refusedUpdate("DescribingPublishedVersion1", lt,
                    with(lt, {{"/spec/versions/0/description", "now described"}}),
                    "spec.versions[0]", Type::Forbidden, "version 1 is published"),
      refusedUpdate("RemovingAVersion", twoVersions(), with(lt, {{"/spec/defaultVersion", 1}}),
                    "spec.versions", Type::Forbidden,
                    "published versions cannot be removed: the template has 2 versions, the "
                    "update leaves 1"),
      // New versions are checked as a new object's launch fields.
      refusedUpdate("AppendingAVersionWithAReservedTag", lt,
                    with(lt, {{"/spec/versions/1/spec", launchSpecTagged("kubec2:owner")}}),
                    "spec.versions[1].spec.tags", Type::Invalid, "reserves for its own tags"),
      refused("RootVolumeWithContainerDisk",
              with(lt, {{"/spec/versions/0/spec/volumes/root/sizeGiB", 20}}),
              "spec.versions[0].spec.volumes.root", Type::Forbidden,
              "must not be set with a containerDisk image (spec.versions[0].spec.image."
              "containerDisk)"),
  };
}

std::vector<Admitted> launchTemplateAdmitted() {
  const json lt = launchTemplate();
  const json invalidToday = with(lt, {{"/spec/defaultVersion", 7}});
  return {
      admitted("Minimal", lt),
      admitted("DefaultVersionIsTheLast", twoVersions()),
      admittedUpdate("AppendingAVersion", lt, twoVersions()),
      admittedUpdate("MovingTheDefaultVersion", twoVersions(),
                     with(twoVersions(), {{"/spec/defaultVersion", 1}})),
      // Published versions were checked when published; rules added since
      // must not block appending.
      admittedUpdate("AppendingAfterAVersionInvalidToday",
                     with(lt, {{"/spec/versions/0/spec", launchSpecTagged("kubec2:owner")}}),
                     with(lt, {{"/spec/versions/0/spec", launchSpecTagged("kubec2:owner")},
                               {"/spec/versions/1/spec", launchSpec()}})),
      // Same spec: labels, finalizers and the like always go through.
      admittedUpdate("MetadataOnlyUpdateOfASpecInvalidToday", invalidToday,
                     with(invalidToday, {{"/metadata/labels/team", "web"}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationLaunchTemplate, ValidationRefused,
                         testing::ValuesIn(launchTemplateRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationLaunchTemplate, ValidationAdmitted,
                         testing::ValuesIn(launchTemplateAdmitted()), caseName<Admitted>);

TEST(ValidationLaunchTemplate, ReorderingRefusesEveryMovedVersion) {
  json swapped = twoVersions();
  std::swap(swapped["spec"]["versions"][0], swapped["spec"]["versions"][1]);
  const auto errs = update(twoVersions(), swapped);
  ASSERT_EQ(errs.size(), 2u) << messages(errs);
  EXPECT_EQ(errs[0].field, "spec.versions[0]");
  EXPECT_EQ(errs[1].field, "spec.versions[1]");
  EXPECT_THAT(errs[1].message(), HasSubstr("version 2 is published and cannot change or move"));
}

// ---------------------------------------------------------------- Instance

const std::string kRule = "spec.securityGroups[0].ingress[0]";

json withRule(json ingress) {
  if (!ingress.contains("sources")) ingress["sources"] = json::array({{{"cidr", "0.0.0.0/0"}}});
  return with(instance(),
              {{"/spec/securityGroups",
                json::array({{{"name", "web"}, {"ingress", json::array({ingress})}}})}});
}
json withSelector(json expression) {
  return withRule(
      {{"sources",
        json::array({{{"instanceSelector", {{"matchExpressions", json::array({expression})}}}}})}});
}

std::vector<Refused> instanceRefused() {
  const json inst = instance();
  const json vols = instanceWithVolumes();
  return {
      refused("NameLongerThanALabelValue", with(inst, {{"/metadata/name", std::string(64, 'a')}}),
              "metadata.name", Type::Invalid, "must be at most 63 characters"),
      refused("ReservedTagPrefix", with(inst, {{"/spec/tags/kubec2:owner", "me"}}), "spec.tags",
              Type::Invalid,
              "spec.tags: Invalid value: \"kubec2:owner\": tag keys must not start with "
              "\"kubec2:\", which the operator reserves for its own tags"),
      refused("ReservedTagPrefixInAnotherCase", with(inst, {{"/spec/tags/KubeC2:Owner", "me"}}),
              "spec.tags", Type::Invalid, "Invalid value: \"KubeC2:Owner\": tag keys must not"),
      refused("EmptyTagKey", with(inst, {{"/spec/tags", {{"", "x"}}}}), "spec.tags", Type::Invalid,
              "tag keys must be 1 to 128 characters long"),
      refused("TagKeyOf129Characters", with(inst, {{"/spec/tags/" + std::string(129, 'k'), "x"}}),
              "spec.tags", Type::Invalid, "1 to 128 characters"),
      refused("DuplicateExtraVolumeName",
              with(vols, {{"/spec/volumes/extra/1", {{"name", "data"}, {"sizeGiB", 5}}}}),
              "spec.volumes.extra[1].name", Type::Duplicate, "Duplicate value: \"data\""),
      refused("ExtraVolumeNamedRoot", with(vols, {{"/spec/volumes/extra/0/name", "root"}}),
              "spec.volumes.extra[0].name", Type::Invalid,
              "Invalid value: \"root\": is reserved: root and cloudinit name the instance's own "
              "disks"),
      refused("ExtraVolumeNamedCloudinit",
              with(vols, {{"/spec/volumes/extra/0/name", "cloudinit"}}),
              "spec.volumes.extra[0].name", Type::Invalid, "\"cloudinit\": is reserved"),
      refused("RootVolumeWithContainerDisk", with(inst, {{"/spec/volumes/root/sizeGiB", 20}}),
              "spec.volumes.root", Type::Forbidden,
              "must not be set with a containerDisk image (spec.image.containerDisk), whose root "
              "disk is ephemeral"),
      refused("DuplicateSecurityGroupName",
              with(withRule({{"fromPort", 80}}), {{"/spec/securityGroups/1", {{"name", "web"}}}}),
              "spec.securityGroups[1].name", Type::Duplicate, "Duplicate value: \"web\""),
      refused("ProtocolAllWithFromPort", withRule({{"protocol", "all"}, {"fromPort", 80}}),
              kRule + ".fromPort", Type::Forbidden,
              "ports apply to tcp, udp and sctp only: protocol all allows every port"),
      refused("ProtocolAllWithToPort", withRule({{"protocol", "all"}, {"toPort", 80}}),
              kRule + ".toPort", Type::Forbidden, "protocol all allows every port"),
      refused("ToPortWithoutFromPort", withRule({{"protocol", "udp"}, {"toPort", 53}}),
              kRule + ".toPort", Type::Forbidden,
              "may only be set with fromPort: a port range starts at fromPort"),
      // The protocol defaults to tcp.
      refused("ToPortBelowFromPort", withRule({{"fromPort", 443}, {"toPort", 80}}),
              kRule + ".toPort", Type::Invalid,
              "Invalid value: 80: must be greater than or equal to fromPort (443)"),
      refused("SelectorInWithoutValues", withSelector({{"key", "role"}, {"operator", "In"}}),
              kRule + ".sources[0].instanceSelector.matchExpressions[0].values", Type::Required,
              "must be specified when `operator` is 'In' or 'NotIn'"),
      refused("SelectorNotInWithEmptyValues",
              withSelector({{"key", "role"}, {"operator", "NotIn"}, {"values", json::array()}}),
              kRule + ".sources[0].instanceSelector.matchExpressions[0].values", Type::Required,
              "'In' or 'NotIn'"),
      refused("SelectorExistsWithValues",
              withSelector({{"key", "role"}, {"operator", "Exists"}, {"values", {"a"}}}),
              kRule + ".sources[0].instanceSelector.matchExpressions[0].values", Type::Forbidden,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),

      // Immutable after creation.
      refusedUpdate("ImageChanged", inst,
                    with(inst, {{"/spec/image/containerDisk", "quay.io/containerdisks/fedora:41"}}),
                    "spec.image", Type::Invalid,
                    "field is immutable: it cannot change after the Instance is created"),
      refusedUpdate("KeyPairAdded", inst, with(inst, {{"/spec/keyPair/secretName", "deploy-key"}}),
                    "spec.keyPair", Type::Invalid, "field is immutable"),
      refusedUpdate("AvailabilityZoneChanged",
                    with(inst, {{"/spec/availabilityZone", "us-east-1a"}}),
                    with(inst, {{"/spec/availabilityZone", "us-east-1b"}}), "spec.availabilityZone",
                    Type::Invalid, "Invalid value: \"us-east-1b\": field is immutable"),
      refusedUpdate(
          "AvailabilityZoneRemoved", with(inst, {{"/spec/availabilityZone", "us-east-1a"}}), inst,
          "spec.availabilityZone", Type::Invalid, "Invalid value: \"null\": field is immutable"),
      refusedUpdate("LaunchTemplateVersionChanged",
                    with(inst, {{"/spec/launchTemplateRef", {{"name", "web"}}}}),
                    with(inst, {{"/spec/launchTemplateRef", {{"name", "web"}, {"version", "2"}}}}),
                    "spec.launchTemplateRef", Type::Invalid, "field is immutable"),

      // Volumes grow but never shrink.
      refusedUpdate("RootVolumeShrunk", vols, with(vols, {{"/spec/volumes/root/sizeGiB", 10}}),
                    "spec.volumes.root.sizeGiB", Type::Invalid,
                    "Invalid value: 10: must not be less than the current size, 20 GiB: a volume "
                    "can grow but never shrink"),
      refusedUpdate("RootVolumeSizeRemoved", vols, without(vols, "/spec/volumes/root/sizeGiB"),
                    "spec.volumes.root.sizeGiB", Type::Required, "the current size, 20 GiB"),
      refusedUpdate("RootVolumeRemovedFallsBackTo10GiB", vols, without(vols, "/spec/volumes/root"),
                    "spec.volumes.root.sizeGiB", Type::Required, "the current size, 20 GiB"),
      // Without a size, an http or registry image's root volume is 10 GiB.
      refusedUpdate("RootVolumeBelowTheDefaultSize", without(vols, "/spec/volumes/root"),
                    with(vols, {{"/spec/volumes/root/sizeGiB", 5}}), "spec.volumes.root.sizeGiB",
                    Type::Invalid,
                    "Invalid value: 5: must not be less than the current size, 10 GiB"),
      refusedUpdate("ExtraVolumeShrunk", vols, with(vols, {{"/spec/volumes/extra/0/sizeGiB", 99}}),
                    "spec.volumes.extra[0].sizeGiB", Type::Invalid,
                    "Invalid value: 99: must not be less than the current size, 100 GiB"),
  };
}

std::vector<Admitted> instanceAdmitted() {
  const json inst = instance();
  const json vols = instanceWithVolumes();
  const json fromTemplate = objectOf("Instance", {{"launchTemplateRef", {{"name", "web"}}}});
  return {
      admitted("Minimal", inst),
      admitted("FromATemplateAlone", fromTemplate),
      admitted("WithPersistentVolumes", vols),
      admitted("TagsMentioningKubec2ElsewhereThanThePrefix",
               with(inst, {{"/spec/tags/kubec2", "x"}, {"/spec/tags/team.kubec2:x", "y"}})),
      admitted("TagKeyOf128Characters", with(inst, {{"/spec/tags/" + std::string(128, 'k'), "x"}})),
      admitted("ProtocolAllWithoutPorts", withRule({{"protocol", "all"}})),
      admitted("FromPortAlone", withRule({{"fromPort", 22}})),
      admitted("PortRange", withRule({{"protocol", "udp"}, {"fromPort", 1000}, {"toPort", 2000}})),
      admitted("SelectorInWithValues",
               withSelector({{"key", "role"}, {"operator", "In"}, {"values", {"bastion"}}})),
      admitted("SelectorExistsWithoutValues",
               withSelector({{"key", "role"}, {"operator", "Exists"}})),
      // An absent version is the schema default $Default: not a change.
      admittedUpdate("LaunchTemplateVersionDefaultSpelledOut", fromTemplate,
                     with(fromTemplate, {{"/spec/launchTemplateRef/version", "$Default"}})),
      admittedUpdate("LaunchTemplateVersionDefaultLeftOut",
                     with(fromTemplate, {{"/spec/launchTemplateRef/version", "$Default"}}),
                     fromTemplate),
      admittedUpdate("MutableFieldsChanged", inst,
                     with(inst, {{"/spec/instanceType", "m5.large"},
                                 {"/spec/desiredState", "stopped"},
                                 {"/spec/tags/Name", "web-1"}})),
      admittedUpdate(
          "VolumesGrown", vols,
          with(vols, {{"/spec/volumes/root/sizeGiB", 40}, {"/spec/volumes/extra/0/sizeGiB", 200}})),
      admittedUpdate("ExtraVolumeAdded", vols,
                     with(vols, {{"/spec/volumes/extra/1", {{"name", "logs"}, {"sizeGiB", 1}}}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationInstance, ValidationRefused,
                         testing::ValuesIn(instanceRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationInstance, ValidationAdmitted,
                         testing::ValuesIn(instanceAdmitted()), caseName<Admitted>);

TEST(ValidationInstance, WithoutTemplateImageAndInstanceTypeAreRequired) {
  const auto errs = create(objectOf("Instance", json::object()));
  ASSERT_EQ(errs.size(), 2u) << messages(errs);
  EXPECT_EQ(errs[0].message(),
            "spec.image: Required value: an Instance without spec.launchTemplateRef must set the "
            "image it launches from");
  EXPECT_EQ(errs[1].message(),
            "spec.instanceType: Required value: an Instance without spec.launchTemplateRef must "
            "set its instance type");
  expectOneError(create(without(instance(), "/spec/instanceType")), "spec.instanceType",
                 Type::Required, "must set its instance type");
}

TEST(ValidationInstance, DeleteIsRefusedWhileTerminationIsDisabled) {
  auto del = [](const json& old) {
    return validate({"Instance", Operation::Delete, nullptr, old}, fakeZones);
  };
  const auto errs = del(with(instance(), {{"/spec/disableApiTermination", true}}));
  expectOneError(errs, "spec.disableApiTermination", Type::Forbidden,
                 "set spec.disableApiTermination to false first, then delete it");

  EXPECT_TRUE(del(with(instance(), {{"/spec/disableApiTermination", false}})).empty());
  EXPECT_TRUE(del(instance()).empty());
  // Other kinds have no delete rule, whatever their spec says.
  EXPECT_TRUE(validate({"ScalingGroup", Operation::Delete, nullptr,
                        with(scalingGroup(), {{"/spec/disableApiTermination", true}})})
                  .empty());
}

// ---------------------------------------------------------------- LoadBalancer

json withListener(json lb, json listener) {
  lb["spec"]["listeners"].push_back(std::move(listener));
  return lb;
}
json httpsListener() {
  return {{"port", 443},
          {"protocol", "HTTPS"},
          {"defaultTargetGroup", "web"},
          {"certificate", {{"name", "web-tls"}}}};
}
json rule(int priority, const std::string& group) {
  return {{"priority", priority},
          {"conditions", {{"pathPatterns", {"/api/*"}}}},
          {"targetGroup", group}};
}

std::vector<Refused> loadBalancerRefused() {
  const json lb = loadBalancer();
  const json nlb = networkLoadBalancer();
  return {
      refused("DuplicateListenerPort",
              withListener(lb, {{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "web"}}),
              "spec.listeners[1].port", Type::Duplicate,
              "spec.listeners[1].port: Duplicate value: 80"),
      refused("DuplicateTargetGroupName",
              with(lb, {{"/spec/targetGroups/1", lb["spec"]["targetGroups"][0]}}),
              "spec.targetGroups[1].name", Type::Duplicate, "Duplicate value: \"web\""),
      refused("ApplicationWithTcpListener", with(lb, {{"/spec/listeners/0/protocol", "TCP"}}),
              "spec.listeners[0].protocol", Type::Invalid,
              "Invalid value: \"TCP\": must be HTTP or HTTPS: spec.type is application"),
      // type defaults to application.
      refused("DefaultTypeWithUdpListener",
              with(without(lb, "/spec/type"), {{"/spec/listeners/0/protocol", "UDP"}}),
              "spec.listeners[0].protocol", Type::Invalid, "must be HTTP or HTTPS"),
      refused("NetworkWithHttpListener", with(nlb, {{"/spec/listeners/0/protocol", "HTTP"}}),
              "spec.listeners[0].protocol", Type::Invalid,
              "Invalid value: \"HTTP\": must be TCP, UDP or TLS: spec.type is network"),
      refused("HttpsWithoutCertificate", withListener(lb, without(httpsListener(), "/certificate")),
              "spec.listeners[1].certificate", Type::Required,
              "Required value: a HTTPS listener needs a certificate (a kubernetes.io/tls Secret)"),
      refused("TlsWithoutCertificate", with(nlb, {{"/spec/listeners/0/protocol", "TLS"}}),
              "spec.listeners[0].certificate", Type::Required,
              "a TLS listener needs a certificate"),
      refused("HttpWithCertificate",
              with(lb, {{"/spec/listeners/0/certificate", {{"name", "web-tls"}}}}),
              "spec.listeners[0].certificate", Type::Forbidden,
              "Forbidden: only HTTPS and TLS listeners take a certificate"),
      refused("DefaultTargetGroupUnknown",
              with(lb, {{"/spec/listeners/0/defaultTargetGroup", "api"}}),
              "spec.listeners[0].defaultTargetGroup", Type::NotFound,
              "Not found: \"api\": must name a target group of spec.targetGroups"),
      refused("RuleTargetGroupUnknown", with(lb, {{"/spec/listeners/0/rules/0", rule(10, "api")}}),
              "spec.listeners[0].rules[0].targetGroup", Type::NotFound, "Not found: \"api\""),
      refused(
          "DuplicateRulePriority",
          with(lb, {{"/spec/listeners/0/rules", json::array({rule(10, "web"), rule(10, "web")})}}),
          "spec.listeners[0].rules[1].priority", Type::Duplicate, "Duplicate value: 10"),
      refused("RulesOnATcpListener", with(nlb, {{"/spec/listeners/0/rules/0", rule(10, "web")}}),
              "spec.listeners[0].rules", Type::Forbidden,
              "Forbidden: only HTTP and HTTPS listeners take rules"),
      refused("HealthCheckTimeoutEqualToInterval",
              with(lb, {{"/spec/targetGroups/0/healthCheck",
                         {{"intervalSeconds", 10}, {"timeoutSeconds", 10}}}}),
              "spec.targetGroups[0].healthCheck.timeoutSeconds", Type::Invalid,
              "Invalid value: 10: must be less than "
              "spec.targetGroups[0].healthCheck.intervalSeconds (10)"),
      refused("HealthCheckTimeoutAtTheDefaultInterval",
              with(lb, {{"/spec/targetGroups/0/healthCheck/timeoutSeconds", 30}}),
              "spec.targetGroups[0].healthCheck.timeoutSeconds", Type::Invalid,
              "Invalid value: 30: must be less than "
              "spec.targetGroups[0].healthCheck.intervalSeconds (30, the default)"),
      // timeoutSeconds defaults to 5.
      refused("HealthCheckIntervalAtTheDefaultTimeout",
              with(lb, {{"/spec/targetGroups/0/healthCheck/intervalSeconds", 5}}),
              "spec.targetGroups[0].healthCheck.timeoutSeconds", Type::Invalid,
              "Invalid value: 5: must be less than"),
      refused(
          "TargetSelectorInWithoutValues",
          with(lb,
               {{"/spec/targetGroups/0/targets",
                 {{"instanceSelector",
                   {{"matchExpressions", json::array({{{"key", "app"}, {"operator", "In"}}})}}}}}}),
          "spec.targetGroups[0].targets.instanceSelector.matchExpressions[0].values",
          Type::Required, "must be specified"),
  };
}

std::vector<Admitted> loadBalancerAdmitted() {
  const json lb = loadBalancer();
  const json nlb = networkLoadBalancer();
  return {
      admitted("Minimal", lb),
      admitted(
          "HttpsWithCertificateAndRules",
          with(withListener(lb, httpsListener()),
               {{"/spec/listeners/1/rules", json::array({rule(10, "web"), rule(20, "web")})}})),
      admitted("SamePriorityOnTwoListeners",
               with(withListener(lb, httpsListener()),
                    {{"/spec/listeners/0/rules/0", rule(10, "web")},
                     {"/spec/listeners/1/rules/0", rule(10, "web")}})),
      admitted(
          "NetworkTcpUdpAndTls",
          withListener(
              withListener(nlb, {{"port", 53}, {"protocol", "UDP"}, {"defaultTargetGroup", "web"}}),
              {{"port", 443},
               {"protocol", "TLS"},
               {"defaultTargetGroup", "web"},
               {"certificate", {{"name", "web-tls"}}}})),
      admitted("NetworkWithEmptyRules", with(nlb, {{"/spec/listeners/0/rules", json::array()}})),
      admitted("HealthCheckTimeoutUnderTheDefaultInterval",
               with(lb, {{"/spec/targetGroups/0/healthCheck/timeoutSeconds", 29}})),
      admitted("HealthCheckShortIntervalWithDefaultTimeout",
               with(lb, {{"/spec/targetGroups/0/healthCheck/intervalSeconds", 6}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationLoadBalancer, ValidationRefused,
                         testing::ValuesIn(loadBalancerRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationLoadBalancer, ValidationAdmitted,
                         testing::ValuesIn(loadBalancerAdmitted()), caseName<Admitted>);

// ---------------------------------------------------------------- references

const char* kOwnNamespaceOnly =
    "must be absent or the object's own namespace (shop): kubec2 objects refer only to objects "
    "of their own namespace";

std::vector<Refused> referencesRefused() {
  const json inst = instanceWithVolumes();
  return {
      refused("LaunchTemplateRefOfScalingGroup",
              with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", "other"}}),
              "spec.launchTemplateRef.namespace", Type::Invalid,
              std::string("spec.launchTemplateRef.namespace: Invalid value: \"other\": ") +
                  kOwnNamespaceOnly),
      refused("LoadBalancerRefsItem",
              with(scalingGroup(),
                   {{"/spec/loadBalancerRefs",
                     json::array({{{"name", "a"}}, {{"name", "b"}, {"namespace", "other"}}})}}),
              "spec.loadBalancerRefs[1].namespace", Type::Invalid, kOwnNamespaceOnly),
      refused("ScalingGroupRefOfTargetGroup",
              with(loadBalancer(),
                   {{"/spec/targetGroups/0/targets/scalingGroupRef/namespace", "other"}}),
              "spec.targetGroups[0].targets.scalingGroupRef.namespace", Type::Invalid,
              kOwnNamespaceOnly),
      refused(
          "InstanceRefsItem",
          with(loadBalancer(),
               {{"/spec/targetGroups/0/targets",
                 {{"instanceRefs", json::array({{{"name", "web-1"}, {"namespace", "other"}}})}}}}),
          "spec.targetGroups[0].targets.instanceRefs[0].namespace", Type::Invalid,
          kOwnNamespaceOnly),
      refused("ListenerCertificate",
              withListener(loadBalancer(),
                           with(httpsListener(), {{"/certificate/namespace", "other"}})),
              "spec.listeners[1].certificate.namespace", Type::Invalid, kOwnNamespaceOnly),
      refused("InstanceKeyPair",
              with(inst, {{"/spec/keyPair", {{"secretName", "k"}, {"namespace", "other"}}}}),
              "spec.keyPair.namespace", Type::Invalid, kOwnNamespaceOnly),
      refused("UserDataSecretRef",
              with(inst, {{"/spec/userData/secretRef", {{"name", "s"}, {"namespace", "other"}}}}),
              "spec.userData.secretRef.namespace", Type::Invalid, kOwnNamespaceOnly),
      refused(
          "ImagePvc",
          with(inst, {{"/spec/image", {{"pvc", {{"name", "golden"}, {"namespace", "images"}}}}}}),
          "spec.image.pvc.namespace", Type::Invalid, "Invalid value: \"images\""),
      refused("LaunchTemplateVersionKeyPair",
              with(launchTemplate(), {{"/spec/versions/0/spec/keyPair",
                                       {{"secretName", "k"}, {"namespace", "other"}}}}),
              "spec.versions[0].spec.keyPair.namespace", Type::Invalid, kOwnNamespaceOnly),
      // Not a string: still another namespace than the object's.
      refused("NamespaceOfTheWrongType",
              with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", 7}}),
              "spec.launchTemplateRef.namespace", Type::Invalid, "Invalid value: 7"),
      refused("AnyNamespaceWhenTheObjectHasNone",
              without(with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", "shop"}}),
                      "/metadata/namespace"),
              "spec.launchTemplateRef.namespace", Type::Invalid,
              "must be absent: kubec2 objects refer only to objects of their own namespace"),
  };
}

std::vector<Admitted> referencesAdmitted() {
  return {
      admitted("OwnNamespace",
               with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", "shop"},
                                     {"/spec/loadBalancerRefs",
                                      json::array({{{"name", "web"}, {"namespace", "shop"}}})}})),
      admitted("EmptyNamespace", with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", ""}})),
      admitted("NullNamespace",
               with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", nullptr}})),
      admitted("NoNamespace", loadBalancer()),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationReferences, ValidationRefused,
                         testing::ValuesIn(referencesRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationReferences, ValidationAdmitted,
                         testing::ValuesIn(referencesAdmitted()), caseName<Admitted>);

// ---------------------------------------------------------------- robustness

// [[[...[]...]]], `depth` arrays deep, built without recursion.
json nestedArrays(size_t depth) {
  json j = json::array();
  for (size_t i = 1; i < depth; ++i) j = json::array({std::move(j)});
  return j;
}

TEST(ValidationRobustness, WrongShapesAreFieldErrorsNotExceptions) {
  std::vector<FieldError> errs;
  EXPECT_NO_THROW(errs = create(with(scalingGroup(), {{"/spec", "big"}})));
  expectOneError(errs, "spec", Type::Invalid, "spec: Invalid value: \"big\": expected an object");

  EXPECT_NO_THROW(errs = create(with(scalingGroup(), {{"/spec/minSize", "5"}})));
  expectOneError(errs, "spec.minSize", Type::Invalid,
                 "spec.minSize: Invalid value: \"5\": expected an integer");

  // Above int64: nlohmann keeps it unsigned, and it must not wrap to -1.
  EXPECT_NO_THROW(errs =
                      create(with(scalingGroup(), {{"/spec/minSize", 18446744073709551615ULL}})));
  expectOneError(errs, "spec.minSize", Type::Invalid, "at most 9223372036854775807");

  EXPECT_NO_THROW(errs =
                      create(with(launchTemplate(), {{"/spec/versions", {{"1", launchSpec()}}}})));
  expectOneError(errs, "spec.versions", Type::Invalid, "expected a list");

  EXPECT_NO_THROW(errs = create(without(scalingGroup(), "/spec/launchTemplateRef")));
  expectOneError(errs, "spec.launchTemplateRef", Type::Required, "Required value");

  EXPECT_NO_THROW(errs = create(without(loadBalancer(), "/spec")));
  expectOneError(errs, "spec", Type::Required, "spec: Required value");

  EXPECT_NO_THROW(errs =
                      validate({"ScalingGroup", Operation::Create, nullptr, nullptr}, fakeZones));
  expectOneError(errs, "", Type::Invalid,
                 "Invalid value: \"null\": must be a JSON object: a compute.kubec2.io/v1alpha1 "
                 "ScalingGroup");

  EXPECT_NO_THROW(errs = validate({"Pod", Operation::Create, instance(), nullptr}, fakeZones));
  expectOneError(errs, "kind", Type::Invalid,
                 "kind: Invalid value: \"Pod\": must be Instance, LaunchTemplate, ScalingGroup or "
                 "LoadBalancer");
}

TEST(ValidationRobustness, DeeplyNestedJsonIsAnErrorNotAStackOverflow) {
  std::vector<FieldError> errs;
  const json deep = with(instance(), {{"/spec/tags/deep", nestedArrays(10000)}});
  EXPECT_NO_THROW(errs = create(deep));
  expectOneError(errs, "spec.tags.deep", Type::Invalid, "expected a string");
  EXPECT_NO_THROW(errs = update(instance(), deep));
  EXPECT_EQ(errs.size(), 1u) << messages(errs);
  // Unknown members are walked for references too, to a bounded depth.
  EXPECT_NO_THROW(errs = create(with(scalingGroup(), {{"/spec/extra", nestedArrays(10000)}})));
  EXPECT_TRUE(errs.empty()) << messages(errs);
}

// A stored object of the wrong shape (from before a rule, or written around
// the webhook) must not make updates and deletes fail in other ways.
TEST(ValidationRobustness, OldObjectsOfAnyShapeAreTolerated) {
  for (const json& old : {json(nullptr), json("x"), json::array(), json({{"spec", 5}}),
                          json({{"spec", {{"versions", "x"}, {"volumes", 3}}}})}) {
    SCOPED_TRACE(old.dump());
    for (const json& object : {instance(), launchTemplate(), scalingGroup(), loadBalancer()}) {
      std::vector<FieldError> errs;
      EXPECT_NO_THROW(errs = update(old, object));
      EXPECT_TRUE(errs.empty()) << object["kind"] << messages(errs);
      EXPECT_NO_THROW(
          errs = validate({object["kind"].get<std::string>(), Operation::Delete, nullptr, old},
                          fakeZones));
      EXPECT_TRUE(errs.empty()) << object["kind"] << messages(errs);
    }
  }
}

// Every position of `j`, as a JSON pointer.
void allPointers(const json& j, const json::json_pointer& at,
                 std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (j.is_object())
    for (const auto& [key, value] : j.items()) allPointers(value, at / key, out);
  else if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) allPointers(j[i], at / i, out);
}

std::vector<json> exampleDocuments() {
  std::vector<json> docs;
  const auto dir = std::filesystem::path(KUBEC2_SOURCE_DIR) / "examples";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    for (auto& doc : kube::parseYamlDocuments(text.str())) docs.push_back(std::move(doc));
  }
  return docs;
}

// Each member of rich objects replaced by values of every other shape: the
// errors name a field, and none is the catch-all for an internal exception.
TEST(ValidationRobustness, EveryMemberOfEveryShapeIsReportedByName) {
  std::vector<json> objects = exampleDocuments();
  objects.push_back(instanceWithVolumes());
  objects.push_back(withRule({{"fromPort", 80}, {"toPort", 90}}));
  objects.push_back(withStepScaling({}));
  const std::vector<json> shapes = {nullptr,        "text",         -1, 1.5, true, json::array(),
                                    json::object(), nestedArrays(3)};
  size_t checked = 0;
  for (const json& object : objects) {
    std::vector<json::json_pointer> pointers;
    allPointers(object["spec"], json::json_pointer("/spec"), pointers);
    for (const auto& pointer : pointers) {
      for (const json& shape : shapes) {
        json broken = object;
        broken[pointer] = shape;
        const auto kind = object["kind"].get<std::string>();
        for (const auto& in : {AdmissionInput{kind, Operation::Create, broken, nullptr},
                               AdmissionInput{kind, Operation::Update, broken, object},
                               AdmissionInput{kind, Operation::Update, object, broken},
                               AdmissionInput{kind, Operation::Delete, nullptr, broken}}) {
          std::vector<FieldError> errs;
          ASSERT_NO_THROW(errs = validate(in, fakeZones)) << pointer.to_string();
          for (const auto& e : errs) {
            EXPECT_FALSE(e.field.empty())
                << pointer.to_string() << " = " << shape << ": " << e.message();
            EXPECT_THAT(e.detail, testing::Not(HasSubstr("could not be validated")))
                << pointer.to_string() << " = " << shape;
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000u);
}

// ---------------------------------------------------------------- examples

// The examples are what users copy: each must be admitted as it stands, with
// the machine's real time zone database.
TEST(ValidationExamples, EveryExampleIsAdmittedOnCreate) {
  const auto docs = exampleDocuments();
  ASSERT_GE(docs.size(), 7u) << "examples/*.yaml not found under " << KUBEC2_SOURCE_DIR;
  for (const auto& doc : docs) {
    const std::string kind = doc.value("kind", "");
    SCOPED_TRACE(kind + " " + doc["metadata"].value("name", ""));
    const auto errs = validate({kind, Operation::Create, doc, nullptr});
    EXPECT_TRUE(errs.empty()) << messages(errs);
  }
}

// ---------------------------------------------------------------- defaultsPatch

json addOp(const std::string& path, json value) {
  return {{"op", "add"}, {"path", path}, {"value", std::move(value)}};
}

TEST(ValidationDefaults, NetworkTargetGroupGetsTcp) {
  EXPECT_EQ(defaultsPatch("LoadBalancer", networkLoadBalancer()),
            json::array({addOp("/spec/targetGroups/0/protocol", "TCP"),
                         addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "TCP"}})}));
  // An existing health check gets its protocol, and keeps the rest.
  EXPECT_EQ(defaultsPatch("LoadBalancer",
                          with(networkLoadBalancer(),
                               {{"/spec/targetGroups/0/healthCheck/intervalSeconds", 10}})),
            json::array({addOp("/spec/targetGroups/0/protocol", "TCP"),
                         addOp("/spec/targetGroups/0/healthCheck/protocol", "TCP")}));
}

TEST(ValidationDefaults, TargetGroupBehindOnlyUdpListenersGetsUdpCheckedOverTcp) {
  json lb = with(networkLoadBalancer(), {{"/spec/listeners/0/protocol", "UDP"}});
  lb = withListener(lb, {{"port", 5353}, {"protocol", "UDP"}, {"defaultTargetGroup", "web"}});
  EXPECT_EQ(defaultsPatch("LoadBalancer", lb),
            json::array({addOp("/spec/targetGroups/0/protocol", "UDP"),
                         addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "TCP"}})}));
  // One TCP listener among them: TCP.
  lb = withListener(lb, {{"port", 8080}, {"protocol", "TCP"}, {"defaultTargetGroup", "web"}});
  EXPECT_EQ(defaultsPatch("LoadBalancer", lb)[0], addOp("/spec/targetGroups/0/protocol", "TCP"));
}

TEST(ValidationDefaults, ApplicationTargetGroupGetsHttp) {
  const json expected =
      json::array({addOp("/spec/targetGroups/0/protocol", "HTTP"),
                   addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "HTTP"}})});
  EXPECT_EQ(defaultsPatch("LoadBalancer", loadBalancer()), expected);
  EXPECT_EQ(defaultsPatch("LoadBalancer", without(loadBalancer(), "/spec/type")), expected);
}

TEST(ValidationDefaults, AnExistingProtocolIsLeftAlone) {
  const json https = with(loadBalancer(), {{"/spec/targetGroups/0/protocol", "HTTPS"}});
  EXPECT_EQ(defaultsPatch("LoadBalancer", https),
            json::array({addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "HTTPS"}})}));
  EXPECT_EQ(defaultsPatch("LoadBalancer",
                          with(https, {{"/spec/targetGroups/0/healthCheck/protocol", "TCP"}})),
            json::array());
  // A TLS group behind a network load balancer is checked over TCP.
  EXPECT_EQ(defaultsPatch("LoadBalancer",
                          with(networkLoadBalancer(), {{"/spec/targetGroups/0/protocol", "TLS"}})),
            json::array({addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "TCP"}})}));
}

TEST(ValidationDefaults, ScalingGroupCheckpointDelayAndAggregation) {
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

TEST(ValidationDefaults, NothingForOtherKindsOrOtherShapes) {
  EXPECT_EQ(defaultsPatch("Instance", instance()), json::array());
  EXPECT_EQ(defaultsPatch("LaunchTemplate", launchTemplate()), json::array());
  EXPECT_EQ(defaultsPatch("Pod", loadBalancer()), json::array());
  for (const json& odd : {json(nullptr), json("x"), json({{"spec", "x"}}),
                          with(loadBalancer(), {{"/spec/targetGroups", {{"web", 1}}}}),
                          with(loadBalancer(), {{"/spec/targetGroups/0", "web"}}),
                          with(loadBalancer(), {{"/spec/listeners", 3}}),
                          with(scalingGroup(), {{"/spec/scalingPolicies", "x"}})}) {
    json patch;
    EXPECT_NO_THROW(patch = defaultsPatch("LoadBalancer", odd)) << odd;
    EXPECT_TRUE(patch.is_array()) << odd;
    EXPECT_NO_THROW(patch = defaultsPatch("ScalingGroup", odd)) << odd;
    EXPECT_TRUE(patch.is_array()) << odd;
  }
}

// What the mutating webhook answers is applied by the API server: it must
// apply cleanly, leave a valid object, and have nothing left to add.
TEST(ValidationDefaults, ThePatchAppliesAndIsIdempotent) {
  std::vector<json> objects = exampleDocuments();
  objects.push_back(networkLoadBalancer());
  objects.push_back(with(networkLoadBalancer(), {{"/spec/listeners/0/protocol", "UDP"},
                                                 {"/spec/targetGroups/0/healthCheck", nullptr}}));
  objects.push_back(withStepScaling({}));
  objects.push_back(
      with(scalingGroup(), {{"/spec/instanceRefresh/checkpointPercentages", {50, 100}}}));
  size_t patched = 0;
  for (const json& object : objects) {
    const auto kind = object["kind"].get<std::string>();
    SCOPED_TRACE(object.dump());
    const json patch = defaultsPatch(kind, object);
    json result;
    ASSERT_NO_THROW(result = object.patch(patch)) << patch;
    EXPECT_TRUE(validate({kind, Operation::Create, result, nullptr}).empty());
    EXPECT_EQ(defaultsPatch(kind, result), json::array()) << result;
    if (!patch.empty()) ++patched;
  }
  EXPECT_GE(patched, 5u);
}

// ---------------------------------------------------------------- messages

TEST(ValidationMessages, FieldErrorReadsAsKubernetesFieldError) {
  EXPECT_EQ(
      (FieldError{Type::Invalid, "spec.minSize", 5, "must be at most spec.maxSize (3)"}.message()),
      "spec.minSize: Invalid value: 5: must be at most spec.maxSize (3)");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", "a\"b\\\n\x01", "bad"}.message()),
            "spec.x: Invalid value: \"a\\\"b\\\\\\n\\x01\": bad");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", 0.1, "d"}.message()),
            "spec.x: Invalid value: 0.1: d");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", true, "d"}.message()),
            "spec.x: Invalid value: true: d");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", nullptr, "d"}.message()),
            "spec.x: Invalid value: \"null\": d");
  EXPECT_EQ((FieldError{Type::Required, "spec.image", nullptr, "set it"}.message()),
            "spec.image: Required value: set it");
  EXPECT_EQ((FieldError{Type::Required, "spec", nullptr, ""}.message()), "spec: Required value");
  EXPECT_EQ((FieldError{Type::Forbidden, "spec.x", nullptr, "not here"}.message()),
            "spec.x: Forbidden: not here");
  EXPECT_EQ((FieldError{Type::Duplicate, "spec.a[1].name", "web", ""}.message()),
            "spec.a[1].name: Duplicate value: \"web\"");
  EXPECT_EQ((FieldError{Type::NotFound, "spec.g", "api", "must name a group"}.message()),
            "spec.g: Not found: \"api\": must name a group");
}

TEST(ValidationMessages, CauseTypesAreMetav1CauseTypes) {
  EXPECT_EQ((FieldError{Type::Invalid, "", nullptr, ""}.causeType()), "FieldValueInvalid");
  EXPECT_EQ((FieldError{Type::Required, "", nullptr, ""}.causeType()), "FieldValueRequired");
  EXPECT_EQ((FieldError{Type::Forbidden, "", nullptr, ""}.causeType()), "FieldValueForbidden");
  EXPECT_EQ((FieldError{Type::Duplicate, "", nullptr, ""}.causeType()), "FieldValueDuplicate");
  EXPECT_EQ((FieldError{Type::NotFound, "", nullptr, ""}.causeType()), "FieldValueNotFound");
}

TEST(ValidationMessages, InvalidMessageAsTheApiServerWordsIt) {
  const FieldError a{Type::Invalid, "spec.minSize", 6, "too big"};
  const FieldError b{Type::Required, "spec.x", nullptr, ""};
  EXPECT_EQ(invalidMessage("ScalingGroup", "web", {a}),
            "ScalingGroup.compute.kubec2.io \"web\" is invalid: spec.minSize: Invalid value: 6: "
            "too big");
  EXPECT_EQ(invalidMessage("ScalingGroup", "web", {a, b}),
            "ScalingGroup.compute.kubec2.io \"web\" is invalid: [spec.minSize: Invalid value: 6: "
            "too big, spec.x: Required value]");
  // The same message twice is said once, and then without brackets.
  EXPECT_EQ(invalidMessage("Instance", "web-1", {b, b}),
            "Instance.compute.kubec2.io \"web-1\" is invalid: spec.x: Required value");
  EXPECT_EQ(invalidMessage("Instance", "a\"b", {a, b, a}),
            "Instance.compute.kubec2.io \"a\\\"b\" is invalid: [spec.minSize: Invalid value: 6: "
            "too big, spec.x: Required value]");
}

TEST(ValidationMessages, WhatKubectlShowsForARefusedScalingGroup) {
  const auto errs = create(with(scalingGroup(), {{"/spec/minSize", 6}}));
  EXPECT_EQ(invalidMessage("ScalingGroup", "web", errs),
            "ScalingGroup.compute.kubec2.io \"web\" is invalid: spec.minSize: Invalid value: 6: "
            "must be less than or equal to spec.maxSize (5)");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].value, 6);
  EXPECT_EQ(errs[0].causeType(), "FieldValueInvalid");
}

}  // namespace
}  // namespace kubec2::api
