// Instances and launch templates on a real API server with KubeVirt's CRDs:
// the operator binary (with its webhook) and the KubeVirt simulator run as
// processes, and the tests act as a user would, through kubectl.
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const Resource kInstances{"compute.kubec2.io", "v1alpha1", "instances", true, "Instance"};
const Resource kTemplates{"compute.kubec2.io", "v1alpha1", "launchtemplates", true,
                          "LaunchTemplate"};
const Resource kVMs{"kubevirt.io", "v1", "virtualmachines", true, "VirtualMachine"};
const Resource kVMIs{"kubevirt.io", "v1", "virtualmachineinstances", true,
                     "VirtualMachineInstance"};
const Resource kPolicies{"networking.k8s.io", "v1", "networkpolicies", true, "NetworkPolicy"};
const Resource kEvents{"", "v1", "events", true, "Event"};
const Resource kSecrets{"", "v1", "secrets", true, "Secret"};

// All tests share one namespace, which the simulator of this suite serves.
constexpr const char* kNs = "instances";

void apply(const json& manifest) {
  auto [code, out] =
      kubectl({"apply", "--validate=true", "-n", kNs, "-f", writeManifest(manifest)});
  ASSERT_EQ(code, 0) << out;
}

json launchTemplate(const std::string& name, std::vector<json> versions) {
  json v = json::array();
  for (auto& s : versions) v.push_back({{"spec", s}});
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "LaunchTemplate"},
          {"metadata", {{"name", name}}},
          {"spec", {{"versions", v}}}};
}

json launchSpec(const std::string& type = "t3.micro") {
  return {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
          {"instanceType", type}};
}

json instance(const std::string& name, json spec) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

class Instances : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Client c(adminConfig());
    try {
      c.create(kNamespaces, "",
               {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNs}}}});
    } catch (const ApiError& e) {
      if (!e.isAlreadyExists()) throw;
    }
    sim_ = new ChildProcess(
        {KUBEC2_SIM_BIN, "--kubeconfig", ControlPlaneEnvironment::get().kubeconfig(), "--namespace",
         kNs, "--boot-delay-ms", "200", "--control-bind-address",
         "127.0.0.1:" + std::to_string(freePort())},
        ControlPlaneEnvironment::get().dir() + "/sim-instances.log");
  }
  static void TearDownTestSuite() {
    sim_->signal(SIGTERM);
    sim_->wait(30s);
    delete sim_;
  }

  std::optional<json> get(const Resource& r, const std::string& name) {
    try {
      return client.get(r, kNs, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return std::nullopt;
      throw;
    }
  }
  json status(const std::string& name) {
    auto i = get(kInstances, name);
    return i ? i->value("status", json::object()) : json::object();
  }
  // Waits for status.state, and explains what it saw when it times out.
  void expectState(const std::string& name, const std::string& state,
                   std::chrono::milliseconds within = 60s) {
    json last;
    const bool ok = eventually(
        [&] {
          last = status(name);
          return last.value("state", "") == state;
        },
        within);
    EXPECT_TRUE(ok) << name << " never became " << state << "; status: " << last.dump()
                    << "\noperator log tail:\n"
                    << tail(WebhookEnvironment::get().operatorLog());
  }
  std::string readyReason(const std::string& name) {
    for (const auto& c : status(name).value("conditions", json::array()))
      if (c.value("type", "") == "Ready") return c.value("reason", "");
    return "";
  }
  // Events are written asynchronously (runtime/events.h): wait for one.
  bool eventSeen(const std::string& name, const std::string& reason) {
    return eventually([&] { return eventReasons(name).count(reason) > 0; }, 30s);
  }
  std::set<std::string> eventReasons(const std::string& name) {
    std::set<std::string> out;
    for (const auto& e : client.list(kEvents, kNs).items)
      if (e["involvedObject"].value("name", "") == name &&
          e["involvedObject"].value("kind", "") == "Instance")
        out.insert(e.value("reason", ""));
    return out;
  }
  static std::string tail(const std::string& s) {
    return s.size() > 3000 ? s.substr(s.size() - 3000) : s;
  }

  Client client{adminConfig()};
  static ChildProcess* sim_;
};
ChildProcess* Instances::sim_ = nullptr;

