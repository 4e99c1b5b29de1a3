// What load balancers report of their targets (api/target_health.h), as a
// ScalingGroup's LoadBalancer health check reads it: every target of every
// target group, an unhealthy report winning over the others.
#include <gtest/gtest.h>

#include "api/target_health.h"

namespace kubec2::api {
namespace {

using nlohmann::json;

json target(const std::string& instance, const std::string& state, const std::string& reason = "",
            const std::string& description = "") {
  json t = {{"instance", instance}, {"ip", "10.0.0.1"}, {"port", 80}, {"state", state}};
  if (!reason.empty()) t["reason"] = reason;
  if (!description.empty()) t["description"] = description;
  return t;
}

// A LoadBalancer whose status lists `groups`: target group name to targets.
v1alpha1::LoadBalancer loadBalancer(const std::string& name,
                                    std::vector<std::pair<std::string, json>> groups) {
  json tgs = json::array();
  for (auto& [tg, targets] : groups) tgs.push_back({{"name", tg}, {"targets", targets}});
  return v1alpha1::LoadBalancer::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "LoadBalancer"},
       {"metadata", {{"name", name}, {"namespace", "shop"}}},
       {"spec", {{"listeners", json::array()}, {"targetGroups", json::array()}}},
       {"status", {{"address", "10.96.0.10"}, {"healthyTargets", 1}, {"targetGroups", tgs}}}});
}

TEST(TargetHealth, ReportsEachTargetWithItsLoadBalancerAndTargetGroup) {
  TargetHealthIndex index;
  EXPECT_TRUE(index.empty());
  index.add(loadBalancer(
      "web", {{"http", json::array({target("web-1", "healthy"),
                                    target("web-2", "initial", "Elb.InitialHealthChecking")})}}));
  EXPECT_FALSE(index.empty());

  const auto one = index.of("web-1");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->state, "healthy");
  EXPECT_EQ(one->loadBalancer, "web");
  EXPECT_EQ(one->targetGroup, "http");
  EXPECT_EQ(one->reason, "");
  EXPECT_FALSE(index.unhealthy("web-1"));

  const auto two = index.of("web-2");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->state, "initial");
  EXPECT_EQ(two->reason, "Elb.InitialHealthChecking");
}

TEST(TargetHealth, AnInstanceNoLoadBalancerListsIsAbsent) {
  TargetHealthIndex index;
  EXPECT_FALSE(index.of("web-1"));
  EXPECT_FALSE(index.unhealthy("web-1"));
  index.add(loadBalancer("web", {{"http", json::array({target("web-1", "healthy")})}}));
  EXPECT_FALSE(index.of("web-9"));
  EXPECT_FALSE(index.unhealthy("web-9"));
}

TEST(TargetHealth, UnhealthyWinsAcrossTargetGroups) {
  TargetHealthIndex index;
  index.add(loadBalancer(
      "web", {{"http", json::array({target("web-1", "healthy")})},
              {"admin", json::array({target("web-1", "unhealthy", "Target.FailedHealthChecks",
                                            "Health checks failed")})},
              {"metrics", json::array({target("web-1", "initial")})}}));
  const auto r = index.of("web-1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, "unhealthy");
  EXPECT_EQ(r->targetGroup, "admin");
  EXPECT_EQ(r->reason, "Target.FailedHealthChecks");
  EXPECT_EQ(r->description, "Health checks failed");
  EXPECT_TRUE(index.unhealthy("web-1"));
}

TEST(TargetHealth, UnhealthyWinsAcrossLoadBalancersInEitherOrder) {
  const auto healthy = loadBalancer("web", {{"http", json::array({target("web-1", "healthy")})}});
  const auto failing = loadBalancer(
      "api", {{"grpc", json::array({target("web-1", "unhealthy", "Target.Timeout")})}});
  for (const bool failingFirst : {false, true}) {
    TargetHealthIndex index;
    index.add(failingFirst ? failing : healthy);
    index.add(failingFirst ? healthy : failing);
    const auto r = index.of("web-1");
    ASSERT_TRUE(r) << failingFirst;
    EXPECT_EQ(r->state, "unhealthy") << failingFirst;
    EXPECT_EQ(r->loadBalancer, "api") << failingFirst;
    EXPECT_EQ(r->reason, "Target.Timeout") << failingFirst;
    EXPECT_TRUE(index.unhealthy("web-1")) << failingFirst;
  }
}

TEST(TargetHealth, WithoutUnhealthyInitialThenHealthyThenDrainingThenUnused) {
  TargetHealthIndex index;
  index.add(loadBalancer(
      "a", {{"tg", json::array({target("web-1", "unused", "Target.NotRunning"),
                                target("web-2", "unused"), target("web-3", "draining")})}}));
  index.add(loadBalancer(
      "b", {{"tg", json::array({target("web-1", "draining"), target("web-2", "healthy"),
                                target("web-3", "healthy")})}}));
  index.add(loadBalancer("c", {{"tg", json::array({target("web-2", "initial")})}}));
  EXPECT_EQ(index.of("web-1")->state, "draining");
  EXPECT_EQ(index.of("web-2")->state, "initial");
  EXPECT_EQ(index.of("web-3")->state, "healthy");
  for (const char* name : {"web-1", "web-2", "web-3"}) EXPECT_FALSE(index.unhealthy(name)) << name;
}

TEST(TargetHealth, LoadBalancersWithoutStatusOrTargetsAddNothing) {
  TargetHealthIndex index;
  auto noStatus = loadBalancer("a", {});
  noStatus.status.reset();
  index.add(noStatus);
  index.add(loadBalancer("b", {}));  // status without target groups
  auto noTargets = v1alpha1::LoadBalancer::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "LoadBalancer"},
       {"metadata", {{"name", "c"}}},
       {"spec", {{"listeners", json::array()}, {"targetGroups", json::array()}}},
       {"status", {{"targetGroups", {{{"name", "http"}, {"healthyCount", 0}}}}}}});
  index.add(noTargets);
  EXPECT_TRUE(index.empty());
}

}  // namespace
}  // namespace kubec2::api
