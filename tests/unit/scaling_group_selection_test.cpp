// Where a ScalingGroup launches and which instances it gives up
// (reconcilers/scalinggroup/selection.h): eligible and unavailable zones,
// launches by zone balance, AZRebalance, and the scale-in order by zone,
// termination policies, protection and the stable tie-break.
#include <algorithm>

#include <gtest/gtest.h>

#include "reconcilers/scalinggroup/selection.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Names = std::vector<std::string>;

const auto kNow = std::chrono::system_clock::from_time_t(1800000000);
const v1::Instance kInstance;  // members point at an instance; these tests never read it

Member member(const std::string& name, const std::string& zone,
              Lifecycle lifecycle = Lifecycle::InService, std::int64_t version = 2,
              std::chrono::seconds age = 3600s) {
  Member m;
  m.instance = &kInstance;
  m.name = name;
  m.uid = "uid-" + name;
  m.zone = zone;
  m.launchTemplateVersion = version;
  m.created = kNow - age;
  m.lifecycle = lifecycle;
  m.warm = lifecycle == Lifecycle::Warm;
  if (lifecycle == Lifecycle::InService) m.inServiceSince = m.created + 60s;
  return m;
}

Member protectedMember(const std::string& name, const std::string& zone) {
  Member m = member(name, zone);
  m.protectedFromScaleIn = true;
  return m;
}

v1::ScalingGroupSpec groupSpec(json extra = json::object()) {
  json spec = {{"minSize", 0}, {"maxSize", 10}, {"launchTemplateRef", {{"name", "web"}}}};
  spec.update(extra);
  return v1::ScalingGroupSpec::fromJson(spec);
}

const ZonePlan kThreeZones{.eligible = {"a", "b", "c"}, .unavailable = {}};
const ZonePlan kNoZones{};
const Names kDefault{"Default"};

// --- zonesFor -------------------------------------------------------------

TEST(ScalingGroupSelection, ZonesFromSpecInItsOrder) {
  const std::vector<NodeView> nodes{{.zone = "a", .schedulable = true},
                                    {.zone = "b", .schedulable = true},
                                    {.zone = "c", .schedulable = true},
                                    {.zone = "d", .schedulable = true}};
  const ZonePlan p = zonesFor(groupSpec({{"availabilityZones", {"c", "a"}}}), nodes);
  EXPECT_EQ(p.eligible, (Names{"c", "a"}));
  EXPECT_TRUE(p.unavailable.empty());
}

TEST(ScalingGroupSelection, ZonesFromNodesWhenSpecHasNone) {
  const std::vector<NodeView> nodes{{.zone = "b", .schedulable = true},
                                    {.zone = "a", .schedulable = true},
                                    {.zone = "a", .schedulable = false},
                                    {.zone = "", .schedulable = true}};
  EXPECT_EQ(zonesFor(groupSpec(), nodes).eligible, (Names{"a", "b"}));
  EXPECT_EQ(zonesFor(groupSpec({{"availabilityZones", json::array()}}), nodes).eligible,
            (Names{"a", "b"}))
      << "an empty list is as absent";
}

TEST(ScalingGroupSelection, ZonesWithoutSchedulableNodesAreUnavailable) {
  // c: every node cordoned or not Ready; d: in the spec, no node at all.
  const std::vector<NodeView> nodes{{.zone = "a", .schedulable = true},
                                    {.zone = "b", .schedulable = false},
                                    {.zone = "b", .schedulable = true},
                                    {.zone = "c", .schedulable = false},
                                    {.zone = "c", .schedulable = false}};
  const ZonePlan fromNodes = zonesFor(groupSpec(), nodes);
  EXPECT_EQ(fromNodes.eligible, (Names{"a", "b", "c"}));
  EXPECT_EQ(fromNodes.unavailable, (Names{"c"}));

  const ZonePlan fromSpec = zonesFor(groupSpec({{"availabilityZones", {"d", "c", "a"}}}), nodes);
  EXPECT_EQ(fromSpec.eligible, (Names{"d", "c", "a"}));
  EXPECT_EQ(fromSpec.unavailable, (Names{"d", "c"}));
}