TEST_F(Instances, LaunchFromATemplateRunsWithTheTypesCpuAndMemory) {
  apply(launchTemplate("basic", {launchSpec("m5.large")}));
  apply(instance("basic-1", {{"launchTemplateRef", {{"name", "basic"}}},
                             {"tags", {{"Name", "basic-1"}, {"team", "web"}}}}));
  expectState("basic-1", "running");
  const json s = status("basic-1");
  EXPECT_EQ(s["privateIP"].get<std::string>().rfind("127.", 0), 0u) << s;
  EXPECT_FALSE(s.value("nodeName", "").empty()) << s;
  EXPECT_FALSE(s.value("zone", "").empty()) << s;
  EXPECT_EQ(s["instanceType"]["name"], "m5.large");
  EXPECT_EQ(s["instanceType"]["vCPU"], 2);
  EXPECT_EQ(s["instanceType"]["memoryMiB"], 8192);
  EXPECT_EQ(s["launchTemplateVersion"], 1);
  EXPECT_FALSE(s.value("launchTime", "").empty());
  EXPECT_EQ(readyReason("basic-1"), "Running") << s;

  const json vm = *get(kVMs, "basic-1");
  EXPECT_EQ(vm["spec"]["runStrategy"], "Always");
  EXPECT_EQ(vm["spec"]["template"]["spec"]["domain"]["cpu"]["cores"], 2);
  EXPECT_EQ(vm["metadata"]["ownerReferences"][0]["kind"], "Instance");
  EXPECT_EQ(vm["metadata"]["labels"]["compute.kubec2.io/instance"], "basic-1");
  EXPECT_EQ(vm["metadata"]["labels"]["team"], "web");
  // A boot within 2 s goes straight to running: one Event (docs/instances.md).
  EXPECT_TRUE(eventSeen("basic-1", "Running")) << json(eventReasons("basic-1")).dump();

  auto [code, out] = kubectl({"get", "-n", kNs, "instance", "basic-1"});
  EXPECT_NE(out.find("running"), std::string::npos) << out;
  EXPECT_NE(out.find("m5.large"), std::string::npos) << out;
}

TEST_F(Instances, StopAndStartThroughTheDesiredState) {
  apply(instance("stopper", launchSpec()));
  expectState("stopper", "running");
  auto [code, out] = kubectl({"patch", "-n", kNs, "instance", "stopper", "--type=merge", "-p",
                              R"({"spec":{"desiredState":"stopped"}})"});
  ASSERT_EQ(code, 0) << out;
  expectState("stopper", "stopped");
  EXPECT_EQ((*get(kVMs, "stopper"))["spec"]["runStrategy"], "Halted");
  EXPECT_FALSE(get(kVMIs, "stopper").has_value());
  EXPECT_EQ(status("stopper")["stateReason"]["code"], "Client.UserInitiatedShutdown");

  std::tie(code, out) = kubectl({"patch", "-n", kNs, "instance", "stopper", "--type=merge", "-p",
                                 R"({"spec":{"desiredState":"running"}})"});
  ASSERT_EQ(code, 0) << out;
  expectState("stopper", "running");
  EXPECT_EQ((*get(kVMs, "stopper"))["spec"]["runStrategy"], "Always");
}

TEST_F(Instances, DeleteTerminatesAndTheInstanceGoesAfterItsRetention) {
  apply(instance("doomed", launchSpec()));
  expectState("doomed", "running");
  const std::string vmUid = (*get(kVMs, "doomed"))["metadata"]["uid"];
  auto [code, out] = kubectl({"delete", "-n", kNs, "instance", "doomed", "--wait=false"});
  ASSERT_EQ(code, 0) << out;
  // terminated is visible for the operator's retention (2 s here), then the Instance is gone.
  expectState("doomed", "terminated", 30s);
  EXPECT_FALSE(get(kVMs, "doomed").has_value());
  EXPECT_TRUE(eventually([&] { return !get(kInstances, "doomed").has_value(); }, 30s));
  EXPECT_TRUE(eventSeen("doomed", "Terminated"));
}

