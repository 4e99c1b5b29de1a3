// A ScalingGroup's warm pool (reconcilers/scalinggroup/warm_pool.h): its
// size, scale-out from prepared instances, reuse on scale-in, the pool kept
// at its size. Members are built directly.
#include <deque>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reconcilers/scalinggroup/warm_pool.h"

namespace kubec2::reconcilers {
namespace {

using namespace std::chrono_literals;

const Time kNow = std::chrono::system_clock::from_time_t(1800000000);
constexpr const char* kPrepared = "compute.kubec2.io/warm-pool-prepared";

struct Fleet {
  std::deque<v1::Instance> instances;
  std::vector<Member> members;

  // A warm instance: `state` its status.state ("" none yet), `prepared` its annotation.
  void warm(const std::string& name, std::int64_t version, bool isPrepared,
            const std::string& state, Time created) {
    v1::Instance& inst = instances.emplace_back();
    inst.metadata.name = name;
    inst.metadata.labels["compute.kubec2.io/warm-pool"] = "true";
    if (isPrepared) inst.metadata.annotations[kPrepared] = "true";
    if (!state.empty()) {
      inst.status = v1::InstanceStatus{};
      inst.status->state = state;
    }
    push(inst, version, Lifecycle::Warm, created);
  }
  void serving(const std::string& name, std::int64_t version, Time created = kNow - 1h) {
    v1::Instance& inst = instances.emplace_back();
    inst.metadata.name = name;
    inst.status = v1::InstanceStatus{};
    inst.status->state = "running";
    push(inst, version, Lifecycle::InService, created);
  }
  void push(const v1::Instance& inst, std::int64_t version, Lifecycle lifecycle, Time created) {
    Member m;
    m.instance = &inst;
    m.name = inst.metadata.name;
    m.launchTemplateVersion = version;
    m.created = created;
    m.lifecycle = lifecycle;
    m.warm = lifecycle == Lifecycle::Warm;
    if (lifecycle == Lifecycle::InService) m.inServiceSince = created + 1min;
    members.push_back(m);
  }
};

v1::ScalingGroup groupWithPool(std::int64_t minSize = 0) {
  v1::ScalingGroup g;
  g.metadata.name = "web";
  g.spec.minSize = 0;
  g.spec.maxSize = 10;
  g.spec.warmPool = v1::ScalingGroupWarmPool{};
  g.spec.warmPool->minSize = minSize;
  return g;
}

TEST(ScalingGroupWarmPool, SizeIsMaxPreparedCapacityLessDesiredAtLeastMinSize) {
  Fleet f;
  auto g = groupWithPool(2);
  // maxGroupPreparedCapacity absent: the maximum in force, 10.
  EXPECT_EQ(decideWarmPool(g, f.members, 6, 10, 3, 0, {}).size, 4);
  EXPECT_EQ(decideWarmPool(g, f.members, 6, 12, 3, 0, {}).size, 6);  // a raised maximum
  g.spec.warmPool->maxGroupPreparedCapacity = 7;
  EXPECT_EQ(decideWarmPool(g, f.members, 6, 10, 3, 0, {}).size, 2);  // max(2, 1)
  g.spec.warmPool->minSize = 0;
  EXPECT_EQ(decideWarmPool(g, f.members, 8, 10, 3, 0, {}).size, 0);  // never negative
}

TEST(ScalingGroupWarmPool, NoWarmPoolNoDecision) {
  Fleet f;
  f.warm("w-0", 3, true, "stopped", kNow - 1h);
  v1::ScalingGroup g;
  g.spec.maxSize = 10;
  const WarmPoolDecision d = decideWarmPool(g, f.members, 2, 10, 3, 2, {});
  EXPECT_EQ(d.size, 0);
  EXPECT_TRUE(d.intoService.empty());
  EXPECT_TRUE(d.terminate.empty());
  EXPECT_EQ(d.launches, 0);
}

TEST(ScalingGroupWarmPool, ScaleOutTakesPreparedInstancesOfTheGroupsVersionFirst) {
  Fleet f;
  f.warm("stopped", 3, true, "stopped", kNow - 2h);
  f.warm("running", 3, true, "running", kNow - 1h);
  f.warm("unprepared", 3, false, "running", kNow - 3h);
  f.warm("booting", 3, false, "", kNow - 1min);
  f.warm("older-version", 2, true, "stopped", kNow - 4h);
  const auto g = groupWithPool();
  // desired 6, max 10: the pool holds 4.
  WarmPoolDecision d = decideWarmPool(g, f.members, 6, 10, 3, 1, {});
  EXPECT_EQ(d.intoService, std::vector<std::string>{"running"});  // ready at once

  d = decideWarmPool(g, f.members, 6, 10, 3, 5, {});
  // Only the two prepared ones of version 3: the caller launches the rest.
  EXPECT_EQ(d.intoService, (std::vector<std::string>{"running", "stopped"}));
  EXPECT_EQ(d.terminate, std::vector<std::string>{"older-version"});
  EXPECT_EQ(d.prepare, std::vector<std::string>{"unprepared"});  // it has been running
  // Left: unprepared and booting; refilled to 4.
  EXPECT_EQ(d.launches, 2);
}

TEST(ScalingGroupWarmPool, ReuseOnScaleInReturnsInstancesOfTheGroupsVersion) {
  Fleet f;
  f.serving("current", 3);
  f.serving("older", 2);
  f.serving("also-current", 3);
  auto g = groupWithPool();
  g.spec.warmPool->reuseOnScaleIn = true;
  // desired 7 after the scale-in, max 10: room for 3.
  WarmPoolDecision d = decideWarmPool(g, f.members, 7, 10, 3, 0, {"older", "current"});
  EXPECT_EQ(d.toPool, std::vector<std::string>{"current"});  // "older" is the caller's to end
  EXPECT_EQ(d.launches, 2);

  // No more than the pool has room for.
  d = decideWarmPool(g, f.members, 9, 10, 3, 0, {"current", "also-current"});
  EXPECT_EQ(d.toPool, std::vector<std::string>{"current"});
  EXPECT_EQ(d.launches, 0);

  g.spec.warmPool->reuseOnScaleIn = false;
  d = decideWarmPool(g, f.members, 7, 10, 3, 0, {"current"});
  EXPECT_TRUE(d.toPool.empty());
  EXPECT_EQ(d.launches, 3);
}

TEST(ScalingGroupWarmPool, AnOverfullPoolTerminatesTheOldest) {
  Fleet f;
  f.warm("w-b", 3, true, "stopped", kNow - 2h);
  f.warm("w-a", 3, true, "stopped", kNow - 3h);
  f.warm("w-c", 3, true, "stopped", kNow - 1h);
  f.warm("w-d", 3, true, "stopped", kNow - 30min);
  const auto g = groupWithPool();
  const WarmPoolDecision d = decideWarmPool(g, f.members, 8, 10, 3, 0, {});  // size 2
  EXPECT_EQ(d.terminate, (std::vector<std::string>{"w-a", "w-b"}));
  EXPECT_EQ(d.launches, 0);
}

TEST(ScalingGroupWarmPool, RefillLaunchesAndLeavesTerminatingOnesOut) {
  Fleet f;
  f.warm("w-0", 3, true, "stopped", kNow - 2h);
  f.warm("gone", 3, true, "stopped", kNow - 2h);
  f.members.back().lifecycle = Lifecycle::Terminating;
  const auto g = groupWithPool(3);
  const WarmPoolDecision d = decideWarmPool(g, f.members, 9, 10, 3, 0, {});
  EXPECT_EQ(d.size, 3);
  EXPECT_EQ(d.launches, 2);
  EXPECT_TRUE(d.terminate.empty());
}

}  // namespace
}  // namespace kubec2::reconcilers
