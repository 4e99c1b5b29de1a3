// ScalingGroups on a real API server with KubeVirt's CRDs: the operator
// binary (its ScalingGroup and Instance controllers, its webhook) and the
// KubeVirt simulator with its three zones and fault API run as processes;
// the tests act as a user would, through kubectl, and check what a user
// checks: instances, their zones, the group's status and Events.
#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/timefmt.h"
#include "tests/integration/child_process.h"
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

constexpr const char* kNs = "groups";
constexpr const char* kGroupLabel = "compute.kubec2.io/scaling-group";

void apply(const json& manifest) {
  applyManifest(kNs, manifest);
}

json group(const std::string& name, json spec) {
  if (!spec.contains("launchTemplateRef")) spec["launchTemplateRef"] = {{"name", "web"}};
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "ScalingGroup"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

class ScalingGroups : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Boots take 1 s, so a fault can be set on a new instance before it boots.
    sim_ = new SimulatedNamespace(kNs, {.bootDelayMs = 1000, .ipRangeStart = "127.7.0.1"});
    auto [code, out] = kubectl({"apply", "-n", kNs, "-f", writeManifest(launchTemplate("web"))});
    ASSERT_EQ(code, 0) << out;
  }
  static void TearDownTestSuite() { delete sim_; }
  void TearDown() override {
    // Each test's group goes with its instances, so the next starts clean.
    for (const auto& g : client.list(kGroups, kNs).items)
      kubectl({"delete", "scalinggroup", "-n", kNs, g["metadata"]["name"], "--wait=false"});
    EXPECT_TRUE(eventually([&] { return client.list(kGroups, kNs).items.empty(); }, 90s))
        << "groups left behind\n"
        << tail(WebhookEnvironment::get().operatorLog());
  }

  // The group's instances that are not being deleted.
  std::vector<json> members(const std::string& g) {
    std::vector<json> out;
    for (auto& i :
         client.list(kInstances, kNs, {.labelSelector = std::string(kGroupLabel) + "=" + g}).items)
      if (!i["metadata"].contains("deletionTimestamp")) out.push_back(std::move(i));
    return out;
  }
  std::vector<json> running(const std::string& g) {
    std::vector<json> out;
    for (auto& i : members(g))
      if (i.value("status", json::object()).value("state", "") == "running") out.push_back(i);
    return out;
  }
  json status(const std::string& g) {
    try {
      return client.get(kGroups, kNs, g).value("status", json::object());
    } catch (const ApiError& e) {
      if (e.isNotFound()) return json::object();
      throw;
    }
  }
  std::string condition(const std::string& g, const std::string& type) {
    for (const auto& c : status(g).value("conditions", json::array()))
      if (c.value("type", "") == type) return c.value("status", "") + "/" + c.value("reason", "");
    return "";
  }
  static std::map<std::string, int> zonesOf(const std::vector<json>& instances) {
    std::map<std::string, int> out;
    for (const auto& i : instances) ++out[i.value("status", json::object()).value("zone", "")];
    return out;
  }
  std::vector<std::string> groupEvents(const std::string& g, const std::string& reason) {
    std::vector<std::string> out;
    for (const auto& e : client.list(kEvents, kNs).items)
      if (e["involvedObject"].value("name", "") == g &&
          e["involvedObject"].value("kind", "") == "ScalingGroup" &&
          e.value("reason", "") == reason)
        out.push_back(e.value("message", ""));
    return out;
  }
  bool eventSeen(const std::string& g, const std::string& reason) {
    return eventually([&] { return !groupEvents(g, reason).empty(); }, 30s);
  }
  // Waits until `n` instances run and the group says so, keeping the most
  // instances seen at any sample in `peak`.
  bool settlesAt(const std::string& g, std::size_t n, std::size_t* peak = nullptr,
                 std::chrono::milliseconds within = 90s) {
    return eventually(
        [&] {
          const auto all = members(g);
          if (peak) *peak = std::max(*peak, all.size());
          const json s = status(g);
          return all.size() == n && running(g).size() == n &&
                 s.value("inServiceCount", -1) == int(n) &&
                 s.value("currentCapacity", -1) == int(n);
        },
        within);
  }
  void fault(const std::string& instance, const std::string& kind) {
    const auto [code, body] =
        http("POST", sim_->controlUrl() + "/faults",
             json{{"namespace", kNs}, {"name", instance}, {"fault", kind}}.dump());
    ASSERT_EQ(code, 200) << body;
  }
  static std::string tail(const std::string& s) {
    return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
  }
  std::string explain(const std::string& g) {
    std::string out = "group status: " + status(g).dump() + "\ninstances:";
    for (const auto& i : members(g))
      out +=
          "\n  " + i["metadata"].value("name", "") + " " + i.value("status", json::object()).dump();
    // The first errors say more than the last, which repeat them.
    const std::string log = WebhookEnvironment::get().operatorLog();
    std::string firstErrors;
    std::size_t at = 0;
    for (int n = 0; n < 3 && (at = log.find("\"level\":\"error\"", at)) != std::string::npos; ++n) {
      const std::size_t begin = log.rfind('\n', at);
      const std::size_t end = log.find('\n', at);
      firstErrors += log.substr(begin == std::string::npos ? 0 : begin + 1,
                                end == std::string::npos ? std::string::npos : end - begin) +
                     "\n";
      at = end == std::string::npos ? log.size() : end;
    }
    return out + "\nfirst operator errors:\n" + firstErrors + "operator log tail:\n" + tail(log);
  }

  RestClient client{adminConfig()};
  static SimulatedNamespace* sim_;
};
SimulatedNamespace* ScalingGroups::sim_ = nullptr;

