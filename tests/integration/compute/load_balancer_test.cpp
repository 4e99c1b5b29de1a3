// LoadBalancers on a real API server: the operator binary checks the
// KubeVirt simulator's real listeners (HTTP on each VMI's loopback
// address), and the tests check what a user checks: the Service, the
// EndpointSlices (ready, terminating), the Ingress, the status and Events,
// and the instances a ScalingGroup drains and replaces.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "tests/integration/compute/group_probe.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/helpers.h"
#include "tests/integration/http.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The test control plane is Kubernetes 1.20: EndpointSlices are v1beta1.
const Resource kSlices{"discovery.k8s.io", "v1beta1", "endpointslices", true, "EndpointSlice"};
const Resource kIngresses{"networking.k8s.io", "v1", "ingresses", true, "Ingress"};

constexpr const char* kNs = "balancers";
constexpr const char* kGroupLabel = "compute.kubec2.io/scaling-group";

void apply(const json& manifest) {
  applyManifest(kNs, manifest);
}

json targetGroup(const std::string& name, json targets, int delay = 10) {
  return {{"name", name},
          {"port", 80},
          {"deregistrationDelaySeconds", delay},
          {"healthCheck",
           {{"path", "/healthz"},
            {"intervalSeconds", 5},
            {"timeoutSeconds", 2},
            {"healthyThresholdCount", 2},
            {"unhealthyThresholdCount", 2}}},
          {"targets", std::move(targets)}};
}

json loadBalancer(const std::string& name, json spec) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "LoadBalancer"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

class LoadBalancers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim_ = new SimulatedNamespace(kNs, {.bootDelayMs = 300, .ipRangeStart = "127.9.0.1"});
    apply(launchTemplate("web"));
  }
  static void TearDownTestSuite() { delete sim_; }
  void TearDown() override {
    for (const auto& g : client.list(kLoadBalancers, kNs).items)
      kubectl({"delete", "loadbalancer", "-n", kNs, g["metadata"]["name"], "--wait=false"});
    for (const auto& g : client.list(kGroups, kNs).items)
      kubectl({"delete", "scalinggroup", "-n", kNs, g["metadata"]["name"], "--wait=false"});
    EXPECT_TRUE(eventually(
        [&] {
          return client.list(kGroups, kNs).items.empty() &&
                 client.list(kLoadBalancers, kNs).items.empty();
        },
        90s))
        << "objects left behind\n"
        << tail(WebhookEnvironment::get().operatorLog());
  }

  void group(const std::string& name, json spec) {
    spec["launchTemplateRef"] = {{"name", "web"}};
    apply({{"apiVersion", "compute.kubec2.io/v1alpha1"},
           {"kind", "ScalingGroup"},
           {"metadata", {{"name", name}}},
           {"spec", std::move(spec)}});
  }
  std::vector<json> members(const std::string& g) {
    std::vector<json> out;
    for (auto& i :
         client.list(kInstances, kNs, {.labelSelector = std::string(kGroupLabel) + "=" + g}).items)
      if (!i["metadata"].contains("deletionTimestamp") &&
          i.value("status", json::object()).value("state", "") == "running")
        out.push_back(std::move(i));
    return out;
  }
  // The Instance, or null when it is gone.
  json instance(const std::string& name) {
    try {
      return client.get(kInstances, kNs, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return nullptr;
      throw;
    }
  }
  json status(const std::string& lb) {
    try {
      return client.get(kLoadBalancers, kNs, lb).value("status", json::object());
    } catch (const ApiError& e) {
      if (e.isNotFound()) return json::object();
      throw;
    }
  }
  // The endpoints of the load balancer's slices: instance -> conditions and address.
  std::map<std::string, json> endpoints(const std::string& lb) {
    std::map<std::string, json> out;
    for (const auto& s :
         client.list(kSlices, kNs, {.labelSelector = "kubernetes.io/service-name=" + lb}).items)
      for (const auto& e : s.value("endpoints", json::array()))
        out[e["targetRef"].value("name", "")] = e;
    return out;
  }
  std::set<std::string> readyEndpoints(const std::string& lb) {
    std::set<std::string> out;
    for (const auto& [name, e] : endpoints(lb))
      if (e["conditions"].value("ready", false)) out.insert(name);
    return out;
  }
  std::set<std::string> names(const std::vector<json>& objects) {
    std::set<std::string> out;
    for (const auto& o : objects) out.insert(o["metadata"]["name"].get<std::string>());
    return out;
  }
  std::vector<std::string> events(const std::string& lb, const std::string& reason) {
    std::vector<std::string> out;
    for (const auto& e : client.list(kEvents, kNs).items)
      if (e["involvedObject"].value("name", "") == lb &&
          e["involvedObject"].value("kind", "") == "LoadBalancer" &&
          e.value("reason", "") == reason)
        out.push_back(e.value("message", ""));
    return out;
  }
  void fault(const std::string& instance, const std::string& kind) {
    json body{{"namespace", kNs}, {"name", instance}};
    if (kind == "clear")
      body["clear"] = true;
    else
      body["fault"] = kind;
    const auto [code, answer] = http("POST", sim_->controlUrl() + "/faults", body.dump());
    ASSERT_EQ(code, 200) << answer;
  }
  static std::string tail(const std::string& s) {
    return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
  }
  std::string explain(const std::string& lb) {
    std::string out = "load balancer status: " + status(lb).dump() + "\nendpoints:";
    for (const auto& [name, e] : endpoints(lb)) out += "\n  " + name + " " + e.dump();
    std::string drains;
    const std::string log = WebhookEnvironment::get().operatorLog();
    for (std::size_t at = 0, end; at < log.size(); at = end + 1) {
      end = log.find('\n', at);
      if (end == std::string::npos) end = log.size();
      const std::string line = log.substr(at, end - at);
      if (line.find("drain") != std::string::npos) drains += line + "\n";
    }
    return out + "\noperator log, drains:\n" + drains + "operator log tail:\n" + tail(log);
  }

  RestClient client{adminConfig()};
  static SimulatedNamespace* sim_;
};
SimulatedNamespace* LoadBalancers::sim_ = nullptr;

