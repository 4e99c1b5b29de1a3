// Replacing a ScalingGroup's instances without dropping service
// (reconcilers/scalinggroup/replacement.h): the rolling step against the
// healthy percentages, instance refresh from start to end, and the maximum
// instance lifetime. Members are built directly; time is a parameter.
#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reconcilers/scalinggroup/replacement.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using namespace std::chrono_literals;

const Time kNow = std::chrono::system_clock::from_time_t(1800000000);
constexpr const char* kRefreshAnnotation = "compute.kubec2.io/instance-refresh";

// A group's instances as members; owns the Instances members point at.
struct Fleet {
  std::deque<v1::Instance> instances;
  std::vector<Member> members;

  Member& add(const std::string& name, std::int64_t version, Lifecycle lifecycle, Time created,
              std::optional<Time> inServiceSince = std::nullopt) {
    v1::Instance& inst = instances.emplace_back();
    inst.metadata.name = name;
    Member m;
    m.instance = &inst;
    m.name = name;
    m.uid = "uid-" + name;
    m.launchTemplateVersion = version;
    m.created = created;
    m.lifecycle = lifecycle;
    m.warm = lifecycle == Lifecycle::Warm;
    m.inServiceSince = lifecycle == Lifecycle::InService && !inServiceSince
                           ? std::optional<Time>(created + 60s)
                           : inServiceSince;
    members.push_back(m);
    return members.back();
  }
  // `n` instances web-0.. of `version`, in service since long ago.
  void serving(int n, std::int64_t version, Time created = kNow - 24h) {
    for (int i = 0; i < n; ++i)
      add("web-" + std::to_string(i), version, Lifecycle::InService,
          created + std::chrono::seconds(i));
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& m : members) out.push_back(m.name);
    return out;
  }
};

v1::ScalingGroup groupWithRefresh() {
  v1::ScalingGroup g;
  g.metadata.name = "web";
  g.metadata.namespace_ = "shop";
  g.spec.minSize = 0;
  g.spec.maxSize = 20;
  g.spec.launchTemplateRef.name = "web";
  g.spec.instanceRefresh = v1::ScalingGroupInstanceRefresh{};
  g.spec.instanceRefresh->instanceWarmupSeconds = 120;
  return g;
}