TEST_F(ScalingGroups, KubectlScaleFromZeroToSixAcrossZonesAndBackToZero) {
  apply(group("web", {{"minSize", 0}, {"maxSize", 6}, {"desiredCapacity", 0}}));
  ASSERT_TRUE(eventually([&] { return status("web").value("desiredCapacity", -1) == 0; }))
      << explain("web");
  EXPECT_EQ(status("web").value("selector", ""),
            "compute.kubec2.io/scaling-group=web,compute.kubec2.io/warm-pool notin (true)");

  auto [code, out] = kubectl({"scale", "scalinggroup", "web", "-n", kNs, "--replicas=6"});
  ASSERT_EQ(code, 0) << out;
  std::size_t peak = 0;
  ASSERT_TRUE(settlesAt("web", 6, &peak)) << explain("web");
  EXPECT_LE(peak, 6u) << "never more instances than the capacity in force";
  const auto six = members("web");
  EXPECT_EQ(zonesOf(six),
            (std::map<std::string, int>{{"us-east-1a", 2}, {"us-east-1b", 2}, {"us-east-1c", 2}}));
  for (const auto& i : six) {
    EXPECT_EQ(i["metadata"]["name"].get<std::string>().rfind("web-", 0), 0u) << i["metadata"];
    EXPECT_EQ(i["metadata"]["ownerReferences"][0]["kind"], "ScalingGroup");
    EXPECT_EQ(i["metadata"]["ownerReferences"][0]["controller"], true);
  }
  EXPECT_TRUE(eventually([&] { return condition("web", "Ready") == "True/InService"; }))
      << explain("web");
  EXPECT_TRUE(eventSeen("web", "Launch"));
  // The scale subresource, as HPA and KEDA read it.
  auto [rc, raw] =
      kubectl({"get", "--raw",
               "/apis/compute.kubec2.io/v1alpha1/namespaces/groups/scalinggroups/web/scale"});
  ASSERT_EQ(rc, 0) << raw;
  const json scale = json::parse(raw);
  EXPECT_EQ(scale["spec"]["replicas"], 6);
  EXPECT_EQ(scale["status"]["replicas"], 6);
  EXPECT_EQ(scale["status"]["selector"],
            "compute.kubec2.io/scaling-group=web,compute.kubec2.io/warm-pool notin (true)");
  // Activities record the cause in words.
  const auto activities = status("web").value("activities", json::array());
  ASSERT_FALSE(activities.empty());
  EXPECT_NE(activities.dump().find("spec.desiredCapacity"), std::string::npos) << activities.dump();

  std::tie(code, out) = kubectl({"scale", "scalinggroup", "web", "-n", kNs, "--replicas=0"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually(
      [&] { return members("web").empty() && status("web").value("currentCapacity", -1) == 0; },
      60s))
      << explain("web");
  EXPECT_TRUE(eventSeen("web", "Terminate"));
}

TEST_F(ScalingGroups, AnInstanceDeletedByHandIsReplacedInItsZone) {
  apply(group("hand", {{"minSize", 3}, {"maxSize", 3}}));
  ASSERT_TRUE(settlesAt("hand", 3)) << explain("hand");
  const json gone = members("hand").front();
  const std::string name = gone["metadata"]["name"];
  const std::string zone = gone["status"]["zone"];
  auto [code, out] = kubectl({"delete", "instance", name, "-n", kNs, "--wait=false"});
  ASSERT_EQ(code, 0) << out;
  ASSERT_TRUE(eventually(
      [&] {
        const auto now = running("hand");
        if (now.size() != 3) return false;
        for (const auto& i : now)
          if (i["metadata"]["name"] == name) return false;
        return true;
      },
      60s))
      << explain("hand");
  EXPECT_EQ(zonesOf(members("hand"))[zone], 1) << "the replacement launched where one was missing";
}

TEST_F(ScalingGroups, MoreZonesRebalanceByLaunchingBeforeTerminating) {
  apply(group("spread", {{"minSize", 3}, {"maxSize", 3}, {"availabilityZones", {"us-east-1a"}}}));
  ASSERT_TRUE(settlesAt("spread", 3)) << explain("spread");
  EXPECT_EQ(zonesOf(members("spread")), (std::map<std::string, int>{{"us-east-1a", 3}}));

  apply(group("spread", {{"minSize", 3},
                         {"maxSize", 3},
                         {"availabilityZones", {"us-east-1a", "us-east-1b", "us-east-1c"}}}));
  std::size_t peak = 0;
  std::size_t fewestRunning = 3;
  ASSERT_TRUE(eventually(
      [&] {
        const auto all = members("spread");
        peak = std::max(peak, all.size());
        fewestRunning = std::min(fewestRunning, running("spread").size());
        return zonesOf(all) == std::map<std::string, int>{{"us-east-1a", 1},
                                                          {"us-east-1b", 1},
                                                          {"us-east-1c", 1}} &&
               running("spread").size() == 3;
      },
      120s))
      << explain("spread");
  EXPECT_LE(peak, 4u) << "one launch above the capacity at a time";
  EXPECT_GE(fewestRunning, 3u) << "launch before terminate: never fewer in service";
  EXPECT_TRUE(eventSeen("spread", "AZRebalance"));
}

TEST_F(ScalingGroups, ACrashedInstanceIsReplacedAfterTheGracePeriodNotBefore) {
  apply(group("crash",
              {{"minSize", 1}, {"maxSize", 1}, {"healthCheck", {{"gracePeriodSeconds", 20}}}}));
  ASSERT_TRUE(settlesAt("crash", 1)) << explain("crash");
  const std::string first = members("crash").front()["metadata"]["name"];
  const auto launched = std::chrono::steady_clock::now();
  // Within the grace period a failure is not held against it.
  fault(first, "crash");
  while (std::chrono::steady_clock::now() < launched + 15s) {
    const auto now = members("crash");
    ASSERT_EQ(now.size(), 1u) << explain("crash");
    ASSERT_EQ(now.front()["metadata"]["name"], first) << "replaced within the grace period";
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(settlesAt("crash", 1)) << explain("crash");
  std::this_thread::sleep_for(6s);  // past the 20 s grace period from the launch
  fault(first, "crash");
  ASSERT_TRUE(eventually(
      [&] {
        const auto now = running("crash");
        return now.size() == 1 && now.front()["metadata"]["name"] != first;
      },
      60s))
      << explain("crash");
  EXPECT_TRUE(eventSeen("crash", "ReplaceUnhealthy"));
  bool named = false;
  for (const auto& m : groupEvents("crash", "ReplaceUnhealthy"))
    named = named || m.find(first) != std::string::npos;
  EXPECT_TRUE(named) << "the Event names the instance replaced";
}

// The operator runs with --instance-start-timeout-seconds 30
// (tests/integration/webhook_env.cpp): a launch gets 30 s to start even with
// an 8 s grace period, and is replaced then.
TEST_F(ScalingGroups, AVmThatNeverBootsIsReplacedAfterTheStartTimeoutNotTheShorterGracePeriod) {
  apply(group("stuck", {{"minSize", 0},
                        {"maxSize", 1},
                        {"desiredCapacity", 0},
                        {"healthCheck", {{"gracePeriodSeconds", 8}}}}));
  ASSERT_TRUE(eventually([&] { return status("stuck").value("desiredCapacity", -1) == 0; }));
  auto [code, out] = kubectl({"scale", "scalinggroup", "stuck", "-n", kNs, "--replicas=1"});
  ASSERT_EQ(code, 0) << out;
  std::string first;
  ASSERT_TRUE(eventually(
      [&] {
        const auto m = members("stuck");
        if (m.empty()) return false;
        first = m.front()["metadata"]["name"];
        return true;
      },
      30s));
  fault(first, "hang-boot");  // before its 1 s boot ends
  const auto since = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        const auto now = running("stuck");
        return now.size() == 1 && now.front()["metadata"]["name"] != first;
      },
      90s))
      << explain("stuck");
  // Created at most 1 s before `since`: replaced no sooner than 30 s after.
  EXPECT_GE(std::chrono::steady_clock::now() - since, 28s)
      << "replaced before its start timeout (it was still launching)";
  EXPECT_TRUE(eventSeen("stuck", "ReplaceUnhealthy"));
}