TEST(ScalingGroupSelection, NoZoneLabelsMeansNoZoneConstraint) {
  const std::vector<NodeView> nodes{{.zone = "", .schedulable = true},
                                    {.zone = "", .schedulable = false}};
  const ZonePlan p = zonesFor(groupSpec(), nodes);
  EXPECT_TRUE(p.eligible.empty());
  EXPECT_TRUE(p.unavailable.empty());
  EXPECT_EQ(launchZones(p, {}, 3), (Names{"", "", ""}));
  EXPECT_FALSE(rebalanceStep(p, {member("web-1", ""), member("web-2", ""), member("web-3", "")}));

  // Zones asked for that no node carries: all unavailable, nothing launches.
  const ZonePlan asked = zonesFor(groupSpec({{"availabilityZones", {"a", "b"}}}), nodes);
  EXPECT_EQ(asked.unavailable, (Names{"a", "b"}));
  EXPECT_TRUE(launchZones(asked, {}, 2).empty());
}

// --- launchZones ----------------------------------------------------------

TEST(ScalingGroupSelection, LaunchesSpreadOverZones) {
  EXPECT_EQ(launchZones(kThreeZones, {}, 7), (Names{"a", "b", "c", "a", "b", "c", "a"}));
  EXPECT_TRUE(launchZones(kThreeZones, {}, 0).empty());
}

TEST(ScalingGroupSelection, LaunchesFillTheEmptiestZonesFirst) {
  const std::vector<Member> members{member("web-1", "a"), member("web-2", "a"),
                                    member("web-3", "c", Lifecycle::Pending)};
  EXPECT_EQ(launchZones(kThreeZones, members, 3), (Names{"b", "b", "c"}));
}

TEST(ScalingGroupSelection, LaunchesCountOnlyCurrentInstances) {
  const std::vector<Member> members{
      member("web-1", "a", Lifecycle::Unhealthy), member("web-2", "b", Lifecycle::Warm),
      member("web-3", "b", Lifecycle::Terminating), member("web-4", "old")};
  EXPECT_EQ(launchZones(kThreeZones, members, 3), (Names{"b", "c", "a"}));
}

TEST(ScalingGroupSelection, LaunchesSkipUnavailableZones) {
  const ZonePlan p{.eligible = {"a", "b", "c"}, .unavailable = {"b"}};
  EXPECT_EQ(launchZones(p, {}, 4), (Names{"a", "c", "a", "c"}));
  const ZonePlan none{.eligible = {"a", "b"}, .unavailable = {"a", "b"}};
  EXPECT_TRUE(launchZones(none, {member("web-1", "a")}, 3).empty());
}

// --- rebalanceStep --------------------------------------------------------

TEST(ScalingGroupSelection, BalancedZonesNeedNoRebalance) {
  EXPECT_FALSE(rebalanceStep(kThreeZones, {}));
  EXPECT_FALSE(rebalanceStep(kThreeZones, {member("web-1", "a"), member("web-2", "b")}))
      << "0 and 1 differ by one";
  EXPECT_FALSE(rebalanceStep(kThreeZones, {member("web-1", "a"), member("web-2", "a"),
                                           member("web-3", "b"), member("web-4", "c")}));
}

TEST(ScalingGroupSelection, RebalanceAfterOneZonesInstancesAreDeleted) {
  std::vector<Member> members;
  for (int i = 1; i <= 6; ++i)
    members.push_back(member("web-" + std::to_string(i),
                             kThreeZones.eligible[static_cast<std::size_t>((i - 1) % 3)]));
  EXPECT_FALSE(rebalanceStep(kThreeZones, members));

  // Zone a's instances are deleted behind the group's back.
  for (auto& m : members)
    if (m.zone == "a") m.lifecycle = Lifecycle::Terminating;
  const auto step = rebalanceStep(kThreeZones, members);
  ASSERT_TRUE(step);
  EXPECT_EQ(step->launchInto, "a");
  EXPECT_EQ(step->terminateFrom, "b");

  // Carry steps out until balanced: launch, then terminate by the scale-in
  // order within the zone named.
  int steps = 0;
  for (auto s = rebalanceStep(kThreeZones, members); s; s = rebalanceStep(kThreeZones, members)) {
    ASSERT_LT(++steps, 10);
    members.push_back(member("new-" + std::to_string(steps), s->launchInto));
    std::vector<Member> inZone;
    for (const auto& m : members)
      if (m.zone == s->terminateFrom && m.lifecycle == Lifecycle::InService) inZone.push_back(m);
    const Names out = scaleInOrder(inZone, kDefault, 2, kThreeZones, 1);
    ASSERT_EQ(out.size(), 1u);
    for (auto& m : members)
      if (m.name == out[0]) m.lifecycle = Lifecycle::Terminating;
  }
  EXPECT_EQ(steps, 1);
  // a and b hold one instance each, c two.
  EXPECT_EQ(launchZones(kThreeZones, members, 3), (Names{"a", "b", "a"}));
}