TEST_F(Instances, TerminationProtectionRefusesDeleteUntilLifted) {
  json spec = launchSpec();
  spec["disableApiTermination"] = true;
  apply(instance("protected", spec));
  expectState("protected", "running");
  auto [code, out] = kubectl({"delete", "-n", kNs, "instance", "protected", "--wait=false"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("termination protection"), std::string::npos) << out;
  EXPECT_EQ(status("protected").value("state", ""), "running");

  std::tie(code, out) = kubectl({"patch", "-n", kNs, "instance", "protected", "--type=merge", "-p",
                                 R"({"spec":{"disableApiTermination":false}})"});
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = kubectl({"delete", "-n", kNs, "instance", "protected", "--wait=false"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually([&] { return !get(kInstances, "protected").has_value(); }, 30s));
}

TEST_F(Instances, LatestAndDefaultResolveAtLaunchAndStayPinned) {
  apply(launchTemplate("versions", {launchSpec("t3.micro")}));
  apply(
      instance("pinned", {{"launchTemplateRef", {{"name", "versions"}, {"version", "$Latest"}}}}));
  expectState("pinned", "running");
  EXPECT_EQ(status("pinned")["launchTemplateVersion"], 1);

  // Version 2 appended: the running instance keeps version 1.
  apply(launchTemplate("versions", {launchSpec("t3.micro"), launchSpec("c5.xlarge")}));
  ASSERT_TRUE(eventually(
      [&] {
        return get(kTemplates, "versions")
                   ->value("status", json::object())
                   .value("latestVersion", 0) == 2;
      },
      30s));
  apply(
      instance("latest", {{"launchTemplateRef", {{"name", "versions"}, {"version", "$Latest"}}}}));
  apply(instance("default", {{"launchTemplateRef", {{"name", "versions"}}}}));
  expectState("latest", "running");
  expectState("default", "running");
  EXPECT_EQ(status("latest")["launchTemplateVersion"], 2);
  EXPECT_EQ(status("latest")["instanceType"]["vCPU"], 4);
  EXPECT_EQ(status("default")["launchTemplateVersion"], 1);
  EXPECT_EQ(status("pinned")["launchTemplateVersion"], 1);
  EXPECT_EQ((*get(kVMs, "pinned"))["spec"]["template"]["spec"]["domain"]["cpu"]["cores"], 2);
  const json lt = *get(kTemplates, "versions");
  EXPECT_EQ(lt["status"]["defaultVersion"], 1);
}

TEST_F(Instances, AVmDeletedOrStoppedBehindItsBackIsRestored) {
  apply(instance("drift", launchSpec()));
  expectState("drift", "running");
  const std::string uid = (*get(kVMs, "drift"))["metadata"]["uid"];

  auto [code, out] = kubectl({"patch", "-n", kNs, "vm", "drift", "--type=merge", "-p",
                              R"({"spec":{"runStrategy":"Halted"}})"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(
      eventually([&] { return (*get(kVMs, "drift"))["spec"]["runStrategy"] == "Always"; }, 30s));
  EXPECT_TRUE(eventSeen("drift", "VirtualMachineRestored"));

  std::tie(code, out) = kubectl({"delete", "-n", kNs, "vm", "drift", "--wait=true"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually(
      [&] {
        auto vm = get(kVMs, "drift");
        return vm && (*vm)["metadata"]["uid"] != uid;
      },
      30s));
  expectState("drift", "running");
}

TEST_F(Instances, KeyPairAndUserDataBecomeCloudInit) {
  client.create(
      kSecrets, kNs,
      {{"apiVersion", "v1"},
       {"kind", "Secret"},
       {"metadata", {{"name", "deploy-key"}}},
       {"stringData", {{"key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0test deploy@kubec2"}}}});
  json spec = launchSpec();
  spec["keyPair"] = {{"secretName", "deploy-key"}, {"key", "key"}};
  spec["userData"] = {{"inline", "#cloud-config\npackages: [nginx]\n"}};
  apply(instance("cloudy", spec));
  expectState("cloudy", "running");
  std::string userData;
  const json vm = *get(kVMs, "cloudy");
  SCOPED_TRACE(vm["spec"]["template"]["spec"]["volumes"].dump());
  for (const auto& v : vm["spec"]["template"]["spec"]["volumes"])
    if (v.contains("cloudInitNoCloud")) userData = v["cloudInitNoCloud"].value("userData", "");
  EXPECT_EQ(userData.rfind("#cloud-config", 0), 0u) << userData;
  EXPECT_NE(userData.find("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0test"), std::string::npos)
      << userData;
  EXPECT_NE(userData.find("nginx"), std::string::npos) << userData;
}

TEST_F(Instances, SecurityGroupsBecomeANetworkPolicy) {
  json spec = launchSpec();
  spec["securityGroups"] = {
      {{"name", "web"},
       {"ingress",
        {{{"protocol", "tcp"}, {"fromPort", 80}, {"sources", {{{"cidr", "10.0.0.0/8"}}}}},
         {{"protocol", "tcp"},
          {"fromPort", 22},
          {"sources", {{{"instanceSelector", {{"matchLabels", {{"role", "bastion"}}}}}}}}}}}}};
  apply(instance("guarded", spec));
  std::optional<json> np;
  ASSERT_TRUE(eventually([&] { return (np = get(kPolicies, "guarded-sg")).has_value(); }, 30s));
  EXPECT_EQ((*np)["spec"]["podSelector"]["matchLabels"]["compute.kubec2.io/instance"], "guarded");
  EXPECT_EQ((*np)["spec"]["policyTypes"][0], "Ingress");
  const std::string rules = (*np)["spec"]["ingress"].dump();
  EXPECT_NE(rules.find("10.0.0.0/8"), std::string::npos) << rules;
  EXPECT_NE(rules.find("\"port\":80"), std::string::npos) << rules;
  EXPECT_NE(rules.find("bastion"), std::string::npos) << rules;
}

TEST_F(Instances, MissingReferencesAreReportedAndRetried) {
  apply(instance("orphan", {{"launchTemplateRef", {{"name", "not-yet"}}}}));
  EXPECT_TRUE(eventually([&] { return readyReason("orphan") == "LaunchTemplateNotFound"; }, 30s))
      << status("orphan");
  EXPECT_TRUE(eventSeen("orphan", "LaunchTemplateNotFound"));
  EXPECT_FALSE(get(kVMs, "orphan").has_value());
  apply(launchTemplate("not-yet", {launchSpec()}));
  expectState("orphan", "running");

  json spec = launchSpec();
  spec["keyPair"] = {{"secretName", "later-key"}};
  apply(instance("keyless", spec));
  EXPECT_TRUE(eventually([&] { return readyReason("keyless") == "SecretNotFound"; }, 30s))
      << status("keyless");
  const std::string message = status("keyless")["conditions"][0].value("message", "");
  EXPECT_NE(message.find("later-key"), std::string::npos) << message;
  client.create(
      kSecrets, kNs,
      {{"apiVersion", "v1"},
       {"kind", "Secret"},
       {"metadata", {{"name", "later-key"}}},
       {"stringData", {{"id", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlater later@kubec2"}}}});
  expectState("keyless", "running");

  apply(instance("exotic", launchSpec("z9.mega")));
  EXPECT_TRUE(eventually([&] { return readyReason("exotic") == "InstanceTypeNotFound"; }, 30s))
      << status("exotic");
  // The operator's ConfigMap adds the type.
  client.create(kConfigMaps, WebhookEnvironment::kNamespace,
                {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", "kubec2-instance-types"}}},
                 {"data", {{"z9.mega", "{vCPU: 3, memory: 3Gi}"}}}});
  expectState("exotic", "running");
  EXPECT_EQ(status("exotic")["instanceType"]["vCPU"], 3);
  EXPECT_EQ(status("exotic")["instanceType"]["memoryMiB"], 3072);
}

TEST_F(Instances, OperatorRestartDuringALaunchMakesNoSecondVm) {
  apply(instance("restart", launchSpec()));
  ASSERT_TRUE(eventually([&] { return get(kVMs, "restart").has_value(); }, 30s));
  const std::string uid = (*get(kVMs, "restart"))["metadata"]["uid"];
  WebhookEnvironment::get().restartOperator();
  expectState("restart", "running");
  EXPECT_EQ((*get(kVMs, "restart"))["metadata"]["uid"], uid);
  int vms = 0;
  for (const auto& vm : client.list(kVMs, kNs).items)
    for (const auto& o : vm["metadata"].value("ownerReferences", json::array()))
      if (o.value("name", "") == "restart") ++vms;
  EXPECT_EQ(vms, 1);
}

}  // namespace
}  // namespace kube::testing
