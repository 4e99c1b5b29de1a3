// Crash consistency (issue 15): the operator kill -9'd at random moments of
// a ScalingGroup's scale-out, instance refresh and scale-in, and started
// again each time. What a user would check afterwards: exactly the asked-for
// Instances and VMs, every one running, none duplicated or orphaned, and at
// no sampled moment more Instances than the capacity in force
// (docs/scaling-groups.md, "Never more than the capacity in force").
#include <cmath>
#include <set>

#include "tests/reliability/crash_harness.h"

namespace kube::testing::crash {
namespace {

std::set<std::string> uidsOf(const std::map<std::string, CreationRecorder::Seen>& seen) {
  std::set<std::string> out;
  for (const auto& [uid, s] : seen) out.insert(uid);
  return out;
}

long createdSince(const std::map<std::string, CreationRecorder::Seen>& seen,
                  const std::set<std::string>& before) {
  long n = 0;
  for (const auto& [uid, s] : seen) n += before.contains(uid) ? 0 : 1;
  return n;
}

// Instances launched for zone rebalancing (annotation launched-for), which
// the docs allow above the capacity, one at a time (docs/scaling-groups.md,
// "Zones"): a refresh may leave the zones uneven, and the group then
// launches one in the emptiest zone and terminates one in the fullest.
long rebalanceLaunches(const std::map<std::string, CreationRecorder::Seen>& seen) {
  long n = 0;
  for (const auto& [uid, s] : seen)
    n += s.object["metadata"].value("annotations", json::object()).value(kLaunchedFor, "") ==
                 "rebalance"
             ? 1
             : 0;
  return n;
}

std::string str(long v) {
  return std::to_string(v);
}
std::string secs(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", s);
  return b;
}

// A group scaled from 0 to N (300 at full size, the number) with K
// kills (20 at full size) spread over the scale-out.
TEST_F(CrashTest, ScaleOutFromZeroSurvivesKills) {
  const long n = fullSize() ? 300 : 40;
  const int k = fullSize() ? 20 : 5;
  auto rng = testRng();
  CrashOperator& op = CrashEnvironment::op();
  const int killsBefore = op.kills();

  create(kTemplates, launchTemplate("out", 1));
  create(kGroups, scalingGroup("out", {{"launchTemplateRef", {{"name", "out"}}},
                                       {"minSize", 0},
                                       {"maxSize", n},
                                       {"desiredCapacity", 0}}));
  ASSERT_TRUE(eventually([&] { return status("out").value("desiredCapacity", -1) == 0; }, 60s))
      << explain("out");

  CreationRecorder rec(kNs, "out");
  CapacitySampler sampler(kNs, "out", n);  // the capacity in force is n from the scale on
  const auto moments = randomMoments(rng, k, 0, n);
  const auto t0 = std::chrono::steady_clock::now();
  patchSpec(kGroups, "out", {{"desiredCapacity", n}});
  const auto created = [&] { return rec.countInstances([](const auto&) { return true; }); };
  std::string why;
  ASSERT_TRUE(atMoments(
      moments, created, [&](const Moment&) { op.killAndRestart(); }, 120s, &why))
      << why << "\n"
      << explain("out");
  ASSERT_TRUE(converges("out", n));
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sampler.stop();

  EXPECT_TRUE(consistent("out"));
  EXPECT_EQ(sampler.violations(), std::vector<std::string>{})
      << "more Instances than the capacity in force (" << n << ")";
  // Every Instance and VM ever created: a duplicate create would show as an
  // extra uid even if it was deleted again.
  EXPECT_EQ(static_cast<long>(rec.instances().size()), n) << "Instances created";
  EXPECT_TRUE(eventually([&] { return static_cast<long>(rec.vms().size()) == n; }, 10s))
      << "VMs created: " << rec.vms().size();
  EXPECT_EQ(op.kills() - killsBefore, k);
  report("scale-out 0->" + str(n),
         {{"kills", str(op.kills() - killsBefore)},
          {"seconds", secs(total)},
          {"instancesCreated", str(static_cast<long>(rec.instances().size()))},
          {"vmsCreated", str(static_cast<long>(rec.vms().size()))},
          {"peak", str(sampler.peak())},
          {"samples", str(sampler.samples())},
          {"overCapacitySamples", str(static_cast<long>(sampler.violations().size()))}});
}

// An instance refresh (a new $Latest version) of N instances with K kills.
// maxHealthyPercentage 110: successors launch first, so the refresh itself
// may hold floor(N * 110 / 100) instances (docs/scaling-groups.md, "Instance
// refresh"), and never more.
TEST_F(CrashTest, InstanceRefreshSurvivesKills) {
  const long n = fullSize() ? 300 : 20;
  const int k = fullSize() ? 20 : 4;
  constexpr long kMaxHealthy = 110;
  auto rng = testRng();
  CrashOperator& op = CrashEnvironment::op();
  const int killsBefore = op.kills();

  create(kTemplates, launchTemplate("roll", 1));
  create(kGroups,
         scalingGroup("roll", {{"launchTemplateRef", {{"name", "roll"}, {"version", "$Latest"}}},
                               {"minSize", n},
                               {"maxSize", n},
                               {"desiredCapacity", n},
                               {"instanceRefresh",
                                {{"minHealthyPercentage", 90},
                                 {"maxHealthyPercentage", kMaxHealthy},
                                 {"instanceWarmupSeconds", 0}}}}));
  ASSERT_TRUE(converges("roll", n));

  CreationRecorder rec(kNs, "roll");
  const std::set<std::string> before = uidsOf(rec.instances());
  const std::set<std::string> vmsBefore = uidsOf(rec.vms());
  ASSERT_EQ(static_cast<long>(before.size()), n);
  const long bound = n * kMaxHealthy / 100;  // floor
  CapacitySampler sampler(kNs, "roll", bound);
  const auto moments = randomMoments(rng, k, 0, n);
  const auto t0 = std::chrono::steady_clock::now();
  patchSpec(kTemplates, "roll", launchTemplate("roll", 2)["spec"]);  // $Latest moves to 2
  const auto onTwo = [&] {
    return rec.countInstances([](const CreationRecorder::Seen& s) {
      const json v = templateVersion(s.object);
      return v == 2 || v == "2";
    });
  };
  std::string why;
  ASSERT_TRUE(atMoments(
      moments, onTwo, [&](const Moment&) { op.killAndRestart(); }, 120s, &why))
      << why << "\n"
      << explain("roll");
  ASSERT_TRUE(converges("roll", n, [](const json& i) {
    const json v = templateVersion(i);
    return v == 2 || v == "2";
  }));
  ASSERT_TRUE(eventually(
      [&] {
        return status("roll").value("instanceRefresh", json::object()).value("status", "") ==
               "Successful";
      },
      60s))
      << explain("roll");
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sampler.stop();

  EXPECT_TRUE(consistent("roll"));
  EXPECT_EQ(sampler.violations(), std::vector<std::string>{})
      << "more Instances than the refresh allows (" << bound << ")";
  // One successor per instance, no more (and any zone rebalancing after).
  const long rebalanced = rebalanceLaunches(rec.instances());
  EXPECT_EQ(createdSince(rec.instances(), before) - rebalanced, n)
      << "Instances created by the refresh" <<
      [&] {
        std::string out;
        for (const auto& [uid, s] : rec.instances())
          if (!before.contains(uid))
            out +=
                "\n  " + s.name + " version " + templateVersion(s.object).dump() +
                (s.deleted ? " deleted" : "") + " launched-for " +
                s.object["metadata"].value("annotations", json::object()).value(kLaunchedFor, "-") +
                " created " + s.object["metadata"].value("creationTimestamp", "");
        return out + "\n" + explain("roll");
      }();
  EXPECT_TRUE(eventually([&] { return createdSince(rec.vms(), vmsBefore) == n + rebalanced; }, 10s))
      << "VMs created by the refresh: " << createdSince(rec.vms(), vmsBefore);
  EXPECT_EQ(op.kills() - killsBefore, k);
  report("refresh of " + str(n),
         {{"kills", str(op.kills() - killsBefore)},
          {"seconds", secs(total)},
          {"instancesCreated", str(createdSince(rec.instances(), before))},
          {"vmsCreated", str(createdSince(rec.vms(), vmsBefore))},
          {"peak", str(sampler.peak())},
          {"bound", str(bound)},
          {"rebalanceLaunches", str(rebalanced)},
          {"samples", str(sampler.samples())},
          {"overCapacitySamples", str(static_cast<long>(sampler.violations().size()))}});
}

// A scale-in from N to a few with K kills: nothing created, every removed
// Instance's VM gone, nothing left half deleted.
TEST_F(CrashTest, ScaleInSurvivesKills) {
  const long n = fullSize() ? 300 : 30;
  const long to = fullSize() ? 10 : 4;
  const int k = fullSize() ? 20 : 4;
  auto rng = testRng();
  CrashOperator& op = CrashEnvironment::op();
  const int killsBefore = op.kills();

  create(kTemplates, launchTemplate("in", 1));
  create(kGroups, scalingGroup("in", {{"launchTemplateRef", {{"name", "in"}}},
                                      {"minSize", 0},
                                      {"maxSize", n},
                                      {"desiredCapacity", n}}));
  ASSERT_TRUE(converges("in", n));

  CreationRecorder rec(kNs, "in");
  const std::set<std::string> before = uidsOf(rec.instances());
  const std::set<std::string> vmsBefore = uidsOf(rec.vms());
  CapacitySampler sampler(kNs, "in", n);
  const auto moments = randomMoments(rng, k, 0, n - to);
  const auto t0 = std::chrono::steady_clock::now();
  patchSpec(kGroups, "in", {{"desiredCapacity", to}});
  const auto removed = [&] {
    return rec.countInstances([](const CreationRecorder::Seen& s) {
      return s.deleted || s.object["metadata"].contains("deletionTimestamp");
    });
  };
  std::string why;
  ASSERT_TRUE(atMoments(
      moments, removed, [&](const Moment&) { op.killAndRestart(); }, 120s, &why))
      << why << "\n"
      << explain("in");
  ASSERT_TRUE(converges("in", to));
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sampler.stop();

  EXPECT_TRUE(consistent("in"));
  EXPECT_EQ(sampler.violations(), std::vector<std::string>{});
  EXPECT_EQ(createdSince(rec.instances(), before), 0) << "Instances created by a scale-in";
  EXPECT_EQ(createdSince(rec.vms(), vmsBefore), 0) << "VMs created by a scale-in";
  EXPECT_TRUE(eventually(
      [&] { return rec.countInstances([](const auto& s) { return s.deleted; }) == n - to; }, 30s))
      << "Instances fully deleted: " << rec.countInstances([](const auto& s) { return s.deleted; });
  EXPECT_EQ(op.kills() - killsBefore, k);
  report("scale-in " + str(n) + "->" + str(to),
         {{"kills", str(op.kills() - killsBefore)},
          {"seconds", secs(total)},
          {"instancesCreated", str(createdSince(rec.instances(), before))},
          {"instancesDeleted", str(rec.countInstances([](const auto& s) { return s.deleted; }))},
          {"samples", str(sampler.samples())},
          {"overCapacitySamples", str(static_cast<long>(sampler.violations().size()))}});
}

}  // namespace
}  // namespace kube::testing::crash
