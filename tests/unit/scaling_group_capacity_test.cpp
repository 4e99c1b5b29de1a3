// The capacity in force of a ScalingGroup (reconcilers/scalinggroup/capacity.h):
// new spec values against status.requested, the bounds in force and
// CapacityInRange, then scheduled actions: one-off and recurring, first
// seen, missed runs, suspension, time zones and daylight saving time.
// Time is a parameter: no test waits.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "reconcilers/scalinggroup/capacity.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using Time = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

// An RFC 3339 time, with any offset.
Time at(const std::string& text) {
  const auto t = kube::parseRfc3339(text);
  if (!t) throw std::invalid_argument("bad time in test: " + text);
  return Time{std::chrono::duration_cast<Time::duration>(t->utc.time_since_epoch())};
}

v1::ScalingGroup groupOf(std::int64_t minSize, std::int64_t maxSize,
                         std::optional<std::int64_t> desired = std::nullopt) {
  v1::ScalingGroup g;
  g.metadata.name = "web";
  g.metadata.namespace_ = "shop";
  g.spec.minSize = minSize;
  g.spec.maxSize = maxSize;
  g.spec.desiredCapacity = desired;
  return g;
}

// Writes a decision to status, as the controller does, so that the next
// decision reads it.
void record(v1::ScalingGroup& g, const CapacityDecision& d) {
  if (!g.status) g.status.emplace();
  g.status->minSize = d.minSize;
  g.status->maxSize = d.maxSize;
  g.status->desiredCapacity = d.desiredCapacity;
  g.status->requested = d.requested;
  g.status->scheduledActions = d.scheduledActions;
}

// A group that has run for a while: capacity `desired` in force within
// minSize..maxSize, its spec values already taken into account.
v1::ScalingGroup settled(std::int64_t minSize, std::int64_t maxSize, std::int64_t desired) {
  v1::ScalingGroup g = groupOf(minSize, maxSize, desired);
  g.status.emplace();
  g.status->minSize = minSize;
  g.status->maxSize = maxSize;
  g.status->desiredCapacity = desired;
  g.status->requested =
      v1::ScalingGroupRequested{.minSize = minSize, .maxSize = maxSize, .desiredCapacity = desired};
  return g;
}

void addAction(v1::ScalingGroup& g, v1::ScheduledAction a) {
  if (!g.spec.scheduledActions) g.spec.scheduledActions.emplace();
  g.spec.scheduledActions->push_back(std::move(a));
}

void addActionStatus(v1::ScalingGroup& g, v1::ScheduledActionStatus s) {
  if (!g.status) g.status.emplace();
  if (!g.status->scheduledActions) g.status->scheduledActions.emplace();
  g.status->scheduledActions->push_back(std::move(s));
}

const v1::ScheduledActionStatus* actionStatus(const CapacityDecision& d, const std::string& name) {
  for (const auto& s : d.scheduledActions)
    if (s.name == name) return &s;
  return nullptr;
}

const Time kNow = at("2026-06-10T12:00:00Z");

// ------------------------------------------------------------ spec requests

TEST(ScalingGroupCapacity, NewGroupStartsAtSpecDesiredCapacity) {
  const CapacityDecision d = decideCapacity(groupOf(1, 10, 4), kNow, false);
  EXPECT_EQ(d.minSize, 1);
  EXPECT_EQ(d.maxSize, 10);
  EXPECT_EQ(d.desiredCapacity, 4);
  EXPECT_EQ(d.requested,
            (v1::ScalingGroupRequested{.minSize = 1, .maxSize = 10, .desiredCapacity = 4}));
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].from, 0);
  EXPECT_EQ(d.changes[0].to, 4);
  EXPECT_EQ(d.changes[0].cause, "spec.desiredCapacity set to 4");
  EXPECT_TRUE(d.inRange);
  EXPECT_TRUE(d.problems.empty());
  EXPECT_FALSE(d.nextWakeUp);
}

TEST(ScalingGroupCapacity, WithoutSpecDesiredCapacityTheGroupStartsAtMinSize) {
  const CapacityDecision d = decideCapacity(groupOf(2, 10), kNow, false);
  EXPECT_EQ(d.desiredCapacity, 2);
  EXPECT_FALSE(d.requested.desiredCapacity);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].from, 0);
  EXPECT_EQ(d.changes[0].to, 2);
  EXPECT_EQ(d.changes[0].cause, "no spec.desiredCapacity: the group starts at minSize 2");
  EXPECT_TRUE(d.inRange);
}

