// ElasticIPs on a real API server with KubeVirt's CRDs: the operator binary
// (with its webhook), the KubeVirt simulator playing KubeVirt, and the tests
// acting as a user would (kubectl apply, patch, delete; kubectl get eip,
// svc, endpointslices). There is no kube-proxy on the test control plane:
// the tests check what kube-proxy would read (the Service and its
// EndpointSlice), not packets.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/integration/compute/group_probe.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/resources.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The test control plane is Kubernetes 1.20: EndpointSlices are v1beta1.
const Resource kSlices{"discovery.k8s.io", "v1beta1", "endpointslices", true, "EndpointSlice"};

constexpr const char* kNs = "addresses";

void apply(const json& manifest) {
  applyManifest(kNs, manifest);
}

json instanceManifest(const std::string& name) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", name}}},
          {"spec", {{"launchTemplateRef", {{"name", "db"}}}}}};
}

json elasticIP(const std::string& name, json spec) {
  if (!spec.contains("ports")) spec["ports"] = {{{"port", 5432}}};
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "ElasticIP"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

class ElasticIPs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim_ = new SimulatedNamespace(kNs, {.bootDelayMs = 200, .ipRangeStart = "127.11.0.1"});
    apply(launchTemplate("db"));
  }
  static void TearDownTestSuite() { delete sim_; }
  void TearDown() override {
    for (const auto& e : client.list(kElasticIPs, kNs).items)
      kubectl({"delete", "eip", "-n", kNs, e["metadata"]["name"], "--wait=false"});
    for (const auto& i : client.list(kInstances, kNs).items)
      kubectl({"delete", "inst", "-n", kNs, i["metadata"]["name"], "--wait=false"});
    EXPECT_TRUE(eventually(
        [&] {
          return client.list(kElasticIPs, kNs).items.empty() &&
                 client.list(kInstances, kNs).items.empty();
        },
        90s))
        << "objects left behind";
  }

  json get(const Resource& r, const std::string& name) {
    try {
      return client.get(r, kNs, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return nullptr;
      throw;
    }
  }
  json status(const std::string& eip) {
    const json e = get(kElasticIPs, eip);
    return e.is_null() ? json::object() : e.value("status", json::object());
  }
  std::string condition(const std::string& eip, const std::string& type,
                        const char* field = "reason") {
    for (const auto& c : status(eip).value("conditions", json::array()))
      if (c["type"] == type) return c.value(field, "");
    return "";
  }
  // The endpoints of the slices of Service `svc`, by instance name.
  std::vector<json> endpoints(const std::string& svc) {
    std::vector<json> out;
    for (const auto& s :
         client.list(kSlices, kNs, {.labelSelector = "kubernetes.io/service-name=" + svc}).items)
      for (const auto& e : s.value("endpoints", json::array())) out.push_back(e);
    return out;
  }
  std::string privateIP(const std::string& inst) {
    const json i = get(kInstances, inst);
    return i.is_null() ? "" : i.value("status", json::object()).value("privateIP", "");
  }
  void runInstances(const std::vector<std::string>& names) {
    for (const auto& n : names) apply(instanceManifest(n));
    for (const auto& n : names)
      ASSERT_TRUE(eventually([&] { return !privateIP(n).empty(); }, 60s)) << n << " never ran";
  }
  std::vector<std::string> events(const std::string& eip, const std::string& reason) {
    std::vector<std::string> out;
    for (const auto& e : client.list(kEvents, kNs).items)
      if (e["involvedObject"].value("name", "") == eip &&
          e["involvedObject"].value("kind", "") == "ElasticIP" && e.value("reason", "") == reason)
        out.push_back(e.value("message", ""));
    return out;
  }
  std::string explain(const std::string& eip) {
    const std::string log = WebhookEnvironment::get().operatorLog();
    json slices = json::array();
    for (const auto& e : endpoints(eip)) slices.push_back(e);
    return "status: " + status(eip).dump() + "\nendpoints: " + slices.dump() +
           "\noperator log tail:\n" + (log.size() > 3000 ? log.substr(log.size() - 3000) : log);
  }
  // A Service cluster IP no Service holds now (10.0.0.0/24, the test
  // control plane's range), from the top down.
  std::string freeServiceIP() {
    std::set<std::string> used;
    for (const auto& s : client.list(kServices, "").items)
      used.insert(s["spec"].value("clusterIP", ""));
    for (int last = 250; last > 100; --last) {
      const std::string ip = "10.0.0." + std::to_string(last);
      if (!used.contains(ip)) return ip;
    }
    return "";
  }

  RestClient client{adminConfig()};
  static SimulatedNamespace* sim_;
};
SimulatedNamespace* ElasticIPs::sim_ = nullptr;

