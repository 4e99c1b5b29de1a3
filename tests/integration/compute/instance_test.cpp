// Instances and launch templates on a real API server with KubeVirt's CRDs:
// the operator binary (with its webhook) and the KubeVirt simulator run as
// processes, and the tests act as a user would, through kubectl.
#include <fstream>
#include <set>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>

#include "runtime/base64.h"
#include "tests/integration/child_process.h"
#include "tests/integration/compute/simulated_namespace.h"
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
const Resource kClaims{"", "v1", "persistentvolumeclaims", true, "PersistentVolumeClaim"};

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
  static void SetUpTestSuite() { sim_ = new SimulatedNamespace(kNs, {.bootDelayMs = 200}); }
  static void TearDownTestSuite() { delete sim_; }

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
  std::vector<std::string> eventMessages(const std::string& name, const std::string& reason) {
    std::vector<std::string> out;
    for (const auto& e : client.list(kEvents, kNs).items)
      if (e["involvedObject"].value("name", "") == name &&
          e["involvedObject"].value("kind", "") == "Instance" && e.value("reason", "") == reason)
        out.push_back(e.value("message", ""));
    return out;
  }
  bool eventSays(const std::string& name, const std::string& reason, const std::string& words) {
    return eventually(
        [&] {
          for (const auto& m : eventMessages(name, reason))
            if (m.find(words) != std::string::npos) return true;
          return false;
        },
        30s);
  }
  json condition(const std::string& name, const std::string& type) {
    for (const auto& c : status(name).value("conditions", json::array()))
      if (c.value("type", "") == type) return c;
    return nullptr;
  }
  static std::string tail(const std::string& s) {
    return s.size() > 3000 ? s.substr(s.size() - 3000) : s;
  }

  RestClient client{adminConfig()};
  static SimulatedNamespace* sim_;
};
SimulatedNamespace* Instances::sim_ = nullptr;

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
  // The Event names the field and, from managedFields, who changed it.
  EXPECT_TRUE(eventSays("drift", "VirtualMachineRestored", "spec.runStrategy"))
      << json(eventMessages("drift", "VirtualMachineRestored")).dump();
  EXPECT_TRUE(eventSays("drift", "VirtualMachineRestored", "changed by kubectl"))
      << json(eventMessages("drift", "VirtualMachineRestored")).dump();

  std::tie(code, out) = kubectl({"delete", "-n", kNs, "vm", "drift", "--wait=true"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(eventually(
      [&] {
        auto vm = get(kVMs, "drift");
        return vm && (*vm)["metadata"]["uid"] != uid;
      },
      30s));
  expectState("drift", "running");
  // Not silently: a deleted VM is announced as such.
  EXPECT_TRUE(eventSays("drift", "VirtualMachineRestored", "deleted outside kubec2"))
      << json(eventMessages("drift", "VirtualMachineRestored")).dump();
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
  // The key pair comes from a Secret: the document is in the operator's
  // Secret, which the VM refers to.
  const json vm = *get(kVMs, "cloudy");
  SCOPED_TRACE(vm["spec"]["template"]["spec"]["volumes"].dump());
  EXPECT_NE(vm.dump().find("\"secretRef\":{\"name\":\"cloudy-cloud-init\"}"), std::string::npos);
  const auto secret = get(kSecrets, "cloudy-cloud-init");
  ASSERT_TRUE(secret);
  const std::string userData = base64Decode((*secret)["data"].value("userdata", "")).value_or("");
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

// A KubeVirt whose CRD prunes the VM template's metadata (a bare
// `type: object`, as an older or differently built KubeVirt can have): the
// operator learns what the server did not keep, never re-applies in a
// loop, never blames an outside edit, and says which field is dropped.
TEST_F(Instances, FieldsTheServerPrunesCauseNoReapplyLoop) {
  const Resource crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
                      "CustomResourceDefinition"};
  const std::string name = "virtualmachines.kubevirt.io";
  const json original = client.get(crds, "", name);
  auto restore = [&] {
    json now = client.get(crds, "", name);
    now["spec"] = original["spec"];
    client.update(crds, "", now);
  };
  json pruned = original;
  json& templ = pruned["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
                      ["properties"]["template"]["properties"]["metadata"];
  ASSERT_TRUE(templ.is_object()) << "the VM CRD's template metadata schema moved";
  templ = {{"type", "object"}, {"description", "pruned, as some KubeVirt builds have it"}};
  client.update(crds, "", pruned);
  struct Restore {
    std::function<void()> f;
    ~Restore() { f(); }
  } guard{restore};

  // The pruning takes effect once the API server has rebuilt its handler.
  ASSERT_TRUE(eventually(
      [&] {
        const json probe = {{"apiVersion", "kubevirt.io/v1"},
                            {"kind", "VirtualMachine"},
                            {"metadata", {{"name", "prune-probe"}}},
                            {"spec",
                             {{"runStrategy", "Halted"},
                              {"template",
                               {{"metadata", {{"labels", {{"a", "b"}}}}},
                                {"spec", {{"domain", {{"devices", json::object()}}}}}}}}}};
        const json made = client.create(kVMs, kNs, probe);
        client.del(kVMs, kNs, "prune-probe");
        return !made["spec"]["template"].value("metadata", json::object()).contains("labels");
      },
      30s));
  apply(instance("pruned", launchSpec()));
  ASSERT_TRUE(eventually([&] { return get(kVMs, "pruned").has_value(); }, 30s));
  const json vm = *get(kVMs, "pruned");
  ASSERT_FALSE(vm["spec"]["template"].value("metadata", json::object()).contains("labels"))
      << "the API server did not prune: " << vm["spec"]["template"].dump();
  expectState("pruned", "running");

  const std::string vms = "resource=\"virtualmachines.kubevirt.io\"";
  auto& env = WebhookEnvironment::get();
  const double before = env.metricSum("kubec2_writes_total", vms);
  // A loop re-applied about ten times a second; a steady operator writes nothing.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(env.metricSum("kubec2_writes_total", vms), before) << tail(env.operatorLog());
  EXPECT_TRUE(eventMessages("pruned", "VirtualMachineRestored").empty())
      << json(eventMessages("pruned", "VirtualMachineRestored")).dump();
  const json c = condition("pruned", "VirtualMachineSynced");
  ASSERT_TRUE(c.is_object()) << status("pruned").dump();
  EXPECT_EQ(c["status"], "False");
  EXPECT_EQ(c["reason"], "FieldsNotKept");
  EXPECT_NE(c["message"].get<std::string>().find("spec.template.metadata"), std::string::npos)
      << c["message"];
  kubectl({"delete", "-n", kNs, "instance", "pruned", "--wait=false"});
}

// User data a user put in a Secret stays in Secrets: every other object the
// operator writes, its log and its Events are searched for it.
TEST_F(Instances, SecretUserDataNeverLeavesSecrets) {
  const std::string token = "kubec2-test-token-" + std::to_string(::getpid()) + "-7e3f";
  client.create(kSecrets, kNs,
                {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "boot-secret"}}},
                 {"stringData", {{"userdata", "#!/bin/sh\nexport API_TOKEN=" + token + "\n"}}}});
  json spec = launchSpec();
  spec["userData"] = {{"secretRef", {{"name", "boot-secret"}}}};
  apply(instance("private", spec));
  expectState("private", "running");
  const auto kept = get(kSecrets, "private-cloud-init");
  ASSERT_TRUE(kept) << "no operator-owned Secret";
  EXPECT_NE(base64Decode((*kept)["data"].value("userdata", ""))->find(token), std::string::npos);
  EXPECT_EQ((*kept)["metadata"]["ownerReferences"][0]["name"], "private");
  const json vm = *get(kVMs, "private");
  EXPECT_NE(vm.dump().find("\"secretRef\":{\"name\":\"private-cloud-init\"}"), std::string::npos)
      << vm["spec"]["template"]["spec"]["volumes"].dump();
  for (const Resource& r : {kVMs, kVMIs, kPolicies, kInstances, kTemplates, kEvents, kConfigMaps})
    for (const auto& o : client.list(r, kNs).items)
      EXPECT_EQ(o.dump().find(token), std::string::npos)
          << r.resource << " " << o["metadata"].value("name", "");
  EXPECT_EQ(WebhookEnvironment::get().operatorLog().find(token), std::string::npos);
  // Deleted with the Instance.
  kubectl({"delete", "-n", kNs, "instance", "private", "--wait=true"});
  EXPECT_TRUE(eventually([&] { return !get(kSecrets, "private-cloud-init").has_value(); }, 60s));
}

