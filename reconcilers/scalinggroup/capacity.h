// The capacity in force of a ScalingGroup: status.minSize, maxSize and
// desiredCapacity, moved by new spec values and by scheduled actions, as
// docs/scaling-group-capacity.md says (scaling policies come with the next
// issue and move desiredCapacity through the same door). Pure.
//
// Rules:
//  - A spec value that differs from status.requested is a new request and
//    takes effect at once (EC2's SetDesiredCapacity / UpdateAutoScalingGroup);
//    an equal one changes nothing, so re-applying a manifest does not undo
//    what scheduled actions or policies set.
//  - Without spec.desiredCapacity the group starts at minSize.
//  - desiredCapacity is clamped to the bounds in force after every change;
//    CapacityInRange is False while spec.desiredCapacity lies outside them.
//    When a new bound would cross the other one in force (spec.minSize
//    raised above a maximum a scheduled action set, or an action setting
//    only maxSize below the minimum in force), the bound set last wins and
//    moves the other one to it: such an update is never refused.
//  - Scheduled actions (EC2's PutScheduledUpdateGroupAction): a five-field
//    cron expression in an IANA time zone (api/cron.h for the fields; the
//    zone's rules, daylight saving included, from the system's tz database
//    through Howard Hinnant's date library; absent: UTC), or one-off at
//    startTime (to the second); a recurring action runs at the times of
//    its recurrence from startTime (absent: now; included) until endTime
//    (excluded).
//    status.scheduledActions[].nextTime records when each action runs next;
//    it runs when that time has come, once however many runs were missed
//    (the operator was down), and lastTime records the run it stood for:
//    the latest of its times that has come. An edited action takes effect
//    at once: a nextTime still ahead is recomputed from spec, and one that
//    has come runs only when the action as spec now has it has a time
//    between it and now. An action seen for the first time (no status
//    entry) is scheduled from now: a recurring one waits for its next time,
//    a one-off one whose startTime has passed runs at once. Actions run in
//    the order of their times (lastTime; spec order for equal times). With
//    ScheduledActions suspended none runs and nextTime moves on: missed
//    runs are not run later.
//  - An action that cannot be read keeps its status entry as it was (none
//    when it had none, so it is still new once readable), does not run and
//    does not count for nextWakeUp.
//  - At a DST change a wall-clock time that does not exist (spring forward)
//    runs at the first instant after the gap; one that occurs twice (fall
//    back) runs once, at its first occurrence (as cron(8) does).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

struct CapacityChange {
  std::int64_t from = 0;
  std::int64_t to = 0;
  std::string cause;  // in words: "scheduled action night: desired 6 -> 2"
};

struct CapacityDecision {
  std::int64_t minSize = 0;
  std::int64_t maxSize = 0;
  std::int64_t desiredCapacity = 0;
  v1::ScalingGroupRequested requested;  // what spec said, now taken into account
  // Each change of the capacity in force, in the order it happened (a new
  // spec value, then scheduled actions by time), for activities.
  std::vector<CapacityChange> changes;
  // status.scheduledActions: lastTime and nextTime of every action.
  std::vector<v1::ScheduledActionStatus> scheduledActions;
  // When the next scheduled action is due (to requeue then); nullopt when none.
  std::optional<std::chrono::system_clock::time_point> nextWakeUp;
  bool inRange = true;       // spec.desiredCapacity within the bounds in force (or absent)
  std::string rangeMessage;  // why not, in words
  // An action that cannot be read (a time zone the database lacks): named
  // here, not run, never thrown.
  std::vector<std::string> problems;
};

// The capacity in force of `group` at `now`, from its spec and its status
// as last written. `scheduledActionsSuspended`: the ScheduledActions process.
CapacityDecision decideCapacity(const v1::ScalingGroup& group,
                                std::chrono::system_clock::time_point now,
                                bool scheduledActionsSuspended);

// When an action runs next strictly after `after`, by its recurrence (or
// startTime for a one-off) in its time zone; nullopt when it will not run
// again. Throws std::invalid_argument for a recurrence or time zone that
// cannot be read (decideCapacity reports those as problems instead).
std::optional<std::chrono::system_clock::time_point> nextRun(
    const v1::ScheduledAction& action, std::chrono::system_clock::time_point after);

// The same for a bare recurrence in a time zone (IANA name), as a
// snapshot schedule has: the first time strictly after `after`. Throws
// std::invalid_argument for a recurrence or time zone that cannot be read.
std::optional<std::chrono::system_clock::time_point> nextRecurrence(
    const std::string& recurrence, const std::string& timeZone,
    std::chrono::system_clock::time_point after);

// The latest time of that recurrence at or after `first` and at or before
// `now` (times missed give the last of them, found by bisection however
// many there are); nullopt when none is. Throws as nextRecurrence.
std::optional<std::chrono::system_clock::time_point> latestRecurrence(
    const std::string& recurrence, const std::string& timeZone,
    std::chrono::system_clock::time_point first, std::chrono::system_clock::time_point now);

}  // namespace kubec2::reconcilers
