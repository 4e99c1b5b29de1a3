// The webhook's view of the cluster (controllers/webhook/lookups.h) from a
// real manager's informers over the in-memory API (runtime/fake_client.h):
// nothing is known before the caches sync, what they hold afterwards, and
// live reads of a ScalingGroup with the API server's errors.
#include "controllers/webhook/lookups.h"

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api/resources.h"
#include "api/v1alpha1/types.h"
#include "controllers/common/instance_type_catalog.h"
#include "runtime/client_wrapper.h"
#include "runtime/fake_client.h"

namespace kubec2::webhook {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace v1 = kubec2::api::v1alpha1;
using State = api::StoredObject::State;

bool eventually(const std::function<bool()>& f) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

json object(const std::string& name, json rest = json::object()) {
  rest["metadata"]["name"] = name;
  return rest;
}

json node(const std::string& name, const std::string& zone) {
  json n = object(name);
  if (!zone.empty()) n["metadata"]["labels"] = {{"topology.kubernetes.io/zone", zone}};
  return n;
}

json scalingGroup(int maxSize) {
  return object(
      "web",
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "ScalingGroup"},
       {"spec", {{"minSize", 1}, {"maxSize", maxSize}, {"launchTemplateRef", {{"name", "web"}}}}}});
}

class ClusterLookupsTest : public ::testing::Test {
 protected:
  ClusterLookupsTest() {
    for (const auto* r : {&v1::LaunchTemplate::resource(), &v1::ScalingGroup::resource(),
                          &api::kConfigMaps, &api::kNodes})
      api.serve(*r, {.statusSubresource = false});
  }
  ~ClusterLookupsTest() override {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

  // A manager (watching `ns`, or all namespaces) with the lookups; not yet running.
  void build(const std::string& ns = "") {
    auto faulty = std::make_unique<kube::FaultInjectingClient>(api);
    faults = faulty.get();
    kube::ManagerOptions mo;
    mo.metricsBindAddress = "0";
    mo.healthProbeBindAddress = "0";
    mo.namespace_ = ns;
    mgr_ = std::make_unique<kube::Manager>(std::move(faulty), mo);
    auto catalog = std::make_shared<controllers::InstanceTypeCatalogSource>(
        *mgr_, "kubec2-system", "kubec2-instance-types");
    lookups = std::make_unique<ClusterLookups>(*mgr_, catalog);
  }
  void run() {
    thread_ = std::thread([this] { mgr_->run(stop_.get_token()); });
    ASSERT_TRUE(eventually([&] { return mgr_->cachesSynced(); }));
  }

  kube::FakeClient api;
  kube::FaultInjectingClient* faults = nullptr;
  std::unique_ptr<ClusterLookups> lookups;

 private:
  std::unique_ptr<kube::Manager> mgr_;
  std::stop_source stop_;
  std::thread thread_;
};

TEST_F(ClusterLookupsTest, NothingIsKnownBeforeTheCachesSync) {
  api.create(v1::ScalingGroup::resource(), "shop", scalingGroup(12));
  build();
  EXPECT_FALSE(lookups->instanceTypes());
  EXPECT_FALSE(lookups->zones());
  EXPECT_FALSE(lookups->launchTemplateExists("shop", "web"));
  EXPECT_EQ(lookups->scalingGroup("shop", "web", api::Freshness::Cached).state, State::Unknown);
  // A live read needs no cache.
  const auto live = lookups->scalingGroup("shop", "web", api::Freshness::Live);
  ASSERT_EQ(live.state, State::Found);
  EXPECT_EQ(live.object["spec"]["maxSize"], 12);
}

TEST_F(ClusterLookupsTest, AfterTheSyncTheCachesAnswer) {
  api.create(api::kNodes, "", node("a", "zone-b"));
  api.create(api::kNodes, "", node("b", "zone-a"));
  api.create(api::kNodes, "", node("c", "zone-b"));
  api.create(api::kNodes, "", node("d", ""));
  api.create(v1::LaunchTemplate::resource(), "shop",
             object("web", {{"spec", {{"versions", json::array()}}}}));
  api.create(api::kConfigMaps, "kubec2-system",
             object("kubec2-instance-types", {{"data", {{"x1.small", "{vCPU: 1, memory: 1Gi}"}}}}));
  api.create(v1::ScalingGroup::resource(), "shop", scalingGroup(12));
  build();
  run();
  EXPECT_EQ(lookups->zones(), (std::vector<std::string>{"zone-a", "zone-b"}));
  const auto types = lookups->instanceTypes();
  ASSERT_TRUE(types);
  EXPECT_NE(std::find(types->begin(), types->end(), "x1.small"), types->end());
  EXPECT_NE(std::find(types->begin(), types->end(), "m5.large"), types->end());
  EXPECT_EQ(lookups->launchTemplateExists("shop", "web"), true);
  EXPECT_EQ(lookups->launchTemplateExists("shop", "api"), false);
  EXPECT_EQ(lookups->launchTemplateExists("other", "web"), false);
  const auto cached = lookups->scalingGroup("shop", "web", api::Freshness::Cached);
  ASSERT_EQ(cached.state, State::Found);
  EXPECT_EQ(cached.object["spec"]["maxSize"], 12);
  EXPECT_EQ(lookups->scalingGroup("shop", "api", api::Freshness::Cached).state, State::NotFound);
  // A node joining a zone is known at its watch event.
  api.create(api::kNodes, "", node("e", "zone-c"));
  EXPECT_TRUE(eventually([&] {
    return lookups->zones() == std::vector<std::string>{"zone-a", "zone-b", "zone-c"};
  }));
}

TEST_F(ClusterLookupsTest, NamespacesTheManagerDoesNotWatchAreNotKnown) {
  build("shop");
  run();
  EXPECT_EQ(lookups->launchTemplateExists("shop", "web"), false);
  EXPECT_FALSE(lookups->launchTemplateExists("other", "web"));
  EXPECT_EQ(lookups->scalingGroup("other", "web", api::Freshness::Cached).state, State::Unknown);
}

TEST_F(ClusterLookupsTest, LiveReadsReportTheApiServersAnswer) {
  build();
  EXPECT_EQ(lookups->scalingGroup("shop", "web", api::Freshness::Live).state, State::NotFound);
  faults->inject({.verb = "get", .resource = "scalinggroups"},
                 kube::FaultInjectingClient::internalError());
  const auto failed = lookups->scalingGroup("shop", "web", api::Freshness::Live);
  EXPECT_EQ(failed.state, State::Unknown);
  EXPECT_FALSE(failed.error.empty());
}

}  // namespace
}  // namespace kubec2::webhook