TEST(ScalingGroupSelection, RebalanceLeavesUnavailableZonesAlone) {
  const ZonePlan p{.eligible = {"a", "b", "c"}, .unavailable = {"a"}};
  EXPECT_FALSE(rebalanceStep(p, {member("web-1", "b"), member("web-2", "c")}))
      << "a is empty, but nothing can launch there";
  const auto step =
      rebalanceStep(p, {member("web-1", "b"), member("web-2", "b"), member("web-3", "b"),
                        member("web-4", "c"), member("web-5", "a"), member("web-6", "a")});
  ASSERT_TRUE(step);
  EXPECT_EQ(step->launchInto, "c");
  EXPECT_EQ(step->terminateFrom, "b");
}

TEST(ScalingGroupSelection, RebalanceMovesInstancesOutOfZonesNoLongerEligible) {
  // Balanced over a, b, c, and one instance in d, removed from the spec.
  const std::vector<Member> members{member("web-1", "a"), member("web-2", "b"),
                                    member("web-3", "c"), member("web-4", "d")};
  const auto step = rebalanceStep(kThreeZones, members);
  ASSERT_TRUE(step);
  EXPECT_EQ(step->launchInto, "a");
  EXPECT_EQ(step->terminateFrom, "d");

  // The zone holding the most of them first.
  const auto most = rebalanceStep(
      kThreeZones, {member("web-1", "d"), member("web-2", "e"), member("web-3", "e")});
  ASSERT_TRUE(most);
  EXPECT_EQ(most->terminateFrom, "e");
}

TEST(ScalingGroupSelection, RebalanceTerminatesOnlyWhereScaleInMay) {
  // a's three instances are all protected: c (2) against b (1) is balanced.
  const std::vector<Member> members{protectedMember("web-1", "a"), protectedMember("web-2", "a"),
                                    protectedMember("web-3", "a"), member("web-4", "b"),
                                    member("web-5", "c"),          member("web-6", "c")};
  EXPECT_FALSE(rebalanceStep(kThreeZones, members));
  // A protected instance outside the eligible zones stays too.
  EXPECT_FALSE(rebalanceStep(
      kThreeZones, {member("web-1", "a"), member("web-2", "b"), protectedMember("web-3", "d")}));
}

// --- scaleInOrder ---------------------------------------------------------

TEST(ScalingGroupSelection, ScaleInTakesFromTheFullestZoneFirst) {
  // The newest instance is in b, but a holds the most.
  const std::vector<Member> members{member("web-1", "a", Lifecycle::InService, 2, 300s),
                                    member("web-2", "a"), member("web-3", "a"),
                                    member("web-4", "b", Lifecycle::InService, 2, 10s)};
  const Names order = scaleInOrder(members, {"NewestInstance"}, 2, kThreeZones, 4);
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], "web-1");  // a (3) > b (1): the newest in a
  // a (2) > b (1): a again; then a (1) ties b (1): the newest of both.
  EXPECT_EQ(order[2], "web-4");
}

TEST(ScalingGroupSelection, ScaleInZoneBeatsPolicies) {
  // An old-version instance in the smaller zone waits for the zones to even out.
  const std::vector<Member> members{member("web-1", "a"), member("web-2", "a"),
                                    member("web-3", "b", Lifecycle::InService, 1)};
  const Names order = scaleInOrder(members, kDefault, 2, kThreeZones, 2);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_TRUE(order[0] == "web-1" || order[0] == "web-2");
  EXPECT_EQ(order[1], "web-3");
}

TEST(ScalingGroupSelection, ScaleInTakesUnavailableAndIneligibleZonesFirst) {
  const ZonePlan p{.eligible = {"a", "b", "c"}, .unavailable = {"c"}};
  const std::vector<Member> members{member("web-1", "a"),    member("web-2", "a"),
                                    member("web-3", "a"),    member("web-4", "c"),
                                    member("web-5", "gone"), member("web-6", "b")};
  const Names order = scaleInOrder(members, kDefault, 2, p, 3);
  ASSERT_EQ(order.size(), 3u);
  Names outside(order.begin(), order.begin() + 2);
  std::sort(outside.begin(), outside.end());
  EXPECT_EQ(outside, (Names{"web-4", "web-5"}));
  // Then a, the fullest available zone.
  EXPECT_TRUE(order[2] == "web-1" || order[2] == "web-2" || order[2] == "web-3") << order[2];
}