// The API promises that user data and the instance type change at the next
// start: stop, change, start, and the VM carries the new document.
TEST_F(Instances, UserDataChangedWhileRunningTakesEffectAtTheNextStart) {
  json spec = launchSpec();
  spec["userData"] = {{"inline", "#!/bin/sh\necho first\n"}};
  apply(instance("restarted", spec));
  expectState("restarted", "running");
  auto userData = [&] {
    const json vm = *get(kVMs, "restarted");
    for (const auto& v : vm["spec"]["template"]["spec"]["volumes"])
      if (v.contains("cloudInitNoCloud")) return v["cloudInitNoCloud"].value("userData", "");
    return std::string();
  };
  auto patchSpec = [&](const json& patch) {
    auto [code, out] = kubectl({"patch", "-n", kNs, "instance", "restarted", "--type=merge", "-p",
                                json{{"spec", patch}}.dump()});
    ASSERT_EQ(code, 0) << out;
  };
  patchSpec({{"userData", {{"inline", "#!/bin/sh\necho second\n"}}}, {"instanceType", "t3.small"}});
  ASSERT_TRUE(eventually([&] { return condition("restarted", "UpToDate").is_object(); }, 30s))
      << status("restarted").dump();
  EXPECT_NE(condition("restarted", "UpToDate")["message"].get<std::string>().find("userData"),
            std::string::npos);
  EXPECT_EQ(userData(), "#!/bin/sh\necho first\n") << "the running VM keeps what it started with";
  EXPECT_EQ(status("restarted")["instanceType"]["name"], "t3.micro") << "the type in force";

  patchSpec({{"desiredState", "stopped"}});
  expectState("restarted", "stopped");
  patchSpec({{"desiredState", "running"}});
  expectState("restarted", "running");
  EXPECT_EQ(userData(), "#!/bin/sh\necho second\n");
  EXPECT_EQ(status("restarted")["instanceType"]["name"], "t3.small");
  EXPECT_TRUE(condition("restarted", "UpToDate").is_null()) << status("restarted").dump();
}