TEST(ScalingGroupCapacity, NewGroupAtZeroRecordsNoChange) {
  const CapacityDecision d = decideCapacity(groupOf(0, 10), kNow, false);
  EXPECT_EQ(d.desiredCapacity, 0);
  EXPECT_TRUE(d.changes.empty());
}

TEST(ScalingGroupCapacity, NewSpecDesiredCapacityTakesEffectAtOnce) {
  v1::ScalingGroup g = settled(1, 10, 2);
  g.status->desiredCapacity = 6;  // a policy or an action moved it
  g.spec.desiredCapacity = 4;
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 4);
  EXPECT_EQ(d.requested.desiredCapacity, 4);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].from, 6);
  EXPECT_EQ(d.changes[0].to, 4);
  EXPECT_EQ(d.changes[0].cause, "spec.desiredCapacity changed from 2 to 4");
}

TEST(ScalingGroupCapacity, EqualSpecDesiredCapacityChangesNothing) {
  v1::ScalingGroup g = settled(1, 10, 2);
  g.status->desiredCapacity = 6;
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 6);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(d.requested.desiredCapacity, 2);
}

TEST(ScalingGroupCapacity, NewSpecValueEqualToTheCapacityInForceRecordsNoChange) {
  v1::ScalingGroup g = settled(1, 10, 2);
  g.status->desiredCapacity = 4;
  g.spec.desiredCapacity = 4;
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 4);
  EXPECT_EQ(d.requested.desiredCapacity, 4);
  EXPECT_TRUE(d.changes.empty());
}

TEST(ScalingGroupCapacity, ReapplyingTheManifestKeepsWhatAScheduledActionSet) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "night", .recurrence = "0 20 * * *", .desiredCapacity = 2});
  addActionStatus(g, {.name = "night", .nextTime = "2026-06-10T20:00:00Z"});
  CapacityDecision d = decideCapacity(g, at("2026-06-10T20:00:30Z"), false);
  EXPECT_EQ(d.desiredCapacity, 2);
  record(g, d);
  // Argo CD re-syncs the same manifest (desiredCapacity 6) an hour later.
  d = decideCapacity(g, at("2026-06-10T21:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 2);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_TRUE(d.inRange);
}

TEST(ScalingGroupCapacity, RemovingSpecDesiredCapacityKeepsTheCapacityInForce) {
  v1::ScalingGroup g = settled(1, 10, 4);
  g.status->desiredCapacity = 5;
  g.spec.desiredCapacity.reset();
  CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 5);
  EXPECT_FALSE(d.requested.desiredCapacity);
  EXPECT_TRUE(d.changes.empty());
  record(g, d);
  // Setting it again, even to its old value, is a new request.
  g.spec.desiredCapacity = 4;
  d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 4);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].cause, "spec.desiredCapacity set to 4");
}

TEST(ScalingGroupCapacity, LoweringMaxSizeScalesIn) {
  v1::ScalingGroup g = settled(1, 10, 5);
  g.spec.maxSize = 3;
  g.spec.desiredCapacity.reset();
  g.status->requested->desiredCapacity.reset();
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.maxSize, 3);
  EXPECT_EQ(d.desiredCapacity, 3);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].from, 5);
  EXPECT_EQ(d.changes[0].to, 3);
  EXPECT_EQ(d.changes[0].cause, "spec.maxSize lowered to 3: desired 5 -> 3");
}

TEST(ScalingGroupCapacity, RaisingMinSizeScalesOut) {
  v1::ScalingGroup g = settled(1, 10, 2);
  g.spec.minSize = 4;
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.minSize, 4);
  EXPECT_EQ(d.desiredCapacity, 4);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].cause, "spec.minSize raised to 4: desired 2 -> 4");
  // spec.desiredCapacity (2) is now below the minimum in force.
  EXPECT_FALSE(d.inRange);
  EXPECT_EQ(d.rangeMessage, "spec.desiredCapacity (2) is below the minimum in force (4)");
}

TEST(ScalingGroupCapacity, NewSpecBoundReplacesWhatAScheduledActionSet) {
  v1::ScalingGroup g = settled(1, 10, 3);
  g.status->maxSize = 3;  // an action lowered it
  g.spec.maxSize = 8;
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.maxSize, 8);
  EXPECT_EQ(d.desiredCapacity, 3);
  EXPECT_EQ(d.requested.maxSize, 8);
}