TEST_F(ElasticIPs, AssociateMoveSurviveTerminationAndRelease) {
  runInstances({"db-a", "db-b"});
  apply(elasticIP("db", {{"instanceRef", {{"name", "db-a"}}}}));

  // Allocated: a Service without selector, owned by the ElasticIP.
  ASSERT_TRUE(eventually([&] { return condition("db", "Ready", "status") == "True"; }, 30s))
      << explain("db");
  const json svc = get(kServices, "db");
  ASSERT_FALSE(svc.is_null());
  EXPECT_FALSE(svc["spec"].contains("selector"));
  EXPECT_EQ(svc["spec"]["ports"][0]["name"], "tcp-5432");
  EXPECT_EQ(svc["metadata"]["ownerReferences"][0]["kind"], "ElasticIP");
  const std::string address = svc["spec"]["clusterIP"];
  EXPECT_EQ(status("db").value("address", ""), address);

  // Associated with db-a: its address is the one endpoint.
  ASSERT_TRUE(eventually([&] {
    const auto e = endpoints("db");
    return e.size() == 1 && e[0]["addresses"][0] == privateIP("db-a");
  })) << explain("db");
  EXPECT_EQ(status("db").value("instance", ""), "db-a");
  EXPECT_EQ(condition("db", "Associated"), "InstanceRunning");
  const auto [gc, columns] = kubectl({"get", "eip", "db", "-n", kNs});
  EXPECT_NE(columns.find(address), std::string::npos) << columns;
  EXPECT_NE(columns.find("associated"), std::string::npos) << columns;

  // Moved to db-b with one change, watched as it happens: never two
  // endpoints, and the address stays.
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> most{0};
  std::atomic<int> samples{0};
  std::thread watcher([&] {
    RestClient c(adminConfig());
    while (!stop) {
      std::size_t n = 0;
      for (const auto& s :
           c.list(kSlices, kNs, {.labelSelector = "kubernetes.io/service-name=db"}).items)
        n += s.value("endpoints", json::array()).size();
      most = std::max(most.load(), n);
      ++samples;
    }
  });
  auto [pc, pout] = kubectl({"patch", "eip", "db", "-n", kNs, "--type", "merge", "-p",
                             R"({"spec":{"instanceRef":{"name":"db-b"}}})"});
  ASSERT_EQ(pc, 0) << pout;
  const bool moved = eventually([&] {
    const auto e = endpoints("db");
    return e.size() == 1 && e[0]["addresses"][0] == privateIP("db-b");
  });
  stop = true;
  watcher.join();
  ASSERT_TRUE(moved) << explain("db");
  EXPECT_EQ(most.load(), 1u) << "an address on two instances at once, in " << samples << " samples";
  EXPECT_GT(samples.load(), 0);
  EXPECT_TRUE(eventually([&] { return status("db").value("instance", "") == "db-b"; }))
      << explain("db");
  EXPECT_EQ(get(kServices, "db")["spec"]["clusterIP"], address);
  EXPECT_TRUE(eventually([&] {
    for (const auto& m : events("db", "Associated"))
      if (m.find("moved from Instance db-a") != std::string::npos) return true;
    return false;
  })) << explain("db");

  // db-b terminates: the address stays allocated and unassociated, as EC2's.
  kubectl({"delete", "inst", "db-b", "-n", kNs, "--wait=false"});
  ASSERT_TRUE(
      eventually([&] { return status("db").value("association", "") == "unassociated"; }, 30s))
      << explain("db");
  EXPECT_TRUE(endpoints("db").empty()) << explain("db");
  EXPECT_EQ(status("db").value("address", ""), address);
  EXPECT_EQ(get(kServices, "db")["spec"]["clusterIP"], address);
  EXPECT_TRUE(eventually([&] { return !events("db", "Disassociated").empty(); }));

  // Back to db-a, still running: associated again at the same address.
  kubectl({"patch", "eip", "db", "-n", kNs, "--type", "merge", "-p",
           R"({"spec":{"instanceRef":{"name":"db-a"}}})"});
  ASSERT_TRUE(eventually([&] {
    const auto e = endpoints("db");
    return e.size() == 1 && e[0]["addresses"][0] == privateIP("db-a");
  })) << explain("db");

  // Released: the Service goes with the ElasticIP (garbage collection).
  auto [dc, dout] = kubectl({"delete", "eip", "db", "-n", kNs});
  ASSERT_EQ(dc, 0) << dout;
  EXPECT_TRUE(eventually([&] { return get(kServices, "db").is_null(); }, 30s));
  EXPECT_TRUE(eventually([&] { return endpoints("db").empty(); }, 30s));
}