TEST_F(LoadBalancers, AGroupsInstancesBecomeReadyEndpointsFailHealthChecksAndDrainOnScaleIn) {
  group("web", {{"minSize", 1}, {"maxSize", 3}, {"desiredCapacity", 2}});
  apply(loadBalancer(
      "web",
      {{"type", "application"},
       {"listeners", {{{"port", 8080}, {"protocol", "HTTP"}, {"defaultTargetGroup", "app"}}}},
       {"targetGroups", {targetGroup("app", {{"scalingGroupRef", {{"name", "web"}}}})}}}));

  // The Service: no selector, one port per listener, owned by the load balancer.
  ASSERT_TRUE(eventually([&] {
    try {
      client.get(kServices, kNs, "web");
      return true;
    } catch (const ApiError&) {
      return false;
    }
  })) << explain("web");
  const json svc = client.get(kServices, kNs, "web");
  EXPECT_EQ(svc["spec"]["type"], "ClusterIP");
  EXPECT_FALSE(svc["spec"].contains("selector"));
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 8080);
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"], 80);
  EXPECT_EQ(svc["metadata"]["ownerReferences"][0]["kind"], "LoadBalancer");

  // Both instances pass two checks 5 s apart: ready endpoints at their addresses.
  ASSERT_TRUE(eventually([&] { return members("web").size() == 2; }, 60s)) << explain("web");
  ASSERT_TRUE(eventually([&] { return readyEndpoints("web") == names(members("web")); }, 60s))
      << explain("web");
  for (const auto& i : members("web")) {
    const json e = endpoints("web").at(i["metadata"]["name"]);
    EXPECT_EQ(e["addresses"][0], i["status"]["privateIP"]);
  }
  const json s = status("web");
  EXPECT_EQ(s.value("healthyTargets", -1), 2) << s.dump();
  EXPECT_EQ(s.value("address", ""), svc["spec"]["clusterIP"]) << s.dump();
  const auto [gc, columns] = kubectl({"get", "lb", "web", "-n", kNs});
  EXPECT_NE(columns.find("application"), std::string::npos) << columns;

  // One instance answers 503: unhealthy after two checks, out of the ready endpoints.
  const std::string sick = members("web").front()["metadata"]["name"];
  fault(sick, "fail-health");
  ASSERT_TRUE(eventually([&] { return !readyEndpoints("web").contains(sick); }, 40s))
      << explain("web");
  EXPECT_TRUE(eventually([&] {
    for (const auto& t : status("web")["targetGroups"][0].value("targets", json::array()))
      if (t["instance"] == sick)
        return t["state"] == "unhealthy" && t.value("reason", "") == "Target.ResponseCodeMismatch";
    return false;
  })) << explain("web");
  EXPECT_TRUE(eventually([&] { return !events("web", "TargetUnhealthy").empty(); }, 30s));
  fault(sick, "clear");
  ASSERT_TRUE(eventually([&] { return readyEndpoints("web").contains(sick); }, 40s))
      << explain("web");

  // Scale-in: the instance leaving drains: its endpoint stays, not ready
  // (1.20 drops the serving and terminating conditions; newer servers
  // keep them), status says draining and until when, and its VM keeps
  // running until the 10 s delay ends.
  const auto before = names(members("web"));
  auto [code, out] = kubectl({"scale", "scalinggroup", "web", "-n", kNs, "--replicas=1"});
  ASSERT_EQ(code, 0) << out;
  std::string leaving;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& t : status("web")["targetGroups"][0].value("targets", json::array()))
          if (t["state"] == "draining" && t.contains("drainingUntil"))
            leaving = t["instance"].get<std::string>();
        return !leaving.empty();
      },
      30s))
      << explain("web");
  EXPECT_TRUE(before.contains(leaving));
  const auto drainingEndpoints = endpoints("web");
  ASSERT_TRUE(drainingEndpoints.contains(leaving)) << explain("web");
  EXPECT_FALSE(drainingEndpoints.at(leaving)["conditions"].value("ready", true))
      << "no new connections while it drains";
  ASSERT_TRUE(eventually(
      [&] {
        return instance(leaving).dump().find("draining from LoadBalancer web") != std::string::npos;
      },
      20s))
      << instance(leaving).dump() << "\n"
      << explain("web");
  EXPECT_EQ(instance(leaving)["status"]["state"], "shutting-down");
  // Its VM still runs while it drains.
  const auto [vc, vm] = kubectl({"get", "vm", leaving, "-n", kNs, "-o", "json"});
  ASSERT_EQ(vc, 0) << vm << "\n" << explain("web");
  EXPECT_FALSE(json::parse(vm)["metadata"].contains("deletionTimestamp"))
      << "the VM is stopped only when the drain ends";
  ASSERT_TRUE(eventually([&] { return !endpoints("web").contains(leaving); }, 40s))
      << explain("web");
  EXPECT_TRUE(eventually([&] { return instance(leaving).is_null(); }, 120s));
  EXPECT_FALSE(events("web", "TargetDraining").empty());
}