TEST(ScalingGroupCapacity, EqualSpecBoundKeepsWhatAScheduledActionSet) {
  v1::ScalingGroup g = settled(1, 10, 3);
  g.status->maxSize = 3;
  g.status->minSize = 3;
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.minSize, 3);
  EXPECT_EQ(d.maxSize, 3);
  EXPECT_EQ(d.desiredCapacity, 3);
  EXPECT_TRUE(d.changes.empty());
}

TEST(ScalingGroupCapacity, NewDesiredCapacityIsClampedToTheBoundsInForce) {
  v1::ScalingGroup g = settled(1, 10, 2);
  g.status->maxSize = 3;  // a scheduled action's maximum
  g.spec.desiredCapacity = 8;
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 3);
  EXPECT_EQ(d.requested.desiredCapacity, 8);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].from, 2);
  EXPECT_EQ(d.changes[0].to, 3);
  EXPECT_EQ(d.changes[0].cause, "spec.desiredCapacity changed from 2 to 8, clamped to maxSize 3");
  EXPECT_FALSE(d.inRange);
  EXPECT_EQ(d.rangeMessage, "spec.desiredCapacity (8) is above the maximum in force (3)");
}

TEST(ScalingGroupCapacity, CapacityInRangeWhileSpecDesiredCapacityIsWithinOrAbsent) {
  EXPECT_TRUE(decideCapacity(settled(1, 10, 10), kNow, false).inRange);
  EXPECT_TRUE(decideCapacity(settled(1, 10, 1), kNow, false).inRange);
  const CapacityDecision d = decideCapacity(groupOf(1, 10), kNow, false);
  EXPECT_TRUE(d.inRange);
  EXPECT_EQ(d.rangeMessage, "");
}

TEST(ScalingGroupCapacity, SpecMinSizeRaisedAboveAnActionsMaximumRaisesIt) {
  v1::ScalingGroup g = settled(1, 10, 3);
  g.status->maxSize = 3;  // an action's maximum
  g.spec.minSize = 5;     // the user's newer minimum wins
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.minSize, 5);
  EXPECT_EQ(d.maxSize, 5);
  EXPECT_EQ(d.desiredCapacity, 5);
}

// --------------------------------------------------------- scheduled actions

TEST(ScheduledActions, OneOffRunsAtItsStartTime) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "sale", .startTime = "2026-06-10T14:00:00Z", .desiredCapacity = 9});
  // Seen first before its time: scheduled, not run.
  CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 6);
  ASSERT_EQ(d.scheduledActions.size(), 1u);
  EXPECT_EQ(d.scheduledActions[0].name, "sale");
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-10T14:00:00Z");
  EXPECT_FALSE(d.scheduledActions[0].lastTime);
  EXPECT_EQ(d.nextWakeUp, at("2026-06-10T14:00:00Z"));
  record(g, d);

  d = decideCapacity(g, at("2026-06-10T13:59:59Z"), false);
  EXPECT_EQ(d.desiredCapacity, 6);
  EXPECT_TRUE(d.changes.empty());

  d = decideCapacity(g, at("2026-06-10T14:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 9);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].from, 6);
  EXPECT_EQ(d.changes[0].to, 9);
  EXPECT_EQ(d.changes[0].cause, "scheduled action sale: desired 6 -> 9");
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-06-10T14:00:00Z");
  EXPECT_FALSE(d.scheduledActions[0].nextTime);
  EXPECT_FALSE(d.nextWakeUp);
  record(g, d);

  // Never again.
  d = decideCapacity(g, at("2026-06-11T14:00:00Z"), false);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-06-10T14:00:00Z");
}

TEST(ScheduledActions, OneOffSeenFirstAfterItsStartTimeRunsAtOnce) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "sale", .startTime = "2026-06-10T08:00:00+02:00", .desiredCapacity = 9});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 9);
  ASSERT_EQ(d.scheduledActions.size(), 1u);
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-06-10T06:00:00Z");
  EXPECT_FALSE(d.scheduledActions[0].nextTime);
}

