// The Instance and LaunchTemplate controllers' wiring, run by a real manager
// over the in-memory API (runtime/fake_client.h): what they watch, what they
// read, what they write, and how they take the API server's errors.
#include "controllers/instance/instance_controller.h"

#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

#include "api/resources.h"
#include "api/v1alpha1/types.h"
#include "controllers/launchtemplate/launchtemplate_controller.h"
#include "runtime/base64.h"
#include "runtime/client_wrapper.h"
#include "runtime/fake_client.h"
#include "tests/unit/eventually.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace v1 = kubec2::api::v1alpha1;

const kube::Resource kEvents{"", "v1", "events", true, "Event"};

using kubec2::testing::eventually;

json instance(const std::string& name, json spec) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

json launchSpec(const std::string& type = "t3.micro") {
  return {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
          {"instanceType", type}};
}

// A manager with the Instance and LaunchTemplate controllers over a fake
// API, with a fault-injecting client in between.
class Operator {
 public:
  explicit Operator(kube::FakeClient& api, bool kubevirt = true) : api_(api) {
    api.serve(v1::Instance::resource());
    api.serve(v1::LaunchTemplate::resource());
    api.serve(api::kNetworkPolicies, {.statusSubresource = false});
    api.serve(api::kSecrets, {.statusSubresource = false});
    api.serve(api::kConfigMaps, {.statusSubresource = false});
    api.serve(api::kNodes);
    // The node the VMs run on exists before them, as in a cluster: the
    // operator's node cache has it when a VMI reports it (created in boot()
    // instead, the VMI's event could come first and leave the zone unset
    // until the next reconcile; failed 1 in 30).
    if (!api.object(api::kNodes, "", "node-a"))
      api.create(api::kNodes, "",
                 {{"metadata",
                   {{"name", "node-a"}, {"labels", {{"topology.kubernetes.io/zone", "zone-a"}}}}}});
    api.serve(api::kPersistentVolumeClaims);
    api.serve(api::kDataVolumes);
    api.serve(kEvents, {.statusSubresource = false});
    if (kubevirt) serveKubeVirt(api);
    auto faulty = std::make_unique<kube::FaultInjectingClient>(api);
    faults = faulty.get();
    kube::ManagerOptions mo;
    mo.metricsBindAddress = "0";
    mo.healthProbeBindAddress = "0";
    mo.maxConcurrentReconciles = 2;
    mgr_ = std::make_unique<kube::Manager>(std::move(faulty), mo);
    recorder_ = std::make_unique<kube::EventRecorder>(
        kube::makeEventSink(*faults), kube::EventRecorderOptions{.component = "kubec2"});
    auto catalog = std::make_shared<InstanceTypeCatalogSource>(*mgr_, "kubec2-system",
                                                               "kubec2-instance-types");
    InstanceControllerOptions io;
    io.terminatedRetention = 0s;
    io.kubevirtDiscoveryPeriod = 50ms;
    addInstanceControllers(*mgr_, *recorder_, catalog, io);
    addLaunchTemplateController(*mgr_, *recorder_, "kubec2-launchtemplate");
    thread_ = std::thread([this] { result_ = mgr_->run(stop_.get_token()); });
  }
  ~Operator() {
    stop_.request_stop();
    thread_.join();
    recorder_->flush();
  }
  static void serveKubeVirt(kube::FakeClient& api) {
    api.serve(api::kVirtualMachines);
    api.serve(api::kVirtualMachineInstances);
  }

  kube::FaultInjectingClient* faults = nullptr;

 private:
  kube::FakeClient& api_;
  std::unique_ptr<kube::Manager> mgr_;
  std::unique_ptr<kube::EventRecorder> recorder_;
  std::stop_source stop_;
  kube::RunResult result_;
  std::thread thread_;
};