TEST_F(LoadBalancers, AnApplicationLoadBalancersRulesBecomeAnIngressAndItsServiceFacesOutward) {
  apply({{"apiVersion", "compute.kubec2.io/v1alpha1"},
         {"kind", "Instance"},
         {"metadata", {{"name", "api-1"}, {"labels", {{"tier", "api"}}}}},
         {"spec", {{"launchTemplateRef", {{"name", "web"}}}}}});
  apply(loadBalancer(
      "shop",
      {{"type", "application"},
       {"scheme", "internet-facing"},
       {"listeners",
        {{{"port", 80},
          {"protocol", "HTTP"},
          {"defaultTargetGroup", "site"},
          {"rules",
           {{{"priority", 10},
             {"conditions", {{"hostHeaders", {"shop.example.com"}}, {"pathPatterns", {"/api/*"}}}},
             {"targetGroup", "api"}}}}}}},
       {"targetGroups",
        {targetGroup("site", {{"instanceRefs", {{{"name", "api-1"}}}}}),
         targetGroup("api", {{"instanceSelector", {{"matchLabels", {{"tier", "api"}}}}}})}}}));
  ASSERT_TRUE(eventually([&] {
    try {
      client.get(kIngresses, kNs, "shop");
      return true;
    } catch (const ApiError&) {
      return false;
    }
  })) << explain("shop");
  const json ing = client.get(kIngresses, kNs, "shop");
  const json rule = ing["spec"]["rules"][0];
  EXPECT_EQ(rule["host"], "shop.example.com") << ing.dump();
  EXPECT_EQ(rule["http"]["paths"][0]["path"], "/api") << ing.dump();
  EXPECT_EQ(rule["http"]["paths"][0]["pathType"], "Prefix") << ing.dump();
  EXPECT_EQ(rule["http"]["paths"][0]["backend"]["service"]["name"], "shop") << ing.dump();
  EXPECT_EQ(client.get(kServices, kNs, "shop")["spec"]["type"], "LoadBalancer");
  // One instance in two target groups: healthy in both.
  ASSERT_TRUE(eventually([&] { return status("shop").value("healthyTargets", -1) == 2; }, 60s))
      << explain("shop");
  auto condition = [&](const std::string& type) {
    for (const auto& c : status("shop").value("conditions", json::array()))
      if (c.value("type", "") == type) return c;
    return json::object();
  };
  EXPECT_EQ(condition("TargetsResolved").value("status", ""), "True") << explain("shop");

  // A user renumbers the Service's port by hand (80 -> 82; 81 is tg-api): the
  // operator's applies would be refused (Duplicate value) forever; it
  // restores the port instead, and the cluster IP stays.
  const std::string clusterIP = client.get(kServices, kNs, "shop")["spec"]["clusterIP"];
  {
    auto [code, out] = kubectl({"patch", "service", "shop", "-n", kNs, "--type=json", "-p",
                                R"([{"op":"replace","path":"/spec/ports/0/port","value":82}])"});
    ASSERT_EQ(code, 0) << out;
  }
  EXPECT_TRUE(eventually(
      [&] {
        const json ports = client.get(kServices, kNs, "shop")["spec"]["ports"];
        return ports.size() == 2 && ports[0]["name"] == "listener-80" && ports[0]["port"] == 80;
      },
      15s))
      << client.get(kServices, kNs, "shop")["spec"].dump() << explain("shop");
  EXPECT_EQ(client.get(kServices, kNs, "shop")["spec"]["clusterIP"], clusterIP);
  EXPECT_TRUE(eventually([&] { return !events("shop", "ServiceRestored").empty(); }, 15s));
  EXPECT_EQ(condition("Ready").value("status", ""), "True") << explain("shop");

  // Deleting the load balancer takes its Service, slices and Ingress with it.
  auto [code, out] = kubectl({"delete", "loadbalancer", "shop", "-n", kNs});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually(
      [&] {
        return client.list(kSlices, kNs, {.labelSelector = "kubernetes.io/service-name=shop"})
                   .items.empty() &&
               client.list(kIngresses, kNs).items.empty();
      },
      60s));
  kubectl({"delete", "instance", "api-1", "-n", kNs, "--wait=false"});
}