// The root volume of an http image goes with the instance by default, also
// without spec.volumes: the instance stays shutting-down until its claim is gone.
TEST_F(Instances, TheDefaultRootVolumeIsWaitedForOnTermination) {
  apply(instance("persistent", {{"image", {{"http", "https://example.com/disk.qcow2"}}},
                                {"instanceType", "t3.micro"}}));
  expectState("persistent", "running");
  // A claim slow to go: the simulator, playing CDI, made it for the root
  // DataVolume; a finalizer holds it.
  ASSERT_TRUE(eventually([&] { return get(kClaims, "persistent-root").has_value(); }, 30s));
  client.patch(kClaims, kNs, "persistent-root", PatchType::Merge,
               {{"metadata", {{"finalizers", {"kubec2.test/hold"}}}}});
  kubectl({"delete", "-n", kNs, "pvc", "persistent-root", "--wait=false"});
  kubectl({"delete", "-n", kNs, "instance", "persistent", "--wait=false"});
  ASSERT_TRUE(eventually([&] { return !get(kVMs, "persistent").has_value(); }, 30s));
  expectState("persistent", "shutting-down");
  // Past the retention (2 s here) and a few more seconds: still waiting for the claim.
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(status("persistent").value("state", ""), "shutting-down");
  client.patch(kClaims, kNs, "persistent-root", PatchType::Merge,
               {{"metadata", {{"finalizers", nullptr}}}});
  EXPECT_TRUE(eventually([&] { return !get(kInstances, "persistent").has_value(); }, 60s))
      << status("persistent").dump();
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