TEST(ScheduledActions, RecurringSeenFirstWaitsForItsNextTime) {
  v1::ScalingGroup g = settled(1, 10, 6);
  // 08:00 today has passed: it does not run now.
  addAction(g, {.name = "morning", .recurrence = "0 8 * * *", .desiredCapacity = 9});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 6);
  EXPECT_TRUE(d.changes.empty());
  ASSERT_EQ(d.scheduledActions.size(), 1u);
  EXPECT_FALSE(d.scheduledActions[0].lastTime);
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-11T08:00:00Z");
  EXPECT_EQ(d.nextWakeUp, at("2026-06-11T08:00:00Z"));
}

TEST(ScheduledActions, RecurringRunsWhenItsTimeComesAndMovesOn) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "night", .recurrence = "0 20 * * *", .desiredCapacity = 2});
  addActionStatus(g, {.name = "night", .nextTime = "2026-06-10T20:00:00Z"});
  CapacityDecision d = decideCapacity(g, at("2026-06-10T19:59:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 6);
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-10T20:00:00Z");

  d = decideCapacity(g, at("2026-06-10T20:00:05Z"), false);
  EXPECT_EQ(d.desiredCapacity, 2);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].cause, "scheduled action night: desired 6 -> 2");
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-06-10T20:00:00Z");
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-11T20:00:00Z");
  EXPECT_EQ(d.nextWakeUp, at("2026-06-11T20:00:00Z"));
}

TEST(ScheduledActions, ActionBoundsStayInForceAndClampTheCapacity) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "night", .recurrence = "0 20 * * *", .maxSize = 2});
  addActionStatus(g, {.name = "night", .nextTime = "2026-06-10T20:00:00Z"});
  CapacityDecision d = decideCapacity(g, at("2026-06-10T20:00:00Z"), false);
  EXPECT_EQ(d.minSize, 1);
  EXPECT_EQ(d.maxSize, 2);
  EXPECT_EQ(d.desiredCapacity, 2);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].cause, "scheduled action night: desired 6 -> 2");
  // spec.desiredCapacity (6) now lies above the maximum in force.
  EXPECT_FALSE(d.inRange);
  EXPECT_EQ(d.rangeMessage, "spec.desiredCapacity (6) is above the maximum in force (2)");
  record(g, d);
  d = decideCapacity(g, at("2026-06-10T23:00:00Z"), false);
  EXPECT_EQ(d.maxSize, 2);
  EXPECT_EQ(d.desiredCapacity, 2);
}

TEST(ScheduledActions, ActionMaximumBelowTheMinimumInForceLowersIt) {
  v1::ScalingGroup g = settled(4, 10, 6);
  addAction(g, {.name = "night", .startTime = "2026-06-10T11:00:00Z", .maxSize = 2});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.minSize, 2);
  EXPECT_EQ(d.maxSize, 2);
  EXPECT_EQ(d.desiredCapacity, 2);
}

TEST(ScheduledActions, RecurrenceBeginsAtStartTime) {
  const v1::ScheduledAction a{.name = "morning",
                              .recurrence = "0 8 * * *",
                              .startTime = "2026-07-01T08:00:00Z",
                              .desiredCapacity = 9};
  // Before startTime: its first time is startTime itself (included).
  EXPECT_EQ(nextRun(a, kNow), at("2026-07-01T08:00:00Z"));
  EXPECT_EQ(nextRun(a, at("2026-07-01T08:00:00Z")), at("2026-07-02T08:00:00Z"));
  const v1::ScheduledAction b{.name = "morning",
                              .recurrence = "0 8 * * *",
                              .startTime = "2026-07-01T08:00:01Z",
                              .desiredCapacity = 9};
  EXPECT_EQ(nextRun(b, kNow), at("2026-07-02T08:00:00Z"));

  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, a);
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-07-01T08:00:00Z");
}