TEST_F(ElasticIPs, AnInstanceCreatedLaterIsAssociatedWhenItRuns) {
  apply(elasticIP("later", {{"instanceRef", {{"name", "db-later"}}}}));
  ASSERT_TRUE(
      eventually([&] { return condition("later", "Associated") == "InstanceNotFound"; }, 30s))
      << explain("later");
  EXPECT_EQ(status("later").value("association", ""), "unassociated");
  runInstances({"db-later"});
  EXPECT_TRUE(eventually([&] {
    const auto e = endpoints("later");
    return e.size() == 1 && e[0]["addresses"][0] == privateIP("db-later");
  })) << explain("later");
  // The slice is written before the status, in the same reconcile.
  EXPECT_TRUE(eventually([&] { return condition("later", "Associated") == "InstanceRunning"; }))
      << explain("later");
}

TEST_F(ElasticIPs, AnAddressTakenTwiceIsAClearConditionAndTheFirstKeepsIt) {
  const std::string ip = freeServiceIP();
  ASSERT_FALSE(ip.empty());
  apply(elasticIP("first", {{"address", ip}}));
  ASSERT_TRUE(eventually([&] { return status("first").value("address", "") == ip; }, 30s))
      << explain("first");

  apply(elasticIP("second", {{"address", ip}}));
  ASSERT_TRUE(eventually(
      [&] {
        return condition("second", "Ready") == "WriteFailed" &&
               condition("second", "Ready", "message").find("already allocated") !=
                   std::string::npos;
      },
      30s))
      << explain("second");
  EXPECT_TRUE(get(kServices, "second").is_null());
  EXPECT_TRUE(eventually([&] {
    for (const auto& m : events("second", "WriteFailed"))
      if (m.find(ip) != std::string::npos) return true;
    return false;
  })) << explain("second");
  // Nothing of the first changed.
  EXPECT_EQ(get(kServices, "first")["spec"]["clusterIP"], ip);
  EXPECT_EQ(condition("first", "Ready", "status"), "True");

  // Released by the first, the address goes to the second (its retries).
  kubectl({"delete", "eip", "first", "-n", kNs});
  EXPECT_TRUE(eventually([&] { return status("second").value("address", "") == ip; }, 120s))
      << explain("second");
}

