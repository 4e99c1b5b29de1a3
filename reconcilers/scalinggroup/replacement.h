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
//  - old instances in service go as far as the minimum allows, successors
//    counting once they are in service and warmed up; so the spread between
//    the two percentages is how many are replaced at a time, as in EC2;
//  - above 100 %, replacements launch first (extraLaunches above desired,
//    at most one per old instance left), and old instances go once their
//    successors are in service and warmed up; at 100 %, old instances go
//    first (always one at a time at the least, when nothing else is in
//    flight, so a refresh of a group of one, or at 100 % minimum healthy,
//    makes progress, as EC2's does).
// Old instances that are not in service (Pending, Unhealthy) go first, and
// need no room (they serve nothing); then those in service and warmed up,
// in the order of `toReplace`. Old instances still warming up serve but do
// not count towards the minimum: they wait until warmed up, as EC2 waits
// for warming instances (a refresh started right after a scale-out never
// takes them all at once). Warm and Terminating members are not current and are never
// chosen. The caller keeps desired + extraLaunches current instances.
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
// status.launchTemplateVersion last written; nullopt, a group never
// reconciled, starts nothing), or when the annotation
// compute.kubec2.io/instance-refresh changes value (a refresh on request:
// every instance launched before it started is replaced, matching or not).
// A newer version during a refresh cancels it (an activity, result
// Cancelled) and starts another. Pending while the InstanceRefresh process
// is suspended (an instance of the new version still launches for
// scale-out); removing spec.instanceRefresh cancels one in progress (status
// Cancelled). Checkpoints: percentageComplete reaching the next of
// checkpointPercentages pauses the refresh for checkpointDelaySeconds (3600
// when absent), and no step replaces more than the next checkpoint needs;
// the refresh is Successful when nothing is left to replace and every
// replacement is in service and warmed up, or when it reaches its last
// checkpoint below 100.
//
// Skip matching: instances of another version than the target are
// replaced; those whose version is not known yet (0) are left alone until
// it is. percentageComplete counts the instances the refresh launched
// (created at or after startTime, of the target version, surplus above
// desired aside) that are in service and warmed up, out of those plus the
// instances left to replace; instancesToUpdate is what is not complete.
//
// What a refresh must remember between reconciles beyond the fields of
// status.instanceRefresh (ScalingGroupInstanceRefreshStatus has none for
// these): the caller keeps the `memory` of the last decision and passes it
// back. Proposed status fields: status.instanceRefreshRequest (the request
// token), status.instanceRefresh.skipMatching, .checkpointPercentage and
// .checkpointTime.
struct RefreshMemory {
  // The annotation's value last taken into account ("" none or absent).
  std::string requestToken;
  // false for a refresh on request (instances matching the target version
  // are replaced too); as EC2's SkipMatching preference.
  bool skipMatching = true;
  // The last checkpoint the refresh in status reached (0 none), and when,
  // while it waits there; checkpointTime is cleared when it resumes.
  std::int64_t checkpointPercentage = 0;
  std::optional<Time> checkpointTime;
  bool operator==(const RefreshMemory&) const = default;
};

struct RefreshDecision {
  std::optional<v1::ScalingGroupInstanceRefreshStatus> status;  // status.instanceRefresh
  RollingStep step;                                             // what to do now
  // The InstanceRefreshing condition: True while a refresh is Pending or
  // InProgress (waiting at a checkpoint included).
  bool inProgress = false;
  std::string conditionMessage;
  std::vector<std::string> activities;  // in words: "instance refresh to version 3 started"
  RefreshMemory memory;  // to pass to the next decision (requestToken: the annotation now)
};
RefreshDecision decideRefresh(const v1::ScalingGroup& group, const std::vector<Member>& members,
                              std::int64_t targetVersion,
                              std::optional<std::int64_t> previousVersion,
                              const RefreshMemory& memory, std::int64_t desired, bool suspended,
                              Time now);

// Maximum instance lifetime (spec.maxInstanceLifetimeSeconds, 0 or absent:
// none): the current members (not Warm, not Terminating) that have existed
// longer since their creation, oldest first; replaced with
// rollingStep at instanceRefresh.minHealthyPercentage, or 90 %, and 100 %
// maximum, while the InstanceRefresh process is not suspended.
std::vector<std::string> pastLifetime(const v1::ScalingGroupSpec& spec,
                                      const std::vector<Member>& members, Time now);

}  // namespace kubec2::reconcilers