TEST(ScheduledActions, RecurrenceEndsAtEndTime) {
  const v1::ScheduledAction a{.name = "morning",
                              .recurrence = "0 8 * * *",
                              .endTime = "2026-06-12T08:00:00Z",
                              .desiredCapacity = 9};
  EXPECT_EQ(nextRun(a, kNow), at("2026-06-11T08:00:00Z"));
  EXPECT_EQ(nextRun(a, at("2026-06-11T08:00:00Z")), std::nullopt);  // endTime excluded

  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, a);
  addActionStatus(g, {.name = "morning", .nextTime = "2026-06-11T08:00:00Z"});
  const CapacityDecision d = decideCapacity(g, at("2026-06-11T09:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 9);
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-06-11T08:00:00Z");
  EXPECT_FALSE(d.scheduledActions[0].nextTime);
  EXPECT_FALSE(d.nextWakeUp);
}

TEST(ScheduledActions, MissedRunsRunOnce) {
  // The operator was down for three days: the daily action runs once, for
  // the latest of its times, and waits for tomorrow.
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "night", .recurrence = "0 20 * * *", .desiredCapacity = 2});
  addActionStatus(
      g, {.name = "night", .lastTime = "2026-06-06T20:00:00Z", .nextTime = "2026-06-07T20:00:00Z"});
  const CapacityDecision d = decideCapacity(g, at("2026-06-10T21:30:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 2);
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-06-10T20:00:00Z");
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-11T20:00:00Z");
}

TEST(ScheduledActions, MissedRunsOfTwoActionsRunInTheOrderOfTheirLatestTimes) {
  v1::ScalingGroup g = settled(1, 10, 4);
  addAction(g, {.name = "morning", .recurrence = "0 8 * * *", .desiredCapacity = 6});
  addAction(g, {.name = "night", .recurrence = "0 20 * * *", .desiredCapacity = 2});
  addActionStatus(g, {.name = "morning", .nextTime = "2026-06-08T08:00:00Z"});
  addActionStatus(g, {.name = "night", .nextTime = "2026-06-07T20:00:00Z"});
  // Back at 22:00: the night's 20:00 came after the morning's 08:00.
  CapacityDecision d = decideCapacity(g, at("2026-06-10T22:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 2);
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].cause, "scheduled action morning: desired 4 -> 6");
  EXPECT_EQ(d.changes[1].cause, "scheduled action night: desired 6 -> 2");
  // Back at noon: the morning's came last.
  d = decideCapacity(g, at("2026-06-10T12:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 6);
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].cause, "scheduled action night: desired 4 -> 2");
  EXPECT_EQ(d.changes[1].cause, "scheduled action morning: desired 2 -> 6");
}

TEST(ScheduledActions, DueActionsRunInTheOrderOfTheirTimes) {
  v1::ScalingGroup g = settled(1, 10, 4);
  // Listed latest first; they run earliest first, and the latest wins.
  addAction(g, {.name = "second", .startTime = "2026-06-10T11:00:00Z", .desiredCapacity = 3});
  addAction(g, {.name = "first", .startTime = "2026-06-10T10:00:00Z", .desiredCapacity = 8});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 3);
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].cause, "scheduled action first: desired 4 -> 8");
  EXPECT_EQ(d.changes[1].cause, "scheduled action second: desired 8 -> 3");
  // Status follows spec's order.
  ASSERT_EQ(d.scheduledActions.size(), 2u);
  EXPECT_EQ(d.scheduledActions[0].name, "second");
  EXPECT_EQ(d.scheduledActions[1].name, "first");
}

TEST(ScheduledActions, SpecRequestComesBeforeDueActions) {
  v1::ScalingGroup g = settled(1, 10, 4);
  g.spec.desiredCapacity = 7;
  addAction(g, {.name = "night", .startTime = "2026-06-10T11:00:00Z", .desiredCapacity = 2});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 2);
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].cause, "spec.desiredCapacity changed from 4 to 7");
  EXPECT_EQ(d.changes[1].cause, "scheduled action night: desired 7 -> 2");
}

TEST(ScheduledActions, SuspendedActionsMoveOnWithoutRunning) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "night", .recurrence = "0 20 * * *", .desiredCapacity = 2});
  addActionStatus(
      g, {.name = "night", .lastTime = "2026-06-09T20:00:00Z", .nextTime = "2026-06-10T20:00:00Z"});
  CapacityDecision d = decideCapacity(g, at("2026-06-10T20:30:00Z"), true);
  EXPECT_EQ(d.desiredCapacity, 6);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-06-09T20:00:00Z");
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-11T20:00:00Z");
  EXPECT_EQ(d.nextWakeUp, at("2026-06-11T20:00:00Z"));
  record(g, d);
  // Resumed before the next time: the missed run is not run later.
  d = decideCapacity(g, at("2026-06-10T21:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 6);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-11T20:00:00Z");
}