TEST(ScalingGroupSelection, DefaultTakesOldestLaunchTemplateFirst) {
  // Group version 3: versions 1 and 2 go first, the lowest first.
  const std::vector<Member> members{
      member("web-1", "a", Lifecycle::InService, 3), member("web-2", "a", Lifecycle::InService, 2),
      member("web-3", "a", Lifecycle::InService, 1), member("web-4", "a", Lifecycle::InService, 3)};
  const Names order = scaleInOrder(members, kDefault, 3, kThreeZones, 4);
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], "web-3");
  EXPECT_EQ(order[1], "web-2");
  // A version above the group's (a rollback) is also another version.
  EXPECT_EQ(scaleInOrder({member("web-1", "a", Lifecycle::InService, 2),
                          member("web-2", "a", Lifecycle::InService, 3)},
                         kDefault, 2, kThreeZones, 1),
            (Names{"web-2"}));
}

TEST(ScalingGroupSelection, DefaultThenTakesInstancesNotInService) {
  const std::vector<Member> members{member("web-1", "a"), member("web-2", "a", Lifecycle::Pending),
                                    member("web-3", "a"),
                                    member("web-4", "a", Lifecycle::Unhealthy)};
  const Names order = scaleInOrder(members, kDefault, 2, kThreeZones, 2);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_TRUE((order == Names{"web-2", "web-4"}) || (order == Names{"web-4", "web-2"}));
  // The launch template comes before service: an old in-service one first.
  const std::vector<Member> mixed{member("web-1", "a", Lifecycle::InService, 1),
                                  member("web-2", "a", Lifecycle::Pending)};
  EXPECT_EQ(scaleInOrder(mixed, kDefault, 2, kThreeZones, 1), (Names{"web-1"}));
  // OldestLaunchTemplate alone does not look at service.
  EXPECT_EQ(scaleInOrder(mixed, {"OldestLaunchTemplate"}, 2, kThreeZones, 2),
            (Names{"web-1", "web-2"}));
}

TEST(ScalingGroupSelection, NoPoliciesMeansDefault) {
  const std::vector<Member> members{member("web-1", "a"),
                                    member("web-2", "a", Lifecycle::InService, 1),
                                    member("web-3", "b", Lifecycle::Pending), member("web-4", "b")};
  EXPECT_EQ(scaleInOrder(members, {}, 2, kThreeZones, 4),
            scaleInOrder(members, kDefault, 2, kThreeZones, 4));
}

TEST(ScalingGroupSelection, OldestAndNewestInstance) {
  const std::vector<Member> members{member("web-1", "a", Lifecycle::InService, 2, 200s),
                                    member("web-2", "a", Lifecycle::InService, 2, 900s),
                                    member("web-3", "a", Lifecycle::InService, 2, 50s),
                                    member("web-4", "a", Lifecycle::InService, 2, 400s)};
  EXPECT_EQ(scaleInOrder(members, {"OldestInstance"}, 2, kThreeZones, 4),
            (Names{"web-2", "web-4", "web-1", "web-3"}));
  EXPECT_EQ(scaleInOrder(members, {"NewestInstance"}, 2, kThreeZones, 4),
            (Names{"web-3", "web-1", "web-4", "web-2"}));
}

TEST(ScalingGroupSelection, PoliciesApplyInOrder) {
  // web-1: oldest, current version; web-2 and web-3: version 1, web-3 the older.
  const std::vector<Member> members{member("web-1", "a", Lifecycle::InService, 2, 900s),
                                    member("web-2", "a", Lifecycle::InService, 1, 100s),
                                    member("web-3", "a", Lifecycle::InService, 1, 500s)};
  EXPECT_EQ(scaleInOrder(members, {"OldestInstance", "OldestLaunchTemplate"}, 2, kThreeZones, 3),
            (Names{"web-1", "web-3", "web-2"}));
  EXPECT_EQ(scaleInOrder(members, {"OldestLaunchTemplate", "OldestInstance"}, 2, kThreeZones, 3),
            (Names{"web-3", "web-2", "web-1"}));
  EXPECT_EQ(scaleInOrder(members, {"OldestLaunchTemplate", "NewestInstance"}, 2, kThreeZones, 3),
            (Names{"web-2", "web-3", "web-1"}));
  // NewestInstance first; created at the same time, the old version goes.
  const std::vector<Member> twins{member("web-1", "a", Lifecycle::InService, 2, 10s),
                                  member("web-2", "a", Lifecycle::InService, 1, 10s),
                                  member("web-3", "a", Lifecycle::InService, 1, 500s)};
  EXPECT_EQ(scaleInOrder(twins, {"NewestInstance", "OldestLaunchTemplate"}, 2, kThreeZones, 1),
            (Names{"web-2"}));
}

