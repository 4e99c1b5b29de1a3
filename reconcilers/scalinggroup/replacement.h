// Replacing a ScalingGroup's instances without dropping its service:
// instance refresh (EC2's StartInstanceRefresh with skip-matching), the
// maximum instance lifetime, and the rolling step both use. Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reconcilers/scalinggroup/members.h"

namespace kubec2::reconcilers {

// One step of a rolling replacement of `toReplace` (member names), as EC2's
// instance refresh paces it against the capacity in force `desired`:
//  - in service and warmed up (in service for at least `warmup`) must stay
//    at least ceil(desired * minHealthyPercentage / 100);
//  - all current instances (Pending, InService, Unhealthy) at most
//    floor(desired * maxHealthyPercentage / 100), at least desired;
//  - above 100 %, replacements launch first (extraLaunches above desired),
//    and old instances go once their successors are in service and warmed
//    up; at 100 %, old instances go first, as far as the minimum allows
//    (always one at a time at the least, so a refresh of a group of one
//    makes progress, as EC2's does at 100 % minimum healthy).
// Old instances that are not in service (Pending, Unhealthy) go first.
struct RollingStep {
  std::vector<std::string> terminate;  // now, in this order
  std::int64_t extraLaunches = 0;      // launches allowed above `desired` now
  // When the next step may be possible without any other change (an
  // instance's warmup ending); nullopt when only an event can make one.
  std::optional<Time> wakeUp;
};
RollingStep rollingStep(const std::vector<Member>& members,
                        const std::vector<std::string>& toReplace, std::int64_t desired,
                        std::int64_t minHealthyPercentage, std::int64_t maxHealthyPercentage,
                        std::chrono::seconds warmup, Time now);

// Instance refresh (spec.instanceRefresh set): starts when the version the
// group's launchTemplateRef resolves to differs from `previousVersion` (the
// status.launchTemplateVersion last written), or when the annotation
// compute.kubec2.io/instance-refresh changes value (a refresh on request:
// every instance is replaced, matching or not). A newer version during a
// refresh cancels it (status Cancelled, an activity) and starts another.
// Pending while the InstanceRefresh process is suspended (an instance of
// the new version still launches for scale-out); removing
// spec.instanceRefresh cancels one in progress. Checkpoints:
// percentageComplete reaching the next of checkpointPercentages pauses the
// refresh for checkpointDelaySeconds (3600 when absent); the refresh is
// Successful when nothing is left to replace, or when it reaches its last
// checkpoint below 100.
struct RefreshDecision {
  std::optional<v1::ScalingGroupInstanceRefreshStatus> status;  // status.instanceRefresh
  RollingStep step;          // what to do now
  bool inProgress = false;   // the InstanceRefreshing condition
  std::string conditionMessage;
  std::vector<std::string> activities;  // in words: "instance refresh to version 3 started"
  std::string requestToken;  // the annotation's value now taken into account ("" none)
};
RefreshDecision decideRefresh(const v1::ScalingGroup& group, const std::vector<Member>& members,
                              std::int64_t targetVersion, std::optional<std::int64_t> previousVersion,
                              std::int64_t desired, bool suspended, Time now);

// Maximum instance lifetime (spec.maxInstanceLifetimeSeconds, 0 or absent:
// none): the members that have existed longer, oldest first; replaced with
// rollingStep at instanceRefresh.minHealthyPercentage, or 90 %, and 100 %
// maximum, while the InstanceRefresh process is not suspended.
std::vector<std::string> pastLifetime(const v1::ScalingGroupSpec& spec,
                                      const std::vector<Member>& members, Time now);

}  // namespace kubec2::reconcilers