TEST(ScheduledActions, SuspendedOneOffSeenAfterItsTimeNeverRuns) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "sale", .startTime = "2026-06-10T11:00:00Z", .desiredCapacity = 9});
  CapacityDecision d = decideCapacity(g, kNow, true);
  EXPECT_EQ(d.desiredCapacity, 6);
  ASSERT_EQ(d.scheduledActions.size(), 1u);
  EXPECT_FALSE(d.scheduledActions[0].lastTime);
  EXPECT_FALSE(d.scheduledActions[0].nextTime);
  record(g, d);
  d = decideCapacity(g, at("2026-06-10T13:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 6);
}

TEST(ScheduledActions, SpecRequestsStillTakeEffectWhileActionsAreSuspended) {
  v1::ScalingGroup g = settled(1, 10, 6);
  g.spec.desiredCapacity = 3;
  const CapacityDecision d = decideCapacity(g, kNow, true);
  EXPECT_EQ(d.desiredCapacity, 3);
}

TEST(ScheduledActions, EditedActionIsRescheduled) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "night", .recurrence = "0 22 * * *", .desiredCapacity = 2});
  addActionStatus(g, {.name = "night", .nextTime = "2026-06-10T20:00:00Z"});  // was 0 20
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-10T22:00:00Z");
}

TEST(ScheduledActions, EditedActionThatHasNoTimeSinceItsNextTimeDoesNotRun) {
  v1::ScalingGroup g = settled(1, 10, 6);
  // nextTime was 11:00; the user moved the one-off to 15:00 and the
  // recurring one from 11:00 to 13:00 before the operator saw it.
  addAction(g, {.name = "sale", .startTime = "2026-06-10T15:00:00Z", .desiredCapacity = 9});
  addAction(g, {.name = "lunch", .recurrence = "0 13 * * *", .desiredCapacity = 8});
  addActionStatus(g, {.name = "sale", .nextTime = "2026-06-10T11:00:00Z"});
  addActionStatus(g, {.name = "lunch", .nextTime = "2026-06-10T11:00:00Z"});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 6);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(actionStatus(d, "sale")->nextTime, "2026-06-10T15:00:00Z");
  EXPECT_EQ(actionStatus(d, "lunch")->nextTime, "2026-06-10T13:00:00Z");
  EXPECT_FALSE(actionStatus(d, "lunch")->lastTime);
}

TEST(ScheduledActions, RemovedActionLeavesStatus) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addActionStatus(g, {.name = "gone", .nextTime = "2026-06-10T11:00:00Z"});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_TRUE(d.scheduledActions.empty());
  EXPECT_EQ(d.desiredCapacity, 6);
}

TEST(ScheduledActions, UnknownTimeZoneIsAProblemNotAnException) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "mars",
                .recurrence = "0 8 * * *",
                .timeZone = "Mars/Olympus_Mons",
                .desiredCapacity = 2});
  addAction(g, {.name = "known",
                .recurrence = "0 8 * * *",
                .timeZone = "Europe/Paris",
                .desiredCapacity = 2});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  ASSERT_EQ(d.problems.size(), 1u);
  EXPECT_EQ(d.problems[0],
            "scheduled action mars: time zone \"Mars/Olympus_Mons\" is not in the time zone "
            "database");
  // A new action that cannot be read gets no status entry (it stays new).
  ASSERT_EQ(d.scheduledActions.size(), 1u);
  EXPECT_EQ(d.scheduledActions[0].name, "known");
  EXPECT_EQ(d.nextWakeUp, at("2026-06-11T06:00:00Z"));
  EXPECT_THROW((void)nextRun((*g.spec.scheduledActions)[0], kNow), std::invalid_argument);
}

TEST(ScheduledActions, ActionThatCannotBeReadKeepsItsStatusAndDoesNotRun) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "night", .recurrence = "0 25 * * *", .desiredCapacity = 2});
  addActionStatus(
      g, {.name = "night", .lastTime = "2026-06-09T20:00:00Z", .nextTime = "2026-06-10T11:00:00Z"});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.desiredCapacity, 6);
  ASSERT_EQ(d.problems.size(), 1u);
  EXPECT_NE(d.problems[0].find("scheduled action night: recurrence \"0 25 * * *\""),
            std::string::npos)
      << d.problems[0];
  ASSERT_EQ(d.scheduledActions.size(), 1u);
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-06-10T11:00:00Z");
  EXPECT_FALSE(d.nextWakeUp);
}