TEST(ScalingGroupSelection, ProtectedWarmAndTerminatingAreNeverChosen) {
  const std::vector<Member> members{
      protectedMember("web-1", "a"), member("web-2", "a", Lifecycle::Warm),
      member("web-3", "a", Lifecycle::Terminating), member("web-4", "b"),
      member("web-5", "b", Lifecycle::Unhealthy)};
  const Names order = scaleInOrder(members, kDefault, 2, kThreeZones, 10);
  EXPECT_EQ(order, (Names{"web-5", "web-4"})) << "fewer than asked when candidates run out";
  EXPECT_TRUE(scaleInOrder({protectedMember("web-1", "a")}, kDefault, 2, kThreeZones, 1).empty());
  EXPECT_TRUE(scaleInOrder(members, kDefault, 2, kThreeZones, 0).empty());
}

TEST(ScalingGroupSelection, ProtectedInstancesCountInTheirZone) {
  // a holds three (two protected), b two: a's one candidate goes first.
  const std::vector<Member> members{protectedMember("web-1", "a"), protectedMember("web-2", "a"),
                                    member("web-3", "a", Lifecycle::InService, 2, 10s),
                                    member("web-4", "b", Lifecycle::InService, 2, 900s),
                                    member("web-5", "b", Lifecycle::InService, 2, 800s)};
  const Names order = scaleInOrder(members, {"OldestInstance"}, 2, kThreeZones, 3);
  EXPECT_EQ(order, (Names{"web-3", "web-4", "web-5"}));
}

TEST(ScalingGroupSelection, WithoutZonesOnlyPoliciesDecide) {
  const std::vector<Member> members{member("web-1", "", Lifecycle::InService, 2, 100s),
                                    member("web-2", "", Lifecycle::InService, 2, 200s),
                                    member("web-3", "x", Lifecycle::InService, 2, 300s)};
  EXPECT_EQ(scaleInOrder(members, {"OldestInstance"}, 2, kNoZones, 3),
            (Names{"web-3", "web-2", "web-1"}));
}

TEST(ScalingGroupSelection, TieBreakIsAStableHashOfTheName) {
  // Equal in every way but the name: FNV-1a 64 of the names orders them,
  // the same on every platform.
  std::vector<Member> members;
  for (int i = 1; i <= 5; ++i) members.push_back(member("web-" + std::to_string(i), "a"));
  const Names expected{"web-4", "web-5", "web-1", "web-2", "web-3"};
  EXPECT_EQ(scaleInOrder(members, kDefault, 2, kThreeZones, 5), expected);
}

TEST(ScalingGroupSelection, SameStateSameOrder) {
  std::vector<Member> members;
  const Names zones{"a", "b", "c"};
  for (int i = 0; i < 12; ++i)
    members.push_back(member("web-" + std::to_string(i), zones[static_cast<std::size_t>(i % 3)],
                             i % 4 == 0 ? Lifecycle::Pending : Lifecycle::InService, 1 + i % 2,
                             std::chrono::seconds(100 * (i % 5))));
  const Names policies{"OldestLaunchTemplate", "NewestInstance"};
  const Names first = scaleInOrder(members, policies, 2, kThreeZones, 8);
  ASSERT_EQ(first.size(), 8u);
  EXPECT_EQ(scaleInOrder(members, policies, 2, kThreeZones, 8), first);
  std::reverse(members.begin(), members.end());
  EXPECT_EQ(scaleInOrder(members, policies, 2, kThreeZones, 8), first);
  std::rotate(members.begin(), members.begin() + 5, members.end());
  EXPECT_EQ(scaleInOrder(members, policies, 2, kThreeZones, 8), first);
  // A shorter count is a prefix of the longer order.
  EXPECT_EQ(scaleInOrder(members, policies, 2, kThreeZones, 3),
            Names(first.begin(), first.begin() + 3));
}

}  // namespace
}  // namespace kubec2::reconcilers