class InstanceControllerTest : public ::testing::Test {
 protected:
  json status(const std::string& name) {
    const auto i = api.object(v1::Instance::resource(), "ns", name);
    return i ? i->value("status", json::object()) : json::object();
  }
  std::string readyReason(const std::string& name) {
    for (const auto& c : status(name).value("conditions", json::array()))
      if (c["type"] == "Ready") return c.value("reason", "");
    return "";
  }
  // KubeVirt's part: the VM's instance, running on a node in a zone.
  void boot(const std::string& name) {
    const auto vm = api.object(api::kVirtualMachines, "ns", name);
    ASSERT_TRUE(vm);
    if (!api.object(api::kNodes, "", "node-a"))
      api.create(api::kNodes, "",
                 {{"metadata",
                   {{"name", "node-a"}, {"labels", {{"topology.kubernetes.io/zone", "zone-a"}}}}}});
    json vmi = {{"metadata",
                 {{"name", name},
                  {"labels", (*vm)["spec"]["template"]["metadata"]["labels"]},
                  {"ownerReferences",
                   {{{"apiVersion", "kubevirt.io/v1"},
                     {"kind", "VirtualMachine"},
                     {"name", name},
                     {"uid", (*vm)["metadata"]["uid"]},
                     {"controller", true}}}}}}};
    api.create(api::kVirtualMachineInstances, "ns", vmi);
    api.patchStatus(api::kVirtualMachineInstances, "ns", name, kube::PatchType::Merge,
                    {{"status",
                      {{"phase", "Running"},
                       {"nodeName", "node-a"},
                       {"interfaces", {{{"name", "default"}, {"ipAddress", "10.0.0.7"}}}}}}});
  }
  std::vector<std::string> eventReasons(const std::string& name) {
    std::vector<std::string> out;
    for (const auto& e : api.objects(kEvents, "ns"))
      if (e["involvedObject"].value("name", "") == name)
        for (int i = 0; i < e.value("count", 1); ++i) out.push_back(e.value("reason", ""));
    return out;
  }

  kube::FakeClient api;
};

TEST_F(InstanceControllerTest, LaunchesAVmAndReportsRunning) {
  auto op = std::make_unique<Operator>(api);
  api.create(v1::Instance::resource(), "ns", instance("web-1", launchSpec("m5.large")));
  ASSERT_TRUE(
      eventually([&] { return api.object(api::kVirtualMachines, "ns", "web-1").has_value(); }));
  const json vm = *api.object(api::kVirtualMachines, "ns", "web-1");
  EXPECT_EQ(vm["spec"]["template"]["spec"]["domain"]["cpu"]["cores"], 2);
  EXPECT_EQ(vm["metadata"]["ownerReferences"][0]["kind"], "Instance");
  const json inst = *api.object(v1::Instance::resource(), "ns", "web-1");
  EXPECT_EQ(inst["metadata"]["finalizers"], json::array({"compute.kubec2.io/instance"}));
  boot("web-1");
  ASSERT_TRUE(eventually([&] { return status("web-1").value("state", "") == "running"; }))
      << status("web-1").dump();
  EXPECT_EQ(status("web-1")["privateIP"], "10.0.0.7");
  EXPECT_EQ(status("web-1")["zone"], "zone-a");
  EXPECT_EQ(status("web-1")["instanceType"]["name"], "m5.large");
  op.reset();  // stopped: reconciles drained, Events written
  const auto r = eventReasons("web-1");
  EXPECT_EQ(std::count(r.begin(), r.end(), "Running"), 1);
}

TEST_F(InstanceControllerTest, LaunchTemplatesGetTheirStatus) {
  Operator op(api);
  api.create(v1::LaunchTemplate::resource(), "ns",
             {{"metadata", {{"name", "web"}}},
              {"spec", {{"versions", {{{"spec", launchSpec()}}, {{"spec", launchSpec()}}}}}}});
  ASSERT_TRUE(eventually([&] {
    const auto lt = api.object(v1::LaunchTemplate::resource(), "ns", "web");
    return lt && lt->contains("status") && (*lt)["status"].value("latestVersion", 0) == 2;
  }));
}