TEST(ScheduledActions, TimeZoneDefaultsToUtc) {
  const v1::ScheduledAction a{.name = "a", .recurrence = "30 8 * * *", .desiredCapacity = 1};
  EXPECT_EQ(nextRun(a, kNow), at("2026-06-11T08:30:00Z"));
}

TEST(ScheduledActions, RecurrenceFollowsTheTimeZone) {
  const v1::ScheduledAction a{
      .name = "a", .recurrence = "0 8 * * 1-5", .timeZone = "Europe/Paris", .desiredCapacity = 1};
  // Wednesday 10 June 2026, 14:00 in Paris (CEST): next is Thursday 08:00 CEST.
  EXPECT_EQ(nextRun(a, kNow), at("2026-06-11T06:00:00Z"));
  // Friday 12 June after 08:00: Monday 15 June.
  EXPECT_EQ(nextRun(a, at("2026-06-12T06:00:00Z")), at("2026-06-15T06:00:00Z"));
  // In winter (CET) the same wall-clock time is an hour later in UTC.
  EXPECT_EQ(nextRun(a, at("2026-12-01T12:00:00Z")), at("2026-12-02T07:00:00Z"));
}

TEST(ScheduledActions, ParisSpringForwardRunsAtTheFirstInstantAfterTheGap) {
  // 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
  const v1::ScheduledAction a{
      .name = "a", .recurrence = "30 2 * * *", .timeZone = "Europe/Paris", .desiredCapacity = 1};
  EXPECT_EQ(nextRun(a, at("2026-03-28T12:00:00Z")), at("2026-03-29T01:00:00Z"));  // 03:00 CEST
  EXPECT_EQ(nextRun(a, at("2026-03-29T01:00:00Z")), at("2026-03-30T00:30:00Z"));  // 02:30 CEST
  // The day before, 02:30 CET.
  EXPECT_EQ(nextRun(a, at("2026-03-27T12:00:00Z")), at("2026-03-28T01:30:00Z"));

  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, a);
  addActionStatus(g, {.name = "a", .nextTime = "2026-03-29T01:00:00Z"});
  const CapacityDecision d = decideCapacity(g, at("2026-03-29T01:00:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 1);
  EXPECT_EQ(d.scheduledActions[0].lastTime, "2026-03-29T01:00:00Z");
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-03-30T00:30:00Z");
}

TEST(ScheduledActions, ParisFallBackRunsOnceAtTheFirstOccurrence) {
  // 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 occurs twice,
  // at 00:30Z and at 01:30Z.
  const v1::ScheduledAction a{
      .name = "a", .recurrence = "30 2 * * *", .timeZone = "Europe/Paris", .desiredCapacity = 1};
  EXPECT_EQ(nextRun(a, at("2026-10-24T12:00:00Z")), at("2026-10-25T00:30:00Z"));
  EXPECT_EQ(nextRun(a, at("2026-10-25T00:30:00Z")), at("2026-10-26T01:30:00Z"));  // 02:30 CET
  // From within the repeated hour too, the second 02:30 is passed over.
  EXPECT_EQ(nextRun(a, at("2026-10-25T01:15:00Z")), at("2026-10-26T01:30:00Z"));

  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, a);
  addActionStatus(g, {.name = "a", .nextTime = "2026-10-25T00:30:00Z"});
  CapacityDecision d = decideCapacity(g, at("2026-10-25T00:30:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 1);
  EXPECT_EQ(d.scheduledActions[0].nextTime, "2026-10-26T01:30:00Z");
  record(g, d);
  g.status->desiredCapacity = 6;  // something else moved it meanwhile
  d = decideCapacity(g, at("2026-10-25T01:30:00Z"), false);
  EXPECT_EQ(d.desiredCapacity, 6);  // not run again at the second 02:30
  EXPECT_TRUE(d.changes.empty());
}

TEST(ScheduledActions, EveryHalfHourAcrossFallBackRunsEachWallClockTimeOnce) {
  const v1::ScheduledAction a{
      .name = "a", .recurrence = "*/30 * * * *", .timeZone = "Europe/Paris", .desiredCapacity = 1};
  // 02:00 CEST (00:00Z), 02:30 CEST (00:30Z), then 03:00 CET (02:00Z): the
  // repeated 02:00 and 02:30 CET are not run again.
  EXPECT_EQ(nextRun(a, at("2026-10-25T00:00:00Z")), at("2026-10-25T00:30:00Z"));
  EXPECT_EQ(nextRun(a, at("2026-10-25T00:30:00Z")), at("2026-10-25T02:00:00Z"));
}

TEST(ScheduledActions, EveryHalfHourAcrossSpringForwardRunsOnceAfterTheGap) {
  const v1::ScheduledAction a{
      .name = "a", .recurrence = "*/30 * * * *", .timeZone = "Europe/Paris", .desiredCapacity = 1};
  // 01:30 CET (00:30Z); 02:00 and 02:30 do not exist and 03:00 CEST is the
  // same instant (01:00Z): one run; then 03:30 CEST (01:30Z).
  EXPECT_EQ(nextRun(a, at("2026-03-29T00:00:00Z")), at("2026-03-29T00:30:00Z"));
  EXPECT_EQ(nextRun(a, at("2026-03-29T00:30:00Z")), at("2026-03-29T01:00:00Z"));
  EXPECT_EQ(nextRun(a, at("2026-03-29T01:00:00Z")), at("2026-03-29T01:30:00Z"));
}

TEST(ScheduledActions, NewYorkSpringForwardAndFallBack) {
  // 8 March 2026: 02:00 EST becomes 03:00 EDT.
  const v1::ScheduledAction spring{.name = "a",
                                   .recurrence = "30 2 * * *",
                                   .timeZone = "America/New_York",
                                   .desiredCapacity = 1};
  EXPECT_EQ(nextRun(spring, at("2026-03-07T12:00:00Z")), at("2026-03-08T07:00:00Z"));  // 03:00 EDT
  EXPECT_EQ(nextRun(spring, at("2026-03-08T07:00:00Z")), at("2026-03-09T06:30:00Z"));  // 02:30 EDT
  // 1 November 2026: 02:00 EDT becomes 01:00 EST; 01:30 occurs twice, at
  // 05:30Z and at 06:30Z.
  const v1::ScheduledAction fall{.name = "a",
                                 .recurrence = "30 1 * * *",
                                 .timeZone = "America/New_York",
                                 .desiredCapacity = 1};
  EXPECT_EQ(nextRun(fall, at("2026-10-31T12:00:00Z")), at("2026-11-01T05:30:00Z"));  // EDT
  EXPECT_EQ(nextRun(fall, at("2026-11-01T05:30:00Z")), at("2026-11-02T06:30:00Z"));  // EST
  EXPECT_EQ(nextRun(fall, at("2026-11-01T06:00:00Z")), at("2026-11-02T06:30:00Z"));
}

TEST(ScheduledActions, NextWakeUpIsTheEarliestNextTime) {
  v1::ScalingGroup g = settled(1, 10, 6);
  addAction(g, {.name = "late", .recurrence = "0 22 * * *", .desiredCapacity = 2});
  addAction(g, {.name = "soon", .recurrence = "0 13 * * *", .desiredCapacity = 8});
  addAction(g, {.name = "done", .startTime = "2026-06-01T00:00:00Z", .desiredCapacity = 3});
  addActionStatus(g, {.name = "done", .lastTime = "2026-06-01T00:00:00Z"});
  const CapacityDecision d = decideCapacity(g, kNow, false);
  EXPECT_EQ(d.nextWakeUp, at("2026-06-10T13:00:00Z"));
  EXPECT_EQ(d.desiredCapacity, 6);  // "done" ran before and does not again
  EXPECT_FALSE(actionStatus(d, "done")->nextTime);
  EXPECT_EQ(actionStatus(d, "late")->nextTime, "2026-06-10T22:00:00Z");
  EXPECT_EQ(actionStatus(d, "soon")->nextTime, "2026-06-10T13:00:00Z");
}

TEST(ScheduledActions, OneOffWithATimeZoneRunsAtItsStartTimeAsWritten) {
  const v1::ScheduledAction a{.name = "a",
                              .timeZone = "America/New_York",
                              .startTime = "2026-06-10T14:00:00-04:00",
                              .desiredCapacity = 1};
  EXPECT_EQ(nextRun(a, kNow), at("2026-06-10T18:00:00Z"));
  EXPECT_EQ(nextRun(a, at("2026-06-10T18:00:00Z")), std::nullopt);
}

}  // namespace
}  // namespace kubec2::reconcilers
