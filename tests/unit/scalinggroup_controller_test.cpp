// The ScalingGroup controller's wiring, run by a real manager over the
// in-memory API (runtime/fake_client.h) with the API server's errors
// injected mid-scale: what it creates, that it never creates more than the
// capacity in force, and how it reports and recovers from failed writes.
#include "controllers/scalinggroup/scalinggroup_controller.h"

#include <thread>

#include <gtest/gtest.h>

#include "api/resources.h"
#include "api/v1alpha1/types.h"
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

class ScalingGroupControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api.serve(v1::ScalingGroup::resource());
    api.serve(v1::Instance::resource());
    api.serve(v1::LaunchTemplate::resource());
    api.serve(v1::LoadBalancer::resource());
    api.serve(api::kNodes);
    api.serve(kEvents, {.statusSubresource = false});
    for (const std::string zone : {"a", "b", "c"}) {
      api.create(api::kNodes, "",
                 {{"metadata",
                   {{"name", "node-" + zone},
                    {"labels", {{"topology.kubernetes.io/zone", "zone-" + zone}}}}}});
      api.patchStatus(api::kNodes, "", "node-" + zone, kube::PatchType::Merge,
                      {{"status", {{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
    }
    api.create(v1::LaunchTemplate::resource(), "ns",
               {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                {"kind", "LaunchTemplate"},
                {"metadata", {{"name", "web"}}},
                {"spec",
                 {{"versions",
                   {{{"spec",
                      {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
                       {"instanceType", "t3.micro"}}}}}}}}});
    auto faulty = std::make_unique<kube::FaultInjectingClient>(api);
    faults = faulty.get();
    kube::ManagerOptions mo;
    mo.metricsBindAddress = "0";
    mo.healthProbeBindAddress = "0";
    mo.maxConcurrentReconciles = 2;
    mgr = std::make_unique<kube::Manager>(std::move(faulty), mo);
    recorder = std::make_unique<kube::EventRecorder>(
        kube::makeEventSink(*faults), kube::EventRecorderOptions{.component = "kubec2"});
    addScalingGroupController(*mgr, *recorder, {});
  }
  void start() {
    thread = std::thread([this] { mgr->run(stop.get_token()); });
  }
  void TearDown() override {
    stop.request_stop();
    if (thread.joinable()) thread.join();
    recorder->flush();
  }
  void createGroup(int desired) {
    api.create(v1::ScalingGroup::resource(), "ns",
               {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                {"kind", "ScalingGroup"},
                {"metadata", {{"name", "web"}}},
                {"spec",
                 {{"minSize", 0},
                  {"maxSize", 10},
                  {"desiredCapacity", desired},
                  {"launchTemplateRef", {{"name", "web"}}}}}});
  }
  std::size_t instances() { return api.objects(v1::Instance::resource(), "ns").size(); }
  json status() {
    const auto g = api.object(v1::ScalingGroup::resource(), "ns", "web");
    return g ? g->value("status", json::object()) : json::object();
  }
  std::string ready() {
    for (const auto& c : status().value("conditions", json::array()))
      if (c["type"] == "Ready") return c.value("reason", "");
    return "";
  }
  std::vector<std::string> warnings() {
    std::vector<std::string> out;
    for (const auto& e : api.objects(kEvents, "ns"))
      if (e.value("type", "") == "Warning") out.push_back(e.value("message", ""));
    return out;
  }

  kube::FakeClient api;
  kube::FaultInjectingClient* faults = nullptr;
  std::unique_ptr<kube::Manager> mgr;
  std::unique_ptr<kube::EventRecorder> recorder;
  std::stop_source stop;
  std::thread thread;
};

TEST_F(ScalingGroupControllerTest, LaunchesTheCapacityOnceAcrossZones) {
  createGroup(6);
  start();
  ASSERT_TRUE(eventually([&] { return instances() == 6; }));
  ASSERT_TRUE(eventually([&] { return status().value("currentCapacity", -1) == 6; }));
  std::map<std::string, int> zones;
  for (const auto& i : api.objects(v1::Instance::resource(), "ns")) {
    ++zones[i["spec"].value("availabilityZone", "")];
    EXPECT_EQ(i["metadata"]["name"].get<std::string>().rfind("web-", 0), 0u);
  }
  EXPECT_EQ(zones, (std::map<std::string, int>{{"zone-a", 2}, {"zone-b", 2}, {"zone-c", 2}}));
  EXPECT_EQ(faults->succeeded({.verb = "create", .resource = "instances"}), 6);
}

// 500s and a lost answer in the middle of a scale-out, and conflicts on the
// group's status: the group reports the failure, retries, and ends with
// exactly the capacity, never a create more than that.
TEST_F(ScalingGroupControllerTest, FaultsMidScaleEndInTheCapacityNotAbove) {
  faults->inject({.verb = "create", .resource = "instances"},
                 kube::FaultInjectingClient::internalError(), 2, /*skip=*/2);
  faults->inject({.verb = "patch", .resource = "scalinggroups", .subresource = "status"},
                 kube::FaultInjectingClient::conflict(), 1);
  createGroup(5);
  start();
  struct Dump {
    kube::FaultInjectingClient* f;
    ~Dump() {
      if (!::testing::Test::HasFailure()) return;
      for (const auto& c : f->calls()) std::cerr << c.str() << (c.failed ? " FAILED" : "") << "\n";
    }
  } dump{faults};
  ASSERT_TRUE(eventually([&] {
    return instances() == 5 && status().value("currentCapacity", -1) == 5;
  })) << status().dump();
  // Let any reconcile still queued run: nothing more is created.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(instances(), 5u);
  EXPECT_EQ(faults->succeeded({.verb = "create", .resource = "instances"}), 5);
  EXPECT_TRUE(eventually([&] {
    for (const auto& w : warnings())
      if (w.find("Failed creating Instance web-") != std::string::npos) return true;
    return false;
  })) << "a Warning names the failed launch";
  EXPECT_TRUE(eventually([&] { return ready() != "WriteFailed"; })) << "and it recovers";
}

TEST_F(ScalingGroupControllerTest, ScalingInDeletesTheSurplusByUid) {
  createGroup(4);
  start();
  ASSERT_TRUE(eventually([&] { return instances() == 4; }));
  // A merge patch, as `kubectl scale` sends: not a read-modify-write, which
  // the controller's own status writes would answer with a 409 Conflict.
  api.patch(v1::ScalingGroup::resource(), "ns", "web", kube::PatchType::Merge,
            {{"spec", {{"desiredCapacity", 1}}}});
  // Without the Instance controller, deleted Instances go at once (no
  // finalizer). A call is recorded once its answer is back, a little after
  // the fake shows its effect: wait for both.
  const kube::CallMatch deletes{.verb = "delete", .resource = "instances"};
  ASSERT_TRUE(eventually([&] { return instances() == 1 && faults->succeeded(deletes) >= 3; }))
      << status().dump();
  // Let any reconcile still queued run: nothing more is deleted.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(instances(), 1u);
  EXPECT_EQ(faults->succeeded(deletes), 3);
}

TEST_F(ScalingGroupControllerTest, DeletingTheGroupWaitsForItsInstances) {
  createGroup(2);
  start();
  ASSERT_TRUE(eventually([&] { return instances() == 2; }));
  ASSERT_TRUE(eventually([&] {
    const auto g = api.object(v1::ScalingGroup::resource(), "ns", "web");
    return g && !(*g)["metadata"].value("finalizers", json::array()).empty();
  }));
  api.del(v1::ScalingGroup::resource(), "ns", "web");
  EXPECT_TRUE(eventually(
      [&] { return instances() == 0 && !api.object(v1::ScalingGroup::resource(), "ns", "web"); }));
}

}  // namespace
}  // namespace kubec2::controllers