TEST_F(ScalingGroups, ScaleInFollowsThePolicyAndNeverTakesAProtectedInstance) {
  apply(group("order", {{"minSize", 0},
                        {"maxSize", 3},
                        {"desiredCapacity", 3},
                        {"terminationPolicies", {"NewestInstance"}}}));
  ASSERT_TRUE(settlesAt("order", 3)) << explain("order");
  auto all = members("order");
  std::sort(all.begin(), all.end(), [](const json& a, const json& b) {
    return a["metadata"]["creationTimestamp"].get<std::string>() <
           b["metadata"]["creationTimestamp"].get<std::string>();
  });
  // Protect the first one; scale to 1: the two others go, whatever their age.
  const std::string kept = all.front()["metadata"]["name"];
  auto [code, out] = kubectl(
      {"annotate", "instance", kept, "-n", kNs, "compute.kubec2.io/protected-from-scale-in=true"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = kubectl({"scale", "scalinggroup", "order", "-n", kNs, "--replicas=1"});
  ASSERT_EQ(code, 0) << out;
  ASSERT_TRUE(settlesAt("order", 1)) << explain("order");
  EXPECT_EQ(members("order").front()["metadata"]["name"], kept);
  // Scale to 0: the protected instance stays, and the group says why.
  std::tie(code, out) = kubectl({"scale", "scalinggroup", "order", "-n", kNs, "--replicas=0"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually([&] { return status("order").value("desiredCapacity", -1) == 0; }));
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(members("order").size(), 1u) << explain("order");
  EXPECT_EQ(members("order").front()["metadata"]["name"], kept);
}

TEST_F(ScalingGroups, DeletingTheGroupTerminatesEveryInstanceEvenProtectedOnes) {
  apply(group("bye", {{"minSize", 2}, {"maxSize", 2}}));
  ASSERT_TRUE(settlesAt("bye", 2)) << explain("bye");
  const std::string guarded = members("bye").front()["metadata"]["name"];
  auto [code, out] = kubectl({"patch", "instance", guarded, "-n", kNs, "--type=merge", "-p",
                              R"({"spec":{"disableApiTermination":true}})"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = kubectl({"delete", "scalinggroup", "bye", "-n", kNs, "--wait=false"});
  ASSERT_EQ(code, 0) << out;
  // The group stays (its finalizer) until its instances are gone.
  EXPECT_TRUE(eventually(
      [&] {
        return client.list(kInstances, kNs, {.labelSelector = std::string(kGroupLabel) + "=bye"})
            .items.empty();
      },
      90s))
      << explain("bye");
  EXPECT_TRUE(eventually([&] { return status("bye").empty(); }, 30s));
}

TEST_F(ScalingGroups, ReapplyingTheManifestAfterAScheduledActionDoesNotMoveTheCapacityBack) {
  const std::string soon = formatRfc3339(std::chrono::system_clock::now() + 3s);
  const json manifest = group(
      "sched",
      {{"minSize", 0},
       {"maxSize", 3},
       {"desiredCapacity", 1},
       {"scheduledActions", {{{"name", "morning"}, {"startTime", soon}, {"desiredCapacity", 2}}}}});
  apply(manifest);
  ASSERT_TRUE(settlesAt("sched", 2)) << explain("sched");
  EXPECT_TRUE(eventSeen("sched", "ScheduledAction"));
  apply(manifest);  // as Git would, unchanged
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(status("sched").value("desiredCapacity", -1), 2) << explain("sched");
  EXPECT_EQ(members("sched").size(), 2u);
}

// A new $Latest version starts an instance refresh, which replaces every
// instance while at least minHealthyPercentage of the capacity runs, at
// every moment sampled.
TEST_F(ScalingGroups, AnInstanceRefreshKeepsTheMinimumInServiceThroughout) {
  apply(launchTemplate("rolling"));
  const json v1group =
      group("roll", {{"minSize", 4},
                     {"maxSize", 4},
                     {"launchTemplateRef", {{"name", "rolling"}, {"version", "$Latest"}}},
                     {"instanceRefresh",
                      {{"minHealthyPercentage", 75},
                       {"maxHealthyPercentage", 100},
                       {"instanceWarmupSeconds", 1}}}});
  apply(v1group);
  ASSERT_TRUE(settlesAt("roll", 4)) << explain("roll");
  apply(launchTemplate("rolling", 2));  // $Latest moves to 2
  std::size_t fewest = 4, most = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const auto up = running("roll");
        fewest = std::min(fewest, up.size());
        most = std::max(most, members("roll").size());
        int onTwo = 0;
        for (const auto& i : up)
          onTwo += i["status"].value("launchTemplateVersion", 0) == 2 ? 1 : 0;
        const json r = status("roll").value("instanceRefresh", json::object());
        return onTwo == 4 && members("roll").size() == 4 && r.value("status", "") == "Successful";
      },
      180s))
      << explain("roll");
  EXPECT_GE(fewest, 3u) << "75 % of 4 in service at every sample\n" << explain("roll");
  EXPECT_LE(most, 4u) << "maxHealthyPercentage 100: never above the capacity";
  EXPECT_EQ(status("roll")["instanceRefresh"]["targetVersion"], 2);
  EXPECT_EQ(status("roll")["instanceRefresh"]["percentageComplete"], 100);
  EXPECT_TRUE(eventSeen("roll", "InstanceRefresh"));
}

// A warm pool keeps stopped, prepared instances beside the group; scale-out
// takes one of them (started) before launching.
TEST_F(ScalingGroups, ScaleOutTakesAPreparedInstanceFromTheWarmPool) {
  apply(group("warm", {{"minSize", 1},
                       {"maxSize", 3},
                       {"desiredCapacity", 1},
                       {"warmPool", {{"minSize", 2}, {"poolState", "Stopped"}}}}));
  auto pool = [&] {
    std::vector<json> out;
    for (auto& i : client
                       .list(kInstances, kNs,
                             {.labelSelector = std::string(kGroupLabel) +
                                               "=warm,compute.kubec2.io/warm-pool=true"})
                       .items)
      if (!i["metadata"].contains("deletionTimestamp")) out.push_back(std::move(i));
    return out;
  };
  auto prepared = [&](const json& i) {
    return i["metadata"]
                   .value("annotations", json::object())
                   .value("compute.kubec2.io/warm-pool-prepared", "") == "true" &&
           i.value("status", json::object()).value("state", "") == "stopped";
  };
  ASSERT_TRUE(eventually(
      [&] {
        const auto p = pool();
        return p.size() == 2 && std::all_of(p.begin(), p.end(), prepared) &&
               status("warm").value("inServiceCount", -1) == 1 &&
               status("warm").value("warmPoolCount", -1) == 2;
      },
      90s))
      << explain("warm");
  EXPECT_EQ(status("warm").value("currentCapacity", -1), 1)
      << "warm instances are outside the capacity";
  std::set<std::string> warmNames;
  for (const auto& i : pool()) warmNames.insert(i["metadata"]["name"]);

  auto [code, out] = kubectl({"scale", "scalinggroup", "warm", "-n", kNs, "--replicas=2"});
  ASSERT_EQ(code, 0) << out;
  ASSERT_TRUE(eventually(
      [&] {
        const json s = status("warm");
        return s.value("inServiceCount", -1) == 2 && s.value("currentCapacity", -1) == 2;
      },
      90s))
      << explain("warm");
  // The group says it took a prepared instance from the pool (it may later
  // move it for zone balance, so its activity is what to check).
  bool fromPool = false;
  for (const auto& a : status("warm").value("activities", json::array()))
    for (const auto& name : warmNames)
      fromPool = fromPool || a.value("message", "").find("taking from the warm pool " + name) !=
                                 std::string::npos;
  EXPECT_TRUE(fromPool) << "the second instance came from the pool\n" << explain("warm");
  EXPECT_TRUE(eventually([&] { return pool().size() == 2; }, 90s)) << "the pool is refilled";
}

}  // namespace
}  // namespace kube::testing
