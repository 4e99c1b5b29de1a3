// A group's scaling policies at one reconcile: the latest metric readings
// (controllers/scalinggroup/policy_metrics.h takes them every evaluation
// interval) go through each enabled policy's decision (reconcilers/
// scaling/) and their combination, once per evaluation; the outcome is the
// capacity wanted, the cause in words, status.policies and the
// ScalingActive condition. Pure.
//
// Rules (docs/scaling-policies.md):
//  - Without --prometheus-url, policies that need metrics never act:
//    ScalingActive False, PrometheusNotConfigured. Without
//    --request-count-metric, ALBRequestCountPerTarget / RequestCountPerTarget
//    and ALBRequestCount policies never act (their reading says so):
//    ScalingActive False, RequestCountMetricNotConfigured; other policies
//    go on.
//  - A reading is used once: only an evaluation newer than the one status
//    records is decided on; a reconcile between evaluations keeps the
//    policies' status as it is.
//  - A reading without a value (Prometheus down, slow, an error or
//    garbage, no series, NaN, stale) makes the policy hold: never scale in
//    (reconcilers/scaling/combine.h), ScalingActive False naming the cause.
//  - Target tracking's waits are tuned in seconds for a 15 s evaluation
//    interval; a shorter interval (tests, the demo) shrinks them in
//    proportion. Step scaling's alarm periods and cooldowns are the
//    spec's seconds, whatever the interval.
//  - Instances count as in service for a policy after its warmup
//    (controllers' warmupOf); launched ones before that count as warming.
//  - Predictive policies (reconcilers/scaling/predictive.h) forecast from
//    the history in the readings when one was read, else go on with the
//    forecast in their memory; the load one instance carries at
//    targetValue: ASGCPUUtilization, the instances' mean
//    status.instanceType.vCPU x targetValue / 100 (none known:
//    NoInstanceType); network pairs and a custom load, targetValue;
//    customMetric.scalingQuery is refused (ScalingQueryNotSupported).
//    status.policies[] gets the scheduled load and capacity (metricValue,
//    desiredCapacity), the message and at most 48 hourly forecast points.
//    InsufficientHistory and NoInstanceType leave ScalingActive True while
//    another policy is active.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/v1alpha1/types.h"
#include "reconcilers/scalinggroup/group_metrics.h"
#include "reconcilers/scalinggroup/members.h"

namespace kubec2::reconcilers {

// One evaluation of a group's policies: when, and each policy's reading.
struct PolicyReadings {
  Time evaluatedAt{};
  std::map<std::string, MetricReading> byPolicy;
  // Predictive policies whose forecast was due at this evaluation: the
  // load's history (up to 14 days, 5-minute steps) or why there is none.
  // A predictive policy absent here was not queried this time: it goes on
  // with the forecast in its memory (status.policies[].memory).
  std::map<std::string, HistoryReading> historyByPolicy;
};

struct PoliciesInput {
  const v1::ScalingGroup* group = nullptr;       // required
  const std::vector<Member>* members = nullptr;  // required
  std::int64_t desired = 0;                      // the capacity in force (after spec and actions)
  std::int64_t minSize = 0;
  std::int64_t maxSize = 0;
  const PolicyReadings* readings = nullptr;  // the latest evaluation; null before the first
  bool prometheusConfigured = false;
  std::chrono::seconds evaluationInterval{60};
  // The rate() window of the queries (group_metrics.h queryWindow): an
  // instance counts in the metric only once a whole window has passed
  // since it came into service (and its warmup), as before that the rates
  // of the instances already there still carry the load from before it.
  std::chrono::seconds metricWindow{0};
  Time now{};
  // The policies' statuses as last decided, kept by the controller between
  // evaluations (PoliciesOutcome::latest); used instead of status.policies
  // when newer. Null: status.policies is the memory.
  const std::vector<v1::ScalingPolicyStatus>* latest = nullptr;
  // How long status.policies may lag the latest decisions when nothing a
  // user acts on changed (what a policy wants, its alarm, its message, its
  // last scale, its forecast): only the metric value, the evaluation time
  // and the memory. 0: written every evaluation. (1,000 groups evaluated
  // every 15 s would otherwise write 67 statuses a second: docs/
  // benchmarks.md, "Scaling policy cost".)
  std::chrono::seconds persistEvery{0};
};

struct ConditionValue {
  std::string status;  // True, False, Unknown
  std::string reason;
  std::string message;
};

struct PoliciesOutcome {
  bool any = false;                     // the group has an enabled policy
  std::optional<std::int64_t> desired;  // the capacity the policies set, when they change it
  std::optional<std::int64_t> maxSize;  // a maximum a predictive policy raised
  std::string cause;                    // the activity's cause, when desired is set
  std::vector<v1::ScalingPolicyStatus> statuses;  // status.policies, to write
  std::vector<v1::ScalingPolicyStatus> latest;    // the decisions, memory included, to keep
  std::optional<ConditionValue> scalingActive;    // nullopt: the group has no enabled policy
  bool evaluated = false;                         // a new evaluation was decided on
};

PoliciesOutcome decidePolicies(const PoliciesInput& in);

// A policy's warmup: estimatedInstanceWarmupSeconds, else the group's
// defaultInstanceWarmupSeconds, else defaultCooldownSeconds, else 300 s, as
// EC2 resolves it.
std::chrono::seconds warmupOf(const v1::ScalingPolicy& policy, const v1::ScalingGroupSpec& group);

}  // namespace kubec2::reconcilers
