// The nodes as the ScalingGroup controller keeps them between events
// (controllers/scalinggroup/node_views.h): what a node's JSON says about its
// zone and whether it takes new instances, and which node events are worth
// waking every group for (a heartbeat is not).
#include "controllers/scalinggroup/node_views.h"

#include <gtest/gtest.h>

namespace kubec2::controllers {
namespace {

using nlohmann::json;

kube::RawObject node(const std::string& name, const std::string& zone, const std::string& ready,
                     bool unschedulable = false, const std::string& heartbeat = "t0") {
  json n = {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", name}}},
            {"status",
             {{"conditions",
               {{{"type", "Ready"}, {"status", ready}, {"lastHeartbeatTime", heartbeat}}}}}}};
  if (!zone.empty()) n["metadata"]["labels"] = {{"topology.kubernetes.io/zone", zone}};
  if (unschedulable) n["spec"] = {{"unschedulable", true}};
  return kube::RawObject::fromText(n.dump());
}

TEST(NodeViewOf, ReadsTheZoneAndWhetherTheNodeTakesNewInstances) {
  auto v = nodeViewOf(node("n1", "zone-a", "True"));
  EXPECT_EQ(v.zone, "zone-a");
  EXPECT_TRUE(v.schedulable);
  EXPECT_FALSE(nodeViewOf(node("n1", "zone-a", "False")).schedulable);
  EXPECT_FALSE(nodeViewOf(node("n1", "zone-a", "True", /*unschedulable=*/true)).schedulable);
  v = nodeViewOf(node("n1", "", "True"));
  EXPECT_EQ(v.zone, "");
  // No status at all: not Ready, so not schedulable; no throw.
  v = nodeViewOf(kube::RawObject::fromText(R"({"kind":"Node","metadata":{"name":"bare"}})"));
  EXPECT_FALSE(v.schedulable);
}

TEST(NodeViews, AHeartbeatChangesNothingTheGroupsSee) {
  NodeViews views;
  EXPECT_TRUE(views.put("n1", nodeViewOf(node("n1", "zone-a", "True", false, "t0"))));
  // The kubelet's heartbeat every 10 s: same zone, still Ready.
  EXPECT_FALSE(views.put("n1", nodeViewOf(node("n1", "zone-a", "True", false, "t1"))));
  EXPECT_FALSE(views.put("n1", nodeViewOf(node("n1", "zone-a", "True", false, "t2"))));
  ASSERT_EQ(views.list().size(), 1u);
  EXPECT_TRUE(views.list()[0].schedulable);
}

TEST(NodeViews, ANodeNotReadyCordonedMovedOrGoneIsAChange) {
  NodeViews views;
  ASSERT_TRUE(views.put("n1", nodeViewOf(node("n1", "zone-a", "True"))));
  ASSERT_TRUE(views.put("n2", nodeViewOf(node("n2", "zone-b", "True"))));
  EXPECT_TRUE(views.put("n1", nodeViewOf(node("n1", "zone-a", "False"))));
  EXPECT_FALSE(views.list()[0].schedulable);
  EXPECT_TRUE(views.put("n1", nodeViewOf(node("n1", "zone-a", "True"))));
  EXPECT_TRUE(views.put("n1", nodeViewOf(node("n1", "zone-a", "True", /*unschedulable=*/true))));
  EXPECT_TRUE(views.put("n2", nodeViewOf(node("n2", "zone-c", "True"))));
  EXPECT_EQ(views.list()[1].zone, "zone-c");
  EXPECT_TRUE(views.erase("n2"));
  EXPECT_FALSE(views.erase("n2"));
  ASSERT_EQ(views.list().size(), 1u);
  EXPECT_EQ(views.list()[0].zone, "zone-a");
}

}  // namespace
}  // namespace kubec2::controllers