TEST_F(LoadBalancers, AGroupCheckedByItsLoadBalancerReplacesAnInstanceThatFailsItsChecks) {
  group("checked", {{"minSize", 2},
                    {"maxSize", 2},
                    {"healthCheck", {{"type", "LoadBalancer"}, {"gracePeriodSeconds", 20}}},
                    {"loadBalancerRefs", {{{"name", "checked"}}}}});
  apply(loadBalancer(
      "checked",
      {{"type", "network"},
       {"listeners", {{{"port", 9000}, {"protocol", "TCP"}, {"defaultTargetGroup", "app"}}}},
       {"targetGroups",
        {{{"name", "app"},
          {"port", 80},
          {"protocol", "TCP"},
          {"deregistrationDelaySeconds", 0},
          {"healthCheck",
           {{"protocol", "HTTP"},
            {"path", "/healthz"},
            {"intervalSeconds", 5},
            {"timeoutSeconds", 2},
            {"healthyThresholdCount", 2},
            {"unhealthyThresholdCount", 2}}},
          {"targets", {{"scalingGroupRef", {{"name", "checked"}}}}}}}}}));
  ASSERT_TRUE(eventually([&] { return readyEndpoints("checked").size() == 2; }, 90s))
      << explain("checked");
  const std::string sick = *readyEndpoints("checked").begin();
  fault(sick, "hang-health");
  // Timeouts make it unhealthy; past its grace period the group replaces it.
  ASSERT_TRUE(eventually(
      [&] {
        const auto now = names(members("checked"));
        return now.size() == 2 && !now.contains(sick);
      },
      120s))
      << explain("checked");
  EXPECT_TRUE(eventually([&] { return readyEndpoints("checked").size() == 2; }, 60s))
      << explain("checked");
}