TEST_F(ElasticIPs, ServiceOfTheSameNameIsNeverTakenOver) {
  client.create(kServices, kNs,
                {{"apiVersion", "v1"},
                 {"kind", "Service"},
                 {"metadata", {{"name", "taken"}}},
                 {"spec", {{"ports", {{{"port", 80}}}}, {"selector", {{"app", "mine"}}}}}});
  const json before = get(kServices, "taken");
  apply(elasticIP("taken", {}));
  ASSERT_TRUE(eventually([&] { return condition("taken", "Ready") == "NameConflict"; }, 30s))
      << explain("taken");
  EXPECT_TRUE(eventually([&] { return !events("taken", "NameConflict").empty(); }));
  const json after = get(kServices, "taken");
  EXPECT_EQ(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
  EXPECT_TRUE(endpoints("taken").empty());
  client.del(kServices, kNs, "taken");
}

TEST_F(ElasticIPs, HandEditsAreTakenBackAndTheAddressOutlivesItsService) {
  runInstances({"db-edit"});
  apply(elasticIP("edited", {{"instanceRef", {{"name", "db-edit"}}}}));
  ASSERT_TRUE(eventually(
      [&] {
        return endpoints("edited").size() == 1 && condition("edited", "Ready") == "Allocated";
      },
      30s))
      << explain("edited");
  const std::string address = status("edited").value("address", "");
  ASSERT_FALSE(address.empty());

  // A selector and a port added by hand: removed, and said.
  auto [pc, pout] =
      kubectl({"patch", "svc", "edited", "-n", kNs, "--type", "merge", "-p",
               R"({"spec":{"selector":{"app":"evil"},"ports":[{"name":"tcp-5432","port":5432,)"
               R"("targetPort":5432},{"name":"x","port":9999,"targetPort":9999}]}})"});
  ASSERT_EQ(pc, 0) << pout;
  EXPECT_TRUE(eventually(
      [&] {
        const json svc = get(kServices, "edited");
        return !svc["spec"].contains("selector") && svc["spec"]["ports"].size() == 1;
      },
      30s))
      << get(kServices, "edited").dump();
  EXPECT_TRUE(eventually([&] { return !events("edited", "ServiceRestored").empty(); }))
      << explain("edited");

  // The Service deleted by hand: back at the same address.
  auto [dc, dout] = kubectl({"delete", "svc", "edited", "-n", kNs});
  ASSERT_EQ(dc, 0) << dout;
  ASSERT_TRUE(eventually(
      [&] {
        const json svc = get(kServices, "edited");
        return !svc.is_null() && svc["metadata"].contains("ownerReferences");
      },
      30s))
      << explain("edited");
  EXPECT_EQ(get(kServices, "edited")["spec"]["clusterIP"], address);
  EXPECT_TRUE(eventually([&] { return condition("edited", "Ready") == "Allocated"; }))
      << explain("edited");
  EXPECT_EQ(status("edited").value("address", ""), address);
  EXPECT_TRUE(eventually([&] { return !events("edited", "ServiceRecreated").empty(); }));

  // Released with --cascade=orphan: the Service stays, and keeps the address.
  auto [oc, oout] = kubectl({"delete", "eip", "edited", "-n", kNs, "--cascade=orphan"});
  ASSERT_EQ(oc, 0) << oout;
  ASSERT_TRUE(eventually([&] { return get(kElasticIPs, "edited").is_null(); }, 30s));
  std::this_thread::sleep_for(3s);  // room for a wrong write and the garbage collector
  const json kept = get(kServices, "edited");
  ASSERT_FALSE(kept.is_null()) << "--cascade=orphan deleted the Service";
  EXPECT_EQ(kept["spec"]["clusterIP"], address);
  client.del(kServices, kNs, "edited");
}

TEST_F(ElasticIPs, TheWebhookRefusesAChangedAddress) {
  const std::string ip = freeServiceIP();
  apply(elasticIP("fixed", {{"address", ip}}));
  auto [code, out] = kubectl({"patch", "eip", "fixed", "-n", kNs, "--type", "merge", "-p",
                              R"({"spec":{"address":"10.0.0.99"}})"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("spec.address"), std::string::npos) << out;
  EXPECT_NE(out.find("field is immutable"), std::string::npos) << out;
  EXPECT_EQ(get(kElasticIPs, "fixed")["spec"]["address"], ip);
}

}  // namespace
}  // namespace kube::testing