TEST_F(InstanceControllerTest, SaysKubeVirtIsMissingAndLaunchesOnceItIsInstalled) {
  Operator op(api, /*kubevirt=*/false);
  api.create(v1::Instance::resource(), "ns", instance("early", launchSpec()));
  ASSERT_TRUE(eventually([&] { return readyReason("early") == "KubeVirtNotInstalled"; }))
      << status("early").dump();
  Operator::serveKubeVirt(api);
  // Discovery is asked again (every 50 ms here); the instance is requeued
  // every 30 s by its plan, so poke it as a user's edit would.
  ASSERT_TRUE(eventually([&] {
    api.patch(v1::Instance::resource(), "ns", "early", kube::PatchType::Merge,
              {{"metadata", {{"labels", {{"poke", std::to_string(api.resourceVersion())}}}}}});
    return api.object(api::kVirtualMachines, "ns", "early").has_value();
  }));
}

// 409, 500, 429 with Retry-After and a timeout, each at one of the
// controller's calls: retried with backoff, and nothing done twice.
TEST_F(InstanceControllerTest, RetriesTheApiServersErrorsAndActsOnce) {
  auto holder = std::make_unique<Operator>(api);
  Operator& op = *holder;
  op.faults->inject({.verb = "apply", .resource = "virtualmachines"},
                    kube::FaultInjectingClient::internalError());
  op.faults->inject({.verb = "patch", .resource = "instances", .subresource = "status"},
                    kube::FaultInjectingClient::conflict());
  op.faults->inject({.verb = "patch", .resource = "instances", .subresource = "status"},
                    kube::FaultInjectingClient::tooManyRequests(1s));  // the retry
  op.faults->inject({.verb = "patch", .resource = "instances"},
                    kube::FaultInjectingClient::timeout());  // the finalizer
  api.create(v1::Instance::resource(), "ns", instance("flaky", launchSpec()));
  ASSERT_TRUE(
      eventually([&] { return api.object(api::kVirtualMachines, "ns", "flaky").has_value(); }));
  const std::string uid = (*api.object(api::kVirtualMachines, "ns", "flaky"))["metadata"]["uid"];
  boot("flaky");
  ASSERT_TRUE(eventually([&] { return status("flaky").value("state", "") == "running"; }, 20s))
      << status("flaky").dump();
  EXPECT_EQ(op.faults->pendingFaults(), 0);
  // The failed attempt never arrived. A status retry that runs before the
  // VM informer has seen the VM applies the same configuration once more (a
  // no-op on the server, as server-side apply is): at most two applies, and
  // the VM first created is the one that runs.
  const auto applies = op.faults->succeeded({.verb = "apply", .resource = "virtualmachines"});
  EXPECT_GE(applies, 1);
  EXPECT_LE(applies, 2);
  EXPECT_EQ((*api.object(api::kVirtualMachines, "ns", "flaky"))["metadata"]["uid"], uid);
  holder.reset();  // stopped: reconciles drained, Events written
  const auto r = eventReasons("flaky");
  EXPECT_EQ(std::count(r.begin(), r.end(), "Running"), 1);
}