// A user's Service already holds the name: the load balancer leaves it
// alone (no ownerReference, no port, no EndpointSlice naming it), says
// why, and deleting the load balancer does not delete the user's Service.
TEST_F(LoadBalancers, AUsersServiceOfTheSameNameIsNeverTakenOver) {
  {
    auto [code, out] =
        kubectl({"create", "service", "clusterip", "mine", "--tcp=5432:5432", "-n", kNs});
    ASSERT_EQ(code, 0) << out;
  }
  apply(loadBalancer(
      "mine", {{"type", "application"},
               {"listeners", {{{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "tg"}}}},
               {"targetGroups", {targetGroup("tg", {{"instanceRefs", {{{"name", "nobody"}}}}})}}}));
  auto ready = [&] {
    for (const auto& c : status("mine").value("conditions", json::array()))
      if (c.value("type", "") == "Ready") return c;
    return json::object();
  };
  ASSERT_TRUE(eventually([&] { return ready().value("reason", "") == "NameConflict"; }, 30s))
      << explain("mine");
  EXPECT_EQ(ready().value("status", ""), "False");
  EXPECT_FALSE(events("mine", "NameConflict").empty());
  const json svc = client.get(kServices, kNs, "mine");
  EXPECT_FALSE(svc["metadata"].contains("ownerReferences")) << svc.dump();
  ASSERT_EQ(svc["spec"]["ports"].size(), 1u) << svc.dump();
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 5432);
  EXPECT_TRUE(client.list(kSlices, kNs, {.labelSelector = "compute.kubec2.io/load-balancer=mine"})
                  .items.empty());
  EXPECT_THROW(client.get(kIngresses, kNs, "mine"), ApiError) << "its backend would be the user's";

  auto [code, out] = kubectl({"delete", "loadbalancer", "mine", "-n", kNs});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NO_THROW(client.get(kServices, kNs, "mine")) << "the user's Service stays";
  kubectl({"delete", "service", "mine", "-n", kNs});
}

TEST_F(LoadBalancers, ARenamedTargetGroupsHealthyTargetDrainsAndAnInstanceDeletedMeanwhileWaits) {
  group("renamed", {{"minSize", 0}, {"maxSize", 1}, {"desiredCapacity", 1}});
  auto spec = [](const std::string& tg) {
    return json{
        {"type", "application"},
        {"listeners", {{{"port", 8081}, {"protocol", "HTTP"}, {"defaultTargetGroup", tg}}}},
        {"targetGroups", {targetGroup(tg, {{"scalingGroupRef", {{"name", "renamed"}}}}, 20)}}};
  };
  apply(loadBalancer("renamed", spec("old")));
  ASSERT_TRUE(eventually([&] { return readyEndpoints("renamed").size() == 1; }, 90s))
      << explain("renamed");
  const std::string target = *readyEndpoints("renamed").begin();
  // The slices of target group `tg`: their endpoints' instance names.
  auto sliceMembers = [&](const std::string& tg) {
    std::vector<std::string> out;
    for (const auto& sl :
         client.list(kSlices, kNs, {.labelSelector = "compute.kubec2.io/target-group=" + tg}).items)
      for (const auto& e : sl.value("endpoints", json::array()))
        out.push_back(e["targetRef"].value("name", ""));
    return out;
  };
  auto groupStatus = [&](const std::string& tg) {
    for (const auto& g : status("renamed").value("targetGroups", json::array()))
      if (g["name"] == tg) return g;
    return json();
  };

  apply(loadBalancer("renamed", spec("new")));
  // The old group's registration drains; its status entry and slice stay.
  ASSERT_TRUE(eventually(
      [&] {
        const json g = groupStatus("old");
        return !g.is_null() && g.value("drainingCount", 0) == 1 &&
               g["targets"][0].contains("drainingUntil");
      },
      30s))
      << explain("renamed");
  EXPECT_EQ(sliceMembers("old"), std::vector<std::string>{target}) << explain("renamed");
  EXPECT_EQ(groupStatus("new")["targets"][0].value("state", ""), "initial")
      << "a new group registers its targets anew";
  EXPECT_TRUE(eventually([&] { return !events("renamed", "TargetDraining").empty(); }, 20s));

  // The instance deleted meanwhile waits for that drain, though the old
  // group is no longer in spec.
  auto [code, out] = kubectl({"scale", "scalinggroup", "renamed", "-n", kNs, "--replicas=0"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually(
      [&] {
        return instance(target).dump().find(
                   "draining from LoadBalancer renamed (target group "
                   "old)") != std::string::npos;
      },
      20s))
      << instance(target).dump() << "\n"
      << explain("renamed");

  // When the 20 s end: the old group's slice and status entry go.
  ASSERT_TRUE(eventually([&] { return groupStatus("old").is_null(); }, 40s)) << explain("renamed");
  EXPECT_TRUE(eventually([&] { return sliceMembers("old").empty(); }, 10s)) << explain("renamed");
  EXPECT_TRUE(eventually([&] { return instance(target).is_null(); }, 90s));
}

}  // namespace
}  // namespace kube::testing