bool contains(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(),
                     [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

// ------------------------------------------------------------ rolling step

TEST(ScalingGroupRolling, AtMinAndMax100ReplacesOneAtATimeTerminatingFirst) {
  Fleet f;
  f.serving(4, 2);
  const auto all = f.names();
  RollingStep s = rollingStep(f.members, all, 4, 100, 100, 120s, kNow);
  EXPECT_EQ(s.terminate, std::vector<std::string>{"web-0"});
  EXPECT_EQ(s.extraLaunches, 0);

  // web-0 gone, its successor launching: nothing more until it is in
  // service and warmed up.
  f.members.erase(f.members.begin());
  f.add("web-new", 3, Lifecycle::Pending, kNow);
  s = rollingStep(f.members, {"web-1", "web-2", "web-3"}, 4, 100, 100, 120s, kNow + 30s);
  EXPECT_TRUE(s.terminate.empty());
  EXPECT_FALSE(s.wakeUp);  // only its coming into service (an event) moves it on

  f.members.back().lifecycle = Lifecycle::InService;
  f.members.back().inServiceSince = kNow + 60s;
  s = rollingStep(f.members, {"web-1", "web-2", "web-3"}, 4, 100, 100, 120s, kNow + 90s);
  EXPECT_TRUE(s.terminate.empty());
  ASSERT_TRUE(s.wakeUp);
  EXPECT_EQ(*s.wakeUp, kNow + 180s);

  s = rollingStep(f.members, {"web-1", "web-2", "web-3"}, 4, 100, 100, 120s, kNow + 180s);
  EXPECT_EQ(s.terminate, std::vector<std::string>{"web-1"});
}

TEST(ScalingGroupRolling, GroupOfOneMakesProgress) {
  Fleet f;
  f.serving(1, 2);
  const RollingStep s = rollingStep(f.members, {"web-0"}, 1, 100, 100, 120s, kNow);
  EXPECT_EQ(s.terminate, std::vector<std::string>{"web-0"});
}

TEST(ScalingGroupRolling, AtMin90Max110ReplacesTheSpreadAtATime) {
  Fleet f;
  f.serving(10, 2);
  const RollingStep s = rollingStep(f.members, f.names(), 10, 90, 110, 120s, kNow);
  EXPECT_EQ(s.terminate, std::vector<std::string>{"web-0"});  // 10 -> 9 healthy, the minimum
  EXPECT_EQ(s.extraLaunches, 1);                              // 9 + 2 launched = 11, the maximum
}

TEST(ScalingGroupRolling, AtMin50HalfGoesAtOnce) {
  Fleet f;
  f.serving(4, 2);
  const RollingStep s = rollingStep(f.members, f.names(), 4, 50, 100, 120s, kNow);
  EXPECT_EQ(s.terminate, (std::vector<std::string>{"web-0", "web-1"}));
  EXPECT_EQ(s.extraLaunches, 0);
}

TEST(ScalingGroupRolling, AtMax200LaunchesFirst) {
  Fleet f;
  f.serving(4, 2);
  const auto old = f.names();
  RollingStep s = rollingStep(f.members, old, 4, 100, 200, 120s, kNow);
  EXPECT_TRUE(s.terminate.empty());
  EXPECT_EQ(s.extraLaunches, 4);

  // Two successors warmed up, two still launching: two old ones may go.
  f.add("new-0", 3, Lifecycle::InService, kNow - 10min, kNow - 5min);
  f.add("new-1", 3, Lifecycle::InService, kNow - 10min, kNow - 5min);
  f.add("new-2", 3, Lifecycle::Pending, kNow - 10s);
  f.add("new-3", 3, Lifecycle::Pending, kNow - 10s);
  s = rollingStep(f.members, old, 4, 100, 200, 120s, kNow);
  EXPECT_EQ(s.terminate, (std::vector<std::string>{"web-0", "web-1"}));
  EXPECT_EQ(s.extraLaunches, 2);  // one per old instance left
}

TEST(ScalingGroupRolling, WarmupGatesTheOldInstances) {
  Fleet f;
  f.serving(2, 2);
  f.add("new-0", 3, Lifecycle::InService, kNow - 70s, kNow - 10s);
  f.add("new-1", 3, Lifecycle::InService, kNow - 70s, kNow - 30s);
  const RollingStep s = rollingStep(f.members, {"web-0", "web-1"}, 2, 100, 200, 60s, kNow);
  EXPECT_TRUE(s.terminate.empty());
  ASSERT_TRUE(s.wakeUp);
  EXPECT_EQ(*s.wakeUp, kNow + 30s);  // new-1's warmup ends first
  const RollingStep later =
      rollingStep(f.members, {"web-0", "web-1"}, 2, 100, 200, 60s, kNow + 50s);
  EXPECT_EQ(later.terminate, (std::vector<std::string>{"web-0", "web-1"}));
}

// A refresh started just after the group launched: every old instance is in
// service but still warming up. They serve, so none goes until it has
// warmed up (found in the integration test: all four went at once).
TEST(ScalingGroupRolling, OldInstancesStillWarmingUpWaitForTheirWarmup) {
  Fleet f;
  for (int i = 0; i < 4; ++i)
    f.add("web-" + std::to_string(i), 1, Lifecycle::InService, kNow - 5s, kNow - 1s);
  const std::vector<std::string> all = {"web-0", "web-1", "web-2", "web-3"};
  const RollingStep s = rollingStep(f.members, all, 4, 75, 100, 60s, kNow);
  EXPECT_TRUE(s.terminate.empty());
  ASSERT_TRUE(s.wakeUp);
  EXPECT_EQ(*s.wakeUp, kNow + 59s);
  const RollingStep later = rollingStep(f.members, all, 4, 75, 100, 60s, kNow + 60s);
  EXPECT_EQ(later.terminate.size(), 1u) << "then one at a time, 75 % of 4 staying";
}

TEST(ScalingGroupRolling, OldInstancesNotInServiceGoFirstAndNeedNoRoom) {
  Fleet f;
  f.serving(2, 2);
  f.add("sick", 2, Lifecycle::Unhealthy, kNow - 1h);
  f.add("booting", 2, Lifecycle::Pending, kNow - 1min);
  f.add("new-0", 3, Lifecycle::Pending, kNow - 1min);
  const RollingStep s =
      rollingStep(f.members, {"web-0", "web-1", "booting", "sick"}, 4, 100, 100, 120s, kNow);
  // The in-service ones wait: the minimum is 4 and only 2 are healthy.
  EXPECT_EQ(s.terminate, (std::vector<std::string>{"sick", "booting"}));
}

TEST(ScalingGroupRolling, WarmAndTerminatingMembersAreNeverChosen) {
  Fleet f;
  f.serving(2, 2);
  f.add("warm", 2, Lifecycle::Warm, kNow - 1h);
  f.add("leaving", 2, Lifecycle::Terminating, kNow - 1h);
  const RollingStep s =
      rollingStep(f.members, {"warm", "leaving", "web-0", "web-1"}, 2, 0, 100, 120s, kNow);
  EXPECT_EQ(s.terminate, (std::vector<std::string>{"web-0", "web-1"}));
}

// ------------------------------------------------------------ instance refresh

TEST(ScalingGroupRefresh, StartsWhenTheVersionChanges) {
  Fleet f;
  f.serving(4, 2);
  const auto g = groupWithRefresh();
  const RefreshDecision d = decideRefresh(g, f.members, 3, 2, {}, 4, false, kNow);
  ASSERT_TRUE(d.status);
  EXPECT_EQ(d.status->status, "InProgress");
  EXPECT_EQ(d.status->targetVersion, 3);
  EXPECT_EQ(d.status->startTime, kube::formatRfc3339(kNow));
  EXPECT_EQ(d.status->percentageComplete, 0);
  EXPECT_EQ(d.status->instancesToUpdate, 4);
  EXPECT_TRUE(d.inProgress);
  EXPECT_TRUE(d.memory.skipMatching);
  ASSERT_GE(d.activities.size(), 2u);
  EXPECT_EQ(d.activities[0], "instance refresh to version 3 started (4 instances to replace)");
  // 90 % of 4 rounds up to 4: one at a time.
  EXPECT_EQ(d.step.terminate, std::vector<std::string>{"web-0"});
  EXPECT_EQ(d.activities[1], "replacing web-0 (launch template version 2, group at 3)");
}

TEST(ScalingGroupRefresh, NothingStartsWithoutAChangeOrOnTheFirstReconcile) {
  Fleet f;
  f.serving(4, 2);
  const auto g = groupWithRefresh();
  RefreshDecision d = decideRefresh(g, f.members, 2, 2, {}, 4, false, kNow);
  EXPECT_FALSE(d.status);
  EXPECT_FALSE(d.inProgress);
  EXPECT_TRUE(d.step.terminate.empty());
  d = decideRefresh(g, f.members, 3, std::nullopt, {}, 4, false, kNow);
  EXPECT_FALSE(d.status);
}

TEST(ScalingGroupRefresh, SkipsMatchingInstancesAndUnknownVersions) {
  Fleet f;
  f.serving(2, 3);
  f.add("old", 2, Lifecycle::InService, kNow - 2h);
  f.add("unknown", 0, Lifecycle::Pending, kNow - 1min);
  auto g = groupWithRefresh();
  g.spec.instanceRefresh->minHealthyPercentage = 50;
  const RefreshDecision d = decideRefresh(g, f.members, 3, 2, {}, 4, false, kNow);
  EXPECT_EQ(d.status->instancesToUpdate, 1);
  EXPECT_EQ(d.step.terminate, std::vector<std::string>{"old"});
}

TEST(ScalingGroupRefresh, LatestMovingStartsOne) {
  Fleet f;
  f.serving(2, 4);
  auto g = groupWithRefresh();
  g.spec.launchTemplateRef.version = "$Latest";
  const RefreshDecision d = decideRefresh(g, f.members, 5, 4, {}, 2, false, kNow);
  ASSERT_TRUE(d.status);
  EXPECT_EQ(d.status->targetVersion, 5);
  EXPECT_EQ(d.activities[0], "instance refresh to version 5 started (2 instances to replace)");
}

TEST(ScalingGroupRefresh, TheAnnotationRequestsARefreshOfEveryInstance) {
  Fleet f;
  f.serving(3, 3);
  auto g = groupWithRefresh();
  g.metadata.annotations[kRefreshAnnotation] = "2026-11-29T10:00";
  // First reconcile: the value is taken in, nothing starts.
  RefreshDecision d = decideRefresh(g, f.members, 3, std::nullopt, {}, 3, false, kNow);
  EXPECT_FALSE(d.status);
  EXPECT_EQ(d.memory.requestToken, "2026-11-29T10:00");

  // A new value: every instance, of the group's version or not.
  g.metadata.annotations[kRefreshAnnotation] = "2026-11-30T10:00";
  d = decideRefresh(g, f.members, 3, 3, d.memory, 3, false, kNow);
  ASSERT_TRUE(d.status);
  EXPECT_EQ(d.status->status, "InProgress");
  EXPECT_EQ(d.status->instancesToUpdate, 3);
  EXPECT_FALSE(d.memory.skipMatching);
  EXPECT_EQ(d.memory.requestToken, "2026-11-30T10:00");
  EXPECT_EQ(d.activities[0],
            "instance refresh to version 3 started (3 instances to replace, on request)");
  EXPECT_EQ(d.step.terminate, std::vector<std::string>{"web-0"});
  EXPECT_TRUE(contains(d.activities, "replacing web-0 (launched before the refresh on request)"));

  // The same value again carries on; a successor launched since is not replaced.
  g.status = v1::ScalingGroupStatus{};
  g.status->instanceRefresh = d.status;
  f.members.erase(f.members.begin());
  f.add("web-new", 3, Lifecycle::InService, kNow + 1min, kNow + 2min);
  const RefreshDecision next = decideRefresh(g, f.members, 3, 3, d.memory, 3, false, kNow + 10min);
  EXPECT_FALSE(contains(next.activities, "started"));
  EXPECT_EQ(next.status->instancesToUpdate, 2);
  EXPECT_EQ(next.status->percentageComplete, 33);
  EXPECT_EQ(next.step.terminate, std::vector<std::string>{"web-1"});

  // Without spec.instanceRefresh a request is taken in and ignored, in words.
  g.spec.instanceRefresh.reset();
  g.status.reset();
  g.metadata.annotations[kRefreshAnnotation] = "again";
  const RefreshDecision ignored = decideRefresh(g, f.members, 3, 3, d.memory, 3, false, kNow);
  EXPECT_FALSE(ignored.status);
  EXPECT_EQ(ignored.memory.requestToken, "again");
  EXPECT_TRUE(contains(ignored.activities, "ignored: spec.instanceRefresh is not set"));
}

TEST(ScalingGroupRefresh, ANewerVersionCancelsTheRefreshAndStartsAnother) {
  Fleet f;
  f.serving(3, 2);
  auto g = groupWithRefresh();
  g.status = v1::ScalingGroupStatus{};
  g.status->instanceRefresh = v1::ScalingGroupInstanceRefreshStatus{};
  g.status->instanceRefresh->status = "InProgress";
  g.status->instanceRefresh->targetVersion = 3;
  g.status->instanceRefresh->startTime = kube::formatRfc3339(kNow - 1h);
  const RefreshDecision d = decideRefresh(g, f.members, 4, 3, {}, 3, false, kNow);
  ASSERT_TRUE(d.status);
  EXPECT_EQ(d.status->status, "InProgress");
  EXPECT_EQ(d.status->targetVersion, 4);
  EXPECT_EQ(d.status->startTime, kube::formatRfc3339(kNow));
  EXPECT_EQ(d.activities[0], "instance refresh to version 3 cancelled: superseded by version 4");
  EXPECT_EQ(d.activities[1], "instance refresh to version 4 started (3 instances to replace)");
}

TEST(ScalingGroupRefresh, RemovingSpecInstanceRefreshCancelsIt) {
  Fleet f;
  f.serving(3, 2);
  auto g = groupWithRefresh();
  g.spec.instanceRefresh.reset();
  g.status = v1::ScalingGroupStatus{};
  g.status->instanceRefresh = v1::ScalingGroupInstanceRefreshStatus{};
  g.status->instanceRefresh->status = "InProgress";
  g.status->instanceRefresh->targetVersion = 3;
  const RefreshDecision d = decideRefresh(g, f.members, 3, 3, {}, 3, false, kNow);
  ASSERT_TRUE(d.status);
  EXPECT_EQ(d.status->status, "Cancelled");
  EXPECT_EQ(d.status->endTime, kube::formatRfc3339(kNow));
  EXPECT_FALSE(d.inProgress);
  EXPECT_TRUE(d.step.terminate.empty());
  EXPECT_EQ(d.activities,
            std::vector<std::string>{
                "instance refresh to version 3 cancelled: spec.instanceRefresh was removed"});
}

TEST(ScalingGroupRefresh, SuspendedItIsPendingAndResumes) {
  Fleet f;
  f.serving(2, 2);
  auto g = groupWithRefresh();
  RefreshDecision d = decideRefresh(g, f.members, 3, 2, {}, 2, true, kNow);
  ASSERT_TRUE(d.status);
  EXPECT_EQ(d.status->status, "Pending");
  EXPECT_FALSE(d.status->startTime);
  EXPECT_EQ(d.status->instancesToUpdate, 2);
  EXPECT_TRUE(d.inProgress);
  EXPECT_TRUE(d.step.terminate.empty());
  EXPECT_EQ(d.step.extraLaunches, 0);

  g.status = v1::ScalingGroupStatus{};
  g.status->instanceRefresh = d.status;
  d = decideRefresh(g, f.members, 3, 3, d.memory, 2, false, kNow + 1h);
  EXPECT_EQ(d.status->status, "InProgress");
  EXPECT_EQ(d.status->startTime, kube::formatRfc3339(kNow + 1h));
  EXPECT_EQ(d.step.terminate, std::vector<std::string>{"web-0"});

  // Suspended again: Pending, start time kept, an activity once.
  g.status->instanceRefresh = d.status;
  d = decideRefresh(g, f.members, 3, 3, d.memory, 2, true, kNow + 2h);
  EXPECT_EQ(d.status->status, "Pending");
  EXPECT_EQ(d.status->startTime, kube::formatRfc3339(kNow + 1h));
  EXPECT_TRUE(contains(d.activities, "paused: the InstanceRefresh process is suspended"));
}

TEST(ScalingGroupRefresh, PercentageCompleteCountsWarmedUpSuccessors) {
  Fleet f;
  f.add("old-0", 2, Lifecycle::InService, kNow - 2h);
  f.add("old-1", 2, Lifecycle::InService, kNow - 2h);
  f.add("new-0", 3, Lifecycle::InService, kNow - 10min, kNow - 9min);  // warmed up
  f.add("new-1", 3, Lifecycle::InService, kNow - 2min, kNow - 1min);   // warming up
  auto g = groupWithRefresh();
  g.status = v1::ScalingGroupStatus{};
  g.status->instanceRefresh = v1::ScalingGroupInstanceRefreshStatus{};
  g.status->instanceRefresh->status = "InProgress";
  g.status->instanceRefresh->targetVersion = 3;
  g.status->instanceRefresh->startTime = kube::formatRfc3339(kNow - 1h);
  const RefreshDecision d = decideRefresh(g, f.members, 3, 3, {}, 4, false, kNow);
  EXPECT_EQ(d.status->percentageComplete, 25);  // 1 of 4
  EXPECT_EQ(d.status->instancesToUpdate, 3);
  EXPECT_EQ(d.status->message, "25% complete, 3 instances to update");
  ASSERT_TRUE(d.step.wakeUp);
  EXPECT_EQ(*d.step.wakeUp, kNow + 1min);  // new-1 warmed up
}

// A model group the decisions drive: terminations take effect at once,
// launches come into service 60 s later, every 30 s a reconcile.
struct Simulation {
  v1::ScalingGroup group = groupWithRefresh();
  Fleet fleet;
  RefreshMemory memory;
  std::int64_t desired = 4;
  std::int64_t target = 3;
  std::optional<std::int64_t> previousVersion = 2;
  Time now = kNow;
  int launched = 0;
  std::vector<RefreshDecision> decisions;
  std::vector<Time> times;

  explicit Simulation(std::int64_t n) : desired(n) {
    fleet.serving(static_cast<int>(n), 2);
    group.status = v1::ScalingGroupStatus{};
  }
  std::chrono::seconds warmup() const {
    return std::chrono::seconds(*group.spec.instanceRefresh->instanceWarmupSeconds);
  }
  std::int64_t healthy() const {
    std::int64_t n = 0;
    for (const auto& m : fleet.members)
      if (m.lifecycle == Lifecycle::InService && m.inServiceSince &&
          now - *m.inServiceSince >= warmup())
        ++n;
    return n;
  }
  const RefreshDecision& tick() {
    RefreshDecision d =
        decideRefresh(group, fleet.members, target, previousVersion, memory, desired, false, now);
    previousVersion = target;
    memory = d.memory;
    group.status->instanceRefresh = d.status;
    std::erase_if(fleet.members, [&](const Member& m) {
      return std::find(d.step.terminate.begin(), d.step.terminate.end(), m.name) !=
             d.step.terminate.end();
    });
    afterTerminations = healthy();
    const auto want = desired + d.step.extraLaunches;
    while (static_cast<std::int64_t>(fleet.members.size()) < want)
      fleet.add("new-" + std::to_string(launched++), target, Lifecycle::Pending, now);
    decisions.push_back(std::move(d));
    times.push_back(now);
    now += 30s;
    for (auto& m : fleet.members) {
      if (m.lifecycle == Lifecycle::Pending && now - m.created >= 60s) {
        m.lifecycle = Lifecycle::InService;
        m.inServiceSince = m.created + 60s;
      }
    }
    return decisions.back();
  }
  std::int64_t afterTerminations = 0;  // in service and warmed up once the step's terminations went
  std::string state() const {
    return group.status->instanceRefresh ? group.status->instanceRefresh->status : "";
  }
  std::int64_t oldLeft() const {
    return std::count_if(fleet.members.begin(), fleet.members.end(),
                         [&](const Member& m) { return m.launchTemplateVersion != target; });
  }
};

TEST(ScalingGroupRefresh, CheckpointsPauseAndResumeAfterTheDelay) {
  Simulation sim(4);
  sim.group.spec.instanceRefresh->checkpointPercentages = std::vector<std::int64_t>{50, 100};
  sim.group.spec.instanceRefresh->checkpointDelaySeconds = 600;
  std::optional<Time> pausedAt;
  std::optional<Time> resumedAt;
  for (int i = 0; i < 400 && sim.state() != "Successful"; ++i) {
    const RefreshDecision& d = sim.tick();
    if (contains(d.activities, "checkpoint 50%: waiting 600 s")) {
      pausedAt = sim.times.back();
      EXPECT_EQ(d.status->percentageComplete, 50);
      EXPECT_EQ(d.status->instancesToUpdate, 2);
      EXPECT_EQ(sim.oldLeft(), 2);  // no more replaced than the checkpoint needs
      ASSERT_TRUE(d.step.wakeUp);
      EXPECT_EQ(*d.step.wakeUp, *pausedAt + 600s);
    }
    if (pausedAt && !resumedAt) {
      if (contains(d.activities, "checkpoint 50% passed, resuming")) {
        resumedAt = sim.times.back();
      } else {
        EXPECT_TRUE(d.step.terminate.empty());
        EXPECT_EQ(d.step.extraLaunches, 0);
        EXPECT_TRUE(d.inProgress);
      }
    }
  }
  ASSERT_TRUE(pausedAt);
  ASSERT_TRUE(resumedAt);
  EXPECT_GE(*resumedAt - *pausedAt, 600s);
  EXPECT_LT(*resumedAt - *pausedAt, 630s);
  EXPECT_EQ(sim.group.status->instanceRefresh->status, "Successful");
  EXPECT_EQ(sim.group.status->instanceRefresh->percentageComplete, 100);
  EXPECT_EQ(sim.oldLeft(), 0);
}

TEST(ScalingGroupRefresh, ALastCheckpointBelow100EndsSuccessful) {
  Simulation sim(4);
  sim.group.spec.instanceRefresh->checkpointPercentages = std::vector<std::int64_t>{50};
  for (int i = 0; i < 200 && sim.state() != "Successful"; ++i) sim.tick();
  const auto& s = *sim.group.status->instanceRefresh;
  EXPECT_EQ(s.status, "Successful");
  EXPECT_EQ(s.percentageComplete, 50);
  EXPECT_TRUE(s.endTime);
  EXPECT_EQ(sim.oldLeft(), 2);
  EXPECT_FALSE(sim.decisions.back().inProgress);
  EXPECT_TRUE(contains(sim.decisions.back().activities, "stopped at its last checkpoint, 50%"));
}

// Property: for any capacity and pair of percentages, every step keeps the
// instances in service and warmed up at the minimum (one below it only
// where one at a time is all that can move: minimum = desired and no room
// above), never runs more than the maximum, and the refresh completes with
// every instance replaced; percentageComplete never goes back.
TEST(ScalingGroupRefresh, NeverBelowMinimumHealthyAtAnyStep) {
  const std::vector<std::pair<std::int64_t, std::int64_t>> percentages = {
      {100, 100}, {90, 100}, {90, 110}, {50, 100}, {0, 100}, {100, 200}, {80, 120}, {100, 150}};
  for (std::int64_t desired : {1, 2, 3, 4, 5, 10, 13}) {
    for (const auto& [minPct, maxPct] : percentages) {
      SCOPED_TRACE("desired " + std::to_string(desired) + ", min " + std::to_string(minPct) +
                   " %, max " + std::to_string(maxPct) + " %");
      Simulation sim(desired);
      sim.group.spec.instanceRefresh->minHealthyPercentage = minPct;
      sim.group.spec.instanceRefresh->maxHealthyPercentage = maxPct;
      const std::int64_t minHealthy = (desired * minPct + 99) / 100;
      const std::int64_t maxTotal = std::max(desired, desired * maxPct / 100);
      const std::int64_t floor =
          minHealthy >= desired && maxTotal == desired ? desired - 1 : minHealthy;
      std::int64_t lastPercentage = 0;
      int steps = 0;
      for (; steps < 1000 && sim.state() != "Successful"; ++steps) {
        const RefreshDecision& d = sim.tick();
        ASSERT_GE(sim.afterTerminations, floor) << "at step " << steps;
        ASSERT_LE(static_cast<std::int64_t>(sim.fleet.members.size()), maxTotal);
        ASSERT_GE(d.status->percentageComplete.value_or(0), lastPercentage);
        lastPercentage = d.status->percentageComplete.value_or(0);
      }
      EXPECT_EQ(sim.group.status->instanceRefresh->status, "Successful");
      EXPECT_EQ(sim.group.status->instanceRefresh->instancesToUpdate, 0);
      EXPECT_EQ(sim.oldLeft(), 0);
      EXPECT_EQ(static_cast<std::int64_t>(sim.fleet.members.size()), desired);
    }
  }
}

// ------------------------------------------------------------ lifetime

TEST(ScalingGroupLifetime, MembersOlderThanTheLimitOldestFirst) {
  Fleet f;
  f.add("two-days", 3, Lifecycle::InService, kNow - 48h);
  f.add("young", 3, Lifecycle::InService, kNow - 1h);
  f.add("three-days", 3, Lifecycle::Unhealthy, kNow - 72h);
  f.add("warm", 3, Lifecycle::Warm, kNow - 96h);
  f.add("leaving", 3, Lifecycle::Terminating, kNow - 96h);
  v1::ScalingGroupSpec spec;
  spec.maxInstanceLifetimeSeconds = 86400;
  EXPECT_EQ(pastLifetime(spec, f.members, kNow),
            (std::vector<std::string>{"three-days", "two-days"}));
  spec.maxInstanceLifetimeSeconds = 0;
  EXPECT_TRUE(pastLifetime(spec, f.members, kNow).empty());
  spec.maxInstanceLifetimeSeconds.reset();
  EXPECT_TRUE(pastLifetime(spec, f.members, kNow).empty());
}

TEST(ScalingGroupLifetime, ReplacedAtTheRollingPace) {
  Fleet f;
  f.serving(10, 3, kNow - 48h);
  v1::ScalingGroupSpec spec;
  spec.maxInstanceLifetimeSeconds = 86400;
  const auto old = pastLifetime(spec, f.members, kNow);
  ASSERT_EQ(old.size(), 10u);
  EXPECT_EQ(old.front(), "web-0");
  // 90 % minimum when instanceRefresh does not say: one of ten at a time.
  const RollingStep s = rollingStep(f.members, old, 10, 90, 100, 300s, kNow);
  EXPECT_EQ(s.terminate, std::vector<std::string>{"web-0"});
}

}  // namespace
}  // namespace kubec2::reconcilers