// A VM apply whose answer is lost (the server has it): the retry applies
// the same configuration again, which changes nothing, and the instance
// gets one VM and one Running.
TEST_F(InstanceControllerTest, ALostAnswerIsRetriedWithoutASecondEffect) {
  auto holder = std::make_unique<Operator>(api);
  holder->faults->inject({.verb = "apply", .resource = "virtualmachines"},
                         kube::FaultInjectingClient::timeout(), 1, 0,
                         kube::FaultInjectingClient::When::After);
  api.create(v1::Instance::resource(), "ns", instance("lost", launchSpec()));
  ASSERT_TRUE(
      eventually([&] { return api.object(api::kVirtualMachines, "ns", "lost").has_value(); }));
  const std::string uid = (*api.object(api::kVirtualMachines, "ns", "lost"))["metadata"]["uid"];
  boot("lost");
  ASSERT_TRUE(eventually([&] { return status("lost").value("state", "") == "running"; }));
  EXPECT_EQ((*api.object(api::kVirtualMachines, "ns", "lost"))["metadata"]["uid"], uid);
  EXPECT_EQ(api.writes("create", "virtualmachines"), 1);
  holder.reset();
  const auto r = eventReasons("lost");
  EXPECT_EQ(std::count(r.begin(), r.end(), "Running"), 1);
}

TEST_F(InstanceControllerTest, TerminationDeletesTheVmAndThenLetsTheInstanceGo) {
  Operator op(api);
  api.create(v1::Instance::resource(), "ns", instance("doomed", launchSpec()));
  ASSERT_TRUE(
      eventually([&] { return api.object(api::kVirtualMachines, "ns", "doomed").has_value(); }));
  boot("doomed");
  ASSERT_TRUE(eventually([&] { return status("doomed").value("state", "") == "running"; }));
  api.del(v1::Instance::resource(), "ns", "doomed");
  EXPECT_TRUE(eventually([&] {
    return !api.object(v1::Instance::resource(), "ns", "doomed").has_value();
  })) << status("doomed").dump();
  EXPECT_FALSE(api.object(api::kVirtualMachines, "ns", "doomed"));
  EXPECT_FALSE(api.object(api::kVirtualMachineInstances, "ns", "doomed"));
}

// User data a user put in a Secret stays in Secrets: not in the VM, nor in
// any other object the operator writes, nor in Events.
TEST_F(InstanceControllerTest, SecretUserDataStaysInSecrets) {
  auto op = std::make_unique<Operator>(api);
  api.create(
      api::kSecrets, "ns",
      {{"metadata", {{"name", "boot"}}},
       {"data", {{"userdata", kube::base64Encode("#!/bin/sh\nexport TOKEN=s3cr3t-t0ken\n")}}}});
  api.create(api::kSecrets, "ns",
             {{"metadata", {{"name", "deploy-key"}}},
              {"data", {{"id", kube::base64Encode("ssh-ed25519 AAAAC3Nza-k3y-ma7erial deploy")}}}});
  json spec = launchSpec();
  spec["userData"] = {{"secretRef", {{"name", "boot"}}}};
  spec["keyPair"] = {{"secretName", "deploy-key"}};
  api.create(v1::Instance::resource(), "ns", instance("private", spec));
  ASSERT_TRUE(
      eventually([&] { return api.object(api::kVirtualMachines, "ns", "private").has_value(); }));
  boot("private");
  ASSERT_TRUE(eventually([&] { return status("private").value("state", "") == "running"; }));
  op.reset();  // stopped: every Event written
  const auto kept = api.object(api::kSecrets, "ns", "private-cloud-init");
  ASSERT_TRUE(kept);
  const std::string document =
      kube::base64Decode((*kept)["data"]["userdata"].get<std::string>()).value_or("");
  EXPECT_NE(document.find("s3cr3t-t0ken"), std::string::npos);
  EXPECT_NE(document.find("k3y-ma7erial"), std::string::npos);
  for (const auto& r : {api::kVirtualMachines, api::kVirtualMachineInstances, api::kNetworkPolicies,
                        v1::Instance::resource(), kEvents})
    for (const auto& o : api.objects(r, "ns")) {
      EXPECT_EQ(o.dump().find("s3cr3t-t0ken"), std::string::npos) << o.dump();
      EXPECT_EQ(o.dump().find("k3y-ma7erial"), std::string::npos) << o.dump();
    }
}

}  // namespace
}  // namespace kubec2::controllers
