// The ScalingGroup reconciler's decision: from the group, its instances,
// its launch template, the cluster's zones and the clock to the plan of
// launches, terminations and status that keep the group as EC2 Auto Scaling
// keeps an Auto Scaling group (docs/scaling-groups.md). Pure, so every rule
// is table-tested with an injected clock; controllers/scalinggroup observes,
// tracks creations and deletions in flight (runtime/expectations.h) and the
// common executor writes.
//
// A group never reaches an Instance's VM: it creates and deletes Instances,
// and the Instance controller does the rest.
//
// Order of one reconcile, as EC2 runs its processes:
//  1. the capacity in force (capacity.h: spec requests, scheduled actions);
//  2. health: Unhealthy members are terminated, at most
//     max(1, 10 % of the capacity in force) at a time (ReplaceUnhealthy);
//  3. scale-in of what exceeds the capacity (selection.h's order; to the
//     warm pool with reuseOnScaleIn), or scale-out to it (the warm pool's
//     prepared instances first, then launches into the emptiest zones);
//  4. when neither: AZRebalance (one launch above the capacity, the
//     surplus terminated from the fullest zone once it is in service),
//     then instance refresh and maximum lifetime (replacement.h), then the
//     warm pool's own upkeep (warm_pool.h);
//  5. status (counts, zones, activities, conditions) and one Event per
//     activity.
// Nothing is created or deleted while the previous reconcile's creations
// and deletions are not yet seen (`expectationsSatisfied` false): status
// still moves, writes wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/target_health.h"
#include "reconcilers/common/plan.h"
#include "reconcilers/scalinggroup/members.h"
#include "reconcilers/scalinggroup/policies.h"
#include "reconcilers/scalinggroup/selection.h"

namespace kubec2::reconcilers {

// The field manager of the group's writes to its Instances (lifting
// termination protection when the group is deleted, warm pool moves).
inline constexpr const char* kScalingGroupFieldManager = "kubec2-scalinggroup";

struct ScalingGroupObservation {
  const v1::ScalingGroup* group = nullptr;  // required; status as last written
  // The group's Instances: those it controls (controller ownerReference with
  // the group's uid), warm ones included, from the cache.
  std::vector<const v1::Instance*> instances;
  const v1::LaunchTemplate* launchTemplate = nullptr;  // spec.launchTemplateRef's, if it exists
  std::vector<NodeView> nodes;                         // every node of the cluster
  const api::TargetHealthIndex* targets = nullptr;     // the group's LoadBalancers' reports
  // False while creations or deletions of an earlier reconcile are not yet
  // in the cache: nothing is created or deleted then.
  bool expectationsSatisfied = true;
  Time now{};
  // --instance-start-timeout-seconds: the least time an instance still
  // launching gets before it counts as failing to start (members.h).
  std::chrono::seconds instanceStartTimeout = kDefaultInstanceStartTimeout;
  // When this group's status was last written by the controller, if it
  // remembers: a status whose only change is in its counts (instances
  // coming into service one by one during a large scale-out) is written at
  // most once per kStatusCountsInterval.
  std::optional<Time> lastStatusWrite;
  // The scaling policies' latest metric readings (null before the first
  // evaluation, or without Prometheus), whether the operator has a
  // Prometheus at all, and its evaluation interval.
  const PolicyReadings* policyReadings = nullptr;
  bool prometheusConfigured = false;
  std::chrono::seconds evaluationInterval{60};
  std::chrono::seconds metricWindow{0};  // the queries' rate() window
  // The policies' latest decisions the controller kept between evaluations
  // (ScalingGroupDecision::latestPolicies), null if none; status.policies
  // is written when something a user acts on changes, and at least every
  // kPolicyStatusEvaluations evaluation intervals.
  const std::vector<v1::ScalingPolicyStatus>* latestPolicies = nullptr;
};

inline constexpr int kPolicyStatusEvaluations = 10;

inline constexpr std::chrono::milliseconds kStatusCountsInterval{1000};

// One scaling activity, as EC2's: what happened and why, in words.
struct Activity {
  std::string kind;  // for the metric: Launch, Terminate, ReplaceUnhealthy, CapacityChange, ...
  std::string cause;
  std::int64_t from = 0;  // the capacity in force before
  std::int64_t to = 0;    // and after
  std::string message;
};

struct ScalingGroupDecision {
  Plan plan;
  std::int64_t creations = 0;             // Instances the plan creates (for expectations)
  std::vector<std::string> deletionUids;  // and deletes
  std::vector<Activity> activities;       // recorded by this plan (status, Events)
  // The policies' latest decisions, memory included, for the controller to
  // keep and give back (ScalingGroupObservation::latestPolicies); the
  // metric gauges read them, as status.policies may lag.
  std::vector<v1::ScalingPolicyStatus> latestPolicies;
};

ScalingGroupDecision planScalingGroup(const ScalingGroupObservation& o);

// The Instance a group launches: named by the server from "<group>-",
// labelled with the group's label, controlled by the group, launching from
// the template version `version` (a number, so $Latest moving later does
// not change it) in `zone` ("" for none); `warm` for its warm pool.
nlohmann::json instanceToLaunch(const v1::ScalingGroup& group, std::int64_t version,
                                const std::string& zone, bool warm);

// The label selector of a group's instances, status.selector.
std::string selectorOf(const v1::ScalingGroup& group);

}  // namespace kubec2::reconcilers
