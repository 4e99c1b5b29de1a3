// Faults below the API server, systematically (docs/reliability.md, "Faults
// below the API server"): each controller (Instance, LaunchTemplate,
// ScalingGroup, LoadBalancer, ElasticIP, Snapshot) plays a scenario once without
// faults to record the calls it makes, then once per recorded call and
// fault, with that one fault injected at that call
// (runtime/client_wrapper.h): 409 Conflict, 500,
// 429 with Retry-After, a timeout before the server saw the request, and for
// writes a timeout after it committed; and, per call, a 500 and a 429 that
// persist for several attempts. Each faulted run must end as the clean run
// did, with no create or delete more than it (acted once), with the
// failure reported while it lasted (a Warning Event naming it, for the
// writes the executor reports), and with retries that waited: a backoff
// that grows, and at least the Retry-After a 429 asked for.
//
// Time is a FakeClock for the controllers (ManagerOptions::clock): the test
// moves it only when every worker waits on it, so a retry made without
// waiting shows as a retry at the same simulated instant.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "api/resources.h"
#include "api/v1alpha1/types.h"
#include "controllers/common/instance_type_catalog.h"
#include "controllers/elasticip/elasticip_controller.h"
#include "controllers/instance/instance_controller.h"
#include "controllers/launchtemplate/launchtemplate_controller.h"
#include "controllers/loadbalancer/loadbalancer_controller.h"
#include "controllers/scalinggroup/scalinggroup_controller.h"
#include "controllers/snapshot/snapshot_controller.h"
#include "runtime/client_wrapper.h"
#include "runtime/fake_client.h"
#include "runtime/fake_clock.h"
#include "runtime/manager.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace v1 = kubec2::api::v1alpha1;
using Faults = kube::FaultInjectingClient;
using TimePoint = kube::Clock::time_point;

const kube::Resource kEvents{"", "v1", "events", true, "Event"};

// The work queues' first backoff (WorkQueueOptions::baseDelay).
constexpr auto kBaseDelay = 5ms;
constexpr auto kRetryAfter = 2s;
// Attempts a persistent fault fails.
constexpr int kPersist500 = 4;
constexpr int kPersist429 = 3;

// The operator over an in-memory API, driven in simulated time.
class Harness {
 public:
  explicit Harness(int workers) : workers_(workers) {}
  ~Harness() { stop(); }

  kube::FakeClock clock;
  kube::FakeClient api{&clock};
  Faults faults{api, &clock};

  // Builds the manager; `wire` registers the controllers (before run()).
  void build(const std::function<void(kube::Manager&, kube::Recorder&)>& wire) {
    kube::ManagerOptions mo;
    mo.metricsBindAddress = "0";
    mo.healthProbeBindAddress = "0";
    mo.maxConcurrentReconciles = 1;  // one worker per controller: workers_ waiters when idle
    mo.clock = &clock;
    // As a Client&: ClientWrapper's copy constructor would take the
    // FaultInjectingClient by slicing and bypass it.
    mgr_ = std::make_unique<kube::Manager>(
        std::make_unique<kube::ClientWrapper>(static_cast<kube::Client&>(faults)), mo);
    // Events go to the API directly: they are how a user sees a cause,
    // and the recorder's own retries are tested in events_test.cpp.
    recorder_ = std::make_unique<kube::EventRecorder>(
        kube::makeEventSink(api), kube::EventRecorderOptions{.component = "kubec2"});
    wire(*mgr_, *recorder_);
  }
  void start() {
    thread_ = std::thread([this] { mgr_->run(stopSource_.get_token()); });
  }
  // Stops the manager (reconciles in flight finish) and writes pending Events.
  void stop() {
    if (!thread_.joinable()) return;
    stopSource_.request_stop();
    // Workers waiting on the fake clock are woken by the queue's shutdown.
    thread_.join();
    recorder_->flush();
  }

  // Moves simulated time until `done` holds with the operator idle, or
  // `limit` of simulated time has passed (false).
  bool runUntil(const std::function<bool()>& done, kube::Clock::duration limit = 10min) {
    const TimePoint deadline = clock.now() + limit;
    kube::Clock::duration step = kBaseDelay;
    std::uint64_t seen = activity();
    while (true) {
      settle();
      if (done()) {
        settle();
        if (done()) return true;
      }
      if (clock.now() >= deadline) return false;
      clock.advance(step);
      // Fine steps while the operator works, so a backoff is not overshot
      // by much; longer ones while it waits (a Retry-After, a requeue).
      const std::uint64_t now = activity();
      step = now != seen ? kube::Clock::duration(kBaseDelay)
                         : std::min<kube::Clock::duration>(step * 2, 1s);
      seen = now;
    }
  }
  // Lets `d` of simulated time pass, as the operator would see it.
  void idle(kube::Clock::duration d) {
    const TimePoint until = clock.now() + d;
    runUntil([&] { return clock.now() >= until; }, d + 1s);
  }

 private:
  std::uint64_t activity() const { return api.resourceVersion() + faults.calls().size(); }
  // Waits (real time) for the operator's threads to catch up: every worker
  // blocked on the fake clock, and the informers given a moment to deliver
  // what was just written (their watch threads run on real time).
  void settle() {
    for (int round = 0; round < 3; ++round) {
      const std::uint64_t before = activity();
      clock.waitForWaiters(static_cast<size_t>(workers_), 2s);
      std::this_thread::sleep_for(200us);
      if (activity() == before && clock.waiters() >= static_cast<size_t>(workers_)) return;
    }
  }

  int workers_;
  std::unique_ptr<kube::Manager> mgr_;
  std::unique_ptr<kube::EventRecorder> recorder_;
  std::stop_source stopSource_;
  std::thread thread_;
};

// A controller's scenario: what it serves, wires and plays, and what a user
// checks at the end.
struct Scenario {
  std::string name;
  int workers = 1;  // controllers wired (one worker each)
  kube::Resource subject;
  std::function<void(Harness&)> setup;  // served resources and objects there before
  std::function<void(kube::Manager&, kube::Recorder&)> wire;
  // Plays the phases; the empty string when every phase ended, else which did not.
  std::function<std::string(Harness&)> play;
  // What a user sees at the end (no generated names, uids or times).
  std::function<json(Harness&)> endState;
  // Resources whose creates and deletes must not exceed the clean run's.
  std::vector<std::string> actedOnce;
};

json instanceSpec(const std::string& type = "t3.micro") {
  return {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
          {"instanceType", type}};
}

std::string statusOf(const json& obj, const std::string& field) {
  const json st = obj.value("status", json::object());
  const auto it = st.find(field);
  if (it == st.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// --- Instance: launch to running, then terminate ---------------------------

void serveInstanceApis(kube::FakeClient& api) {
  api.serve(v1::Instance::resource());
  api.serve(v1::LaunchTemplate::resource());
  api.serve(api::kNetworkPolicies, {.statusSubresource = false});
  api.serve(api::kSecrets, {.statusSubresource = false});
  api.serve(api::kConfigMaps, {.statusSubresource = false});
  api.serve(api::kNodes);
  api.serve(api::kPersistentVolumeClaims);
  api.serve(api::kDataVolumes);
  api.serve(api::kVirtualMachines);
  api.serve(api::kVirtualMachineInstances);
  api.create(api::kNodes, "",
             {{"metadata",
               {{"name", "node-a"}, {"labels", {{"topology.kubernetes.io/zone", "zone-a"}}}}}});
}

// KubeVirt's part: the VM's instance runs on node-a.
void boot(kube::FakeClient& api, const std::string& name) {
  const auto vm = api.object(api::kVirtualMachines, "ns", name);
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

Scenario instanceScenario() {
  Scenario s;
  s.name = "Instance";
  s.workers = 2;  // instance, launchtemplate
  s.subject = v1::Instance::resource();
  s.setup = [](Harness& h) {
    serveInstanceApis(h.api);
    h.api.serve(kEvents, {.statusSubresource = false});
  };
  s.wire = [](kube::Manager& mgr, kube::Recorder& events) {
    auto catalog =
        std::make_shared<InstanceTypeCatalogSource>(mgr, "kubec2-system", "kubec2-instance-types");
    InstanceControllerOptions io;
    io.terminatedRetention = 0s;
    addInstanceControllers(mgr, events, catalog, io);
    addLaunchTemplateController(mgr, events, "kubec2-launchtemplate");
  };
  s.play = [](Harness& h) -> std::string {
    auto& api = h.api;
    api.create(v1::Instance::resource(), "ns",
               {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                {"kind", "Instance"},
                {"metadata", {{"name", "web-1"}}},
                {"spec", instanceSpec("m5.large")}});
    if (!h.runUntil([&] { return api.object(api::kVirtualMachines, "ns", "web-1").has_value(); }))
      return "no VirtualMachine";
    boot(api, "web-1");
    auto state = [&] {
      const auto i = api.object(v1::Instance::resource(), "ns", "web-1");
      return i ? statusOf(*i, "state") : "";
    };
    if (!h.runUntil([&] { return state() == "running"; })) return "not running: " + state();
    h.idle(5s);
    api.del(v1::Instance::resource(), "ns", "web-1");
    if (!h.runUntil([&] { return !api.object(v1::Instance::resource(), "ns", "web-1"); }))
      return "not terminated: " + state();
    return "";
  };
  s.endState = [](Harness& h) {
    return json{{"instances", h.api.objects(v1::Instance::resource(), "ns").size()},
                {"vms", h.api.objects(api::kVirtualMachines, "ns").size()},
                {"networkPolicies", h.api.objects(api::kNetworkPolicies, "ns").size()}};
  };
  s.actedOnce = {"virtualmachines", "networkpolicies", "secrets"};
  return s;
}

// --- LaunchTemplate: a new version, then a new default ---------------------

Scenario launchTemplateScenario() {
  Scenario s;
  s.name = "LaunchTemplate";
  s.workers = 1;
  s.subject = v1::LaunchTemplate::resource();
  s.setup = [](Harness& h) {
    h.api.serve(v1::LaunchTemplate::resource());
    h.api.serve(kEvents, {.statusSubresource = false});
  };
  s.wire = [](kube::Manager& mgr, kube::Recorder& events) {
    addLaunchTemplateController(mgr, events, "kubec2-launchtemplate");
  };
  s.play = [](Harness& h) -> std::string {
    auto& api = h.api;
    const json version = {{"spec", instanceSpec()}};
    api.create(v1::LaunchTemplate::resource(), "ns",
               {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                {"kind", "LaunchTemplate"},
                {"metadata", {{"name", "web"}}},
                {"spec", {{"versions", {version}}}}});
    auto status = [&](const std::string& f) {
      const auto lt = api.object(v1::LaunchTemplate::resource(), "ns", "web");
      return lt ? statusOf(*lt, f) : "";
    };
    if (!h.runUntil([&] { return status("latestVersion") == "1"; })) return "no version 1";
    api.patch(v1::LaunchTemplate::resource(), "ns", "web", kube::PatchType::Merge,
              {{"spec", {{"versions", {version, {{"spec", instanceSpec("m5.large")}}}}}}});
    if (!h.runUntil([&] { return status("latestVersion") == "2"; })) return "no version 2";
    api.patch(v1::LaunchTemplate::resource(), "ns", "web", kube::PatchType::Merge,
              {{"spec", {{"defaultVersion", 2}}}});
    if (!h.runUntil([&] { return status("defaultVersion") == "2"; })) return "default not 2";
    return "";
  };
  s.endState = [](Harness& h) {
    const auto lt = h.api.object(v1::LaunchTemplate::resource(), "ns", "web");
    json conds = json::array();
    for (const auto& c : lt->value("status", json::object()).value("conditions", json::array()))
      conds.push_back({{"type", c.value("type", "")},
                       {"status", c.value("status", "")},
                       {"reason", c.value("reason", "")}});
    return json{{"latestVersion", statusOf(*lt, "latestVersion")},
                {"defaultVersion", statusOf(*lt, "defaultVersion")},
                {"conditions", conds}};
  };
  return s;
}

// --- ScalingGroup: 0 -> 3 -> 1 ---------------------------------------------

Scenario scalingGroupScenario() {
  Scenario s;
  s.name = "ScalingGroup";
  s.workers = 1;
  s.subject = v1::ScalingGroup::resource();
  s.setup = [](Harness& h) {
    auto& api = h.api;
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
                {"spec", {{"versions", {{{"spec", instanceSpec()}}}}}}});
  };
  s.wire = [](kube::Manager& mgr, kube::Recorder& events) {
    addScalingGroupController(mgr, events, {});
  };
  s.play = [](Harness& h) -> std::string {
    auto& api = h.api;
    api.create(v1::ScalingGroup::resource(), "ns",
               {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                {"kind", "ScalingGroup"},
                {"metadata", {{"name", "web"}}},
                {"spec",
                 {{"minSize", 0},
                  {"maxSize", 10},
                  {"desiredCapacity", 0},
                  {"launchTemplateRef", {{"name", "web"}}}}}});
    auto capacity = [&] {
      const auto g = api.object(v1::ScalingGroup::resource(), "ns", "web");
      return g ? statusOf(*g, "currentCapacity") : "";
    };
    auto instances = [&] { return api.objects(v1::Instance::resource(), "ns").size(); };
    if (!h.runUntil([&] { return capacity() == "0"; })) return "no status at 0";
    for (const int desired : {3, 1}) {
      // A merge patch, as `kubectl scale` sends.
      api.patch(v1::ScalingGroup::resource(), "ns", "web", kube::PatchType::Merge,
                {{"spec", {{"desiredCapacity", desired}}}});
      if (!h.runUntil([&] {
            return instances() == static_cast<size_t>(desired) &&
                   capacity() == std::to_string(desired);
          }))
        return "not at " + std::to_string(desired) + ": " + std::to_string(instances()) +
               " instances, capacity " + capacity();
    }
    return "";
  };
  s.endState = [](Harness& h) {
    const auto g = h.api.object(v1::ScalingGroup::resource(), "ns", "web");
    std::multiset<std::string> zones;
    for (const auto& i : h.api.objects(v1::Instance::resource(), "ns"))
      zones.insert(i["spec"].value("availabilityZone", ""));
    std::string ready;
    for (const auto& c : g->value("status", json::object()).value("conditions", json::array()))
      if (c.value("type", "") == "Ready") ready = c.value("status", "");
    return json{{"instances", zones.size()},
                {"zones", std::set<std::string>(zones.begin(), zones.end()).size()},
                {"currentCapacity", statusOf(*g, "currentCapacity")},
                {"desiredCapacity", statusOf(*g, "desiredCapacity")},
                {"ready", ready}};
  };
  s.actedOnce = {"instances"};
  return s;
}

// --- LoadBalancer: targets registered; Service, EndpointSlice, Ingress -----

json runningInstance(const std::string& name) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", name}, {"labels", {{"app", "web"}}}}},
          {"spec", instanceSpec()}};
}

void markRunning(kube::FakeClient& api, const std::string& name, const std::string& ip) {
  api.patchStatus(v1::Instance::resource(), "ns", name, kube::PatchType::Merge,
                  {{"status", {{"state", "running"}, {"privateIP", ip}}}});
}

Scenario loadBalancerScenario() {
  Scenario s;
  s.name = "LoadBalancer";
  s.workers = 1;
  s.subject = v1::LoadBalancer::resource();
  s.setup = [](Harness& h) {
    auto& api = h.api;
    api.serve(v1::LoadBalancer::resource());
    api.serve(v1::Instance::resource());
    api.serve(v1::ScalingGroup::resource());
    api.serve(api::kServices);
    api.serve(api::kEndpointSlicesV1, {.statusSubresource = false});
    api.serve(api::kIngresses);
    api.serve(kEvents, {.statusSubresource = false});
    for (const std::string n : {"web-1", "web-2"}) {
      api.create(v1::Instance::resource(), "ns", runningInstance(n));
      // Nothing listens there: health checks fail at once and the
      // targets stay initial (two failures make them unhealthy only after
      // an interval of 300 s, which this scenario does not reach in real time).
      markRunning(api, n, "127.0.0.1");
    }
  };
  s.wire = [](kube::Manager& mgr, kube::Recorder& events) {
    addLoadBalancerController(mgr, events, {});
  };
  s.play = [](Harness& h) -> std::string {
    auto& api = h.api;
    api.create(
        v1::LoadBalancer::resource(), "ns",
        {{"apiVersion", "compute.kubec2.io/v1alpha1"},
         {"kind", "LoadBalancer"},
         {"metadata", {{"name", "web"}}},
         {"spec",
          {{"type", "application"},
           {"listeners", {{{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "web"}}}},
           {"targetGroups",
            {{{"name", "web"},
              {"port", 1},
              {"healthCheck", {{"intervalSeconds", 300}, {"timeoutSeconds", 2}}},
              {"targets", {{"instanceSelector", {{"matchLabels", {{"app", "web"}}}}}}}}}}}}});
    auto targets = [&] {
      std::set<std::string> out;
      const auto lb = api.object(v1::LoadBalancer::resource(), "ns", "web");
      if (!lb) return out;
      for (const auto& g : lb->value("status", json::object()).value("targetGroups", json::array()))
        for (const auto& t : g.value("targets", json::array()))
          out.insert(t.value("instance", t.dump()));
      return out;
    };
    auto written = [&] {
      return !api.objects(api::kServices, "ns").empty() &&
             !api.objects(api::kEndpointSlicesV1, "ns").empty() &&
             !api.objects(api::kIngresses, "ns").empty();
    };
    if (!h.runUntil([&] { return written() && targets().size() == 2; }))
      return "not registered: " + std::to_string(targets().size()) + " targets";
    api.create(v1::Instance::resource(), "ns", runningInstance("web-3"));
    markRunning(api, "web-3", "127.0.0.1");
    if (!h.runUntil([&] { return targets().size() == 3; }))
      return "web-3 not registered: " + std::to_string(targets().size()) + " targets";
    return "";
  };
  s.endState = [](Harness& h) {
    const auto lb = h.api.object(v1::LoadBalancer::resource(), "ns", "web");
    std::set<std::string> targets;
    for (const auto& g : lb->value("status", json::object()).value("targetGroups", json::array()))
      for (const auto& t : g.value("targets", json::array()))
        targets.insert(t.value("instance", t.dump()));
    json services = json::array();
    for (const auto& svc : h.api.objects(api::kServices, "ns"))
      services.push_back({svc["metadata"]["name"], svc["spec"].value("ports", json::array())});
    size_t endpoints = 0;
    for (const auto& sl : h.api.objects(api::kEndpointSlicesV1, "ns"))
      endpoints += sl.value("endpoints", json::array()).size();
    json ingresses = json::array();
    for (const auto& ing : h.api.objects(api::kIngresses, "ns"))
      ingresses.push_back({ing["metadata"]["name"], ing["spec"].value("rules", json::array())});
    return json{{"targets", targets},
                {"services", services},
                {"slices", h.api.objects(api::kEndpointSlicesV1, "ns").size()},
                {"endpoints", endpoints},
                {"ingresses", ingresses}};
  };
  s.actedOnce = {"services", "endpointslices", "ingresses"};
  return s;
}

// --- ElasticIP: associated with web-1, then moved to web-2 ----------------

Scenario elasticIPScenario() {
  Scenario s;
  s.name = "ElasticIP";
  s.workers = 1;
  s.subject = v1::ElasticIP::resource();
  s.setup = [](Harness& h) {
    auto& api = h.api;
    api.serve(v1::ElasticIP::resource());
    api.serve(v1::Instance::resource());
    api.serve(api::kServices);
    api.serve(api::kEndpointSlicesV1, {.statusSubresource = false});
    api.serve(kEvents, {.statusSubresource = false});
    api.create(v1::Instance::resource(), "ns", runningInstance("web-1"));
    markRunning(api, "web-1", "10.0.0.1");
    api.create(v1::Instance::resource(), "ns", runningInstance("web-2"));
    markRunning(api, "web-2", "10.0.0.2");
  };
  s.wire = [](kube::Manager& mgr, kube::Recorder& events) { addElasticIPController(mgr, events); };
  s.play = [](Harness& h) -> std::string {
    auto& api = h.api;
    api.create(v1::ElasticIP::resource(), "ns",
               {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                {"kind", "ElasticIP"},
                {"metadata", {{"name", "db"}}},
                {"spec", {{"instanceRef", {{"name", "web-1"}}}, {"ports", {{{"port", 5432}}}}}}});
    // The one endpoint's address, and the instance status names.
    auto at = [&](const std::string& ip, const std::string& instance) {
      const auto slices = api.objects(api::kEndpointSlicesV1, "ns");
      const auto eip = api.object(v1::ElasticIP::resource(), "ns", "db");
      return !api.objects(api::kServices, "ns").empty() && slices.size() == 1 &&
             slices[0].value("endpoints", json::array()).size() == 1 &&
             slices[0]["endpoints"][0]["addresses"][0] == ip && eip &&
             statusOf(*eip, "instance") == instance;
    };
    if (!h.runUntil([&] { return at("10.0.0.1", "web-1"); })) return "not associated with web-1";
    api.patch(v1::ElasticIP::resource(), "ns", "db", kube::PatchType::Merge,
              {{"spec", {{"instanceRef", {{"name", "web-2"}}}}}});
    if (!h.runUntil([&] { return at("10.0.0.2", "web-2"); })) return "not moved to web-2";
    return "";
  };
  s.endState = [](Harness& h) {
    const auto eip = h.api.object(v1::ElasticIP::resource(), "ns", "db");
    json services = json::array();
    for (const auto& svc : h.api.objects(api::kServices, "ns"))
      services.push_back({svc["metadata"]["name"], svc["spec"].value("ports", json::array())});
    json endpoints = json::array();
    for (const auto& sl : h.api.objects(api::kEndpointSlicesV1, "ns"))
      for (const auto& e : sl.value("endpoints", json::array()))
        endpoints.push_back(e["targetRef"].value("name", ""));
    return json{{"services", services},
                {"slices", h.api.objects(api::kEndpointSlicesV1, "ns").size()},
                {"endpoints", endpoints},
                {"association", statusOf(*eip, "association")},
                {"instance", statusOf(*eip, "instance")}};
  };
  s.actedOnce = {"services", "endpointslices"};
  return s;
}

// --- Snapshot: two volumes copied, the copies cut, completed ---------------

Scenario snapshotScenario() {
  Scenario s;
  s.name = "Snapshot";
  s.workers = 1;
  s.subject = v1::Snapshot::resource();
  s.setup = [](Harness& h) {
    auto& api = h.api;
    api.serve(v1::Snapshot::resource());
    api.serve(v1::Instance::resource());
    api.serve(api::kVolumeSnapshots);
    api.serve(kEvents, {.statusSubresource = false});
    api.create(v1::Instance::resource(), "ns", runningInstance("db-1"));
    api.patchStatus(
        v1::Instance::resource(), "ns", "db-1", kube::PatchType::Merge,
        {{"status",
          {{"state", "running"},
           {"launchTime", "2026-11-30T09:00:00Z"},
           {"volumes",
            {{{"name", "root"}, {"claimName", "db-1-root"}, {"deleteOnTermination", true}},
             {{"name", "data"}, {"claimName", "db-1-data"}, {"deleteOnTermination", false}}}}}}});
  };
  s.wire = [](kube::Manager& mgr, kube::Recorder& events) {
    addSnapshotController(mgr, events, {.discoveryPeriod = std::chrono::milliseconds(100)});
  };
  s.play = [](Harness& h) -> std::string {
    auto& api = h.api;
    api.create(v1::Snapshot::resource(), "ns",
               {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                {"kind", "Snapshot"},
                {"metadata", {{"name", "nightly"}}},
                {"spec", {{"instanceRef", {{"name", "db-1"}}}}}});
    if (!h.runUntil([&] { return api.objects(api::kVolumeSnapshots, "ns").size() == 2; }))
      return "the copies were not asked for";
    // The CSI snapshotter cuts them.
    for (const auto& vs : api.objects(api::kVolumeSnapshots, "ns"))
      api.patchStatus(api::kVolumeSnapshots, "ns", vs["metadata"]["name"], kube::PatchType::Merge,
                      {{"status", {{"readyToUse", true}, {"restoreSize", "10Gi"}}}});
    if (!h.runUntil([&] {
          const auto snap = api.object(v1::Snapshot::resource(), "ns", "nightly");
          return snap && statusOf(*snap, "state") == "completed";
        }))
      return "not completed";
    return "";
  };
  s.endState = [](Harness& h) {
    const auto snap = h.api.object(v1::Snapshot::resource(), "ns", "nightly");
    json copies = json::array();
    for (const auto& vs : h.api.objects(api::kVolumeSnapshots, "ns"))
      copies.push_back({vs["metadata"]["name"], vs["spec"]["source"]["persistentVolumeClaimName"]});
    json recorded = json::array();
    for (const auto& v : snap->value("status", json::object()).value("volumes", json::array()))
      recorded.push_back({v["volumeSnapshotName"], v.value("readyToUse", false)});
    return json{{"copies", copies}, {"recorded", recorded}, {"state", statusOf(*snap, "state")}};
  };
  s.actedOnce = {"volumesnapshots"};
  return s;
}

// --- the matrix ------------------------------------------------------------

// Calls a reconcile makes (informers' list/watch and discovery are the
// runtime's, tested in their own tests).
bool isReconcileCall(const kube::ClientCall& c) {
  static const std::set<std::string> verbs = {"get",   "create", "update",
                                              "patch", "apply",  "delete"};
  return verbs.contains(c.verb) && c.resource != "events";
}

bool isWrite(const std::string& verb) {
  return verb != "get";
}

// One distinct call: its verb, resource and subresource, and which
// occurrence of those it is.
struct CallSite {
  kube::CallMatch match;
  int occurrence = 0;  // 0-based
  std::string str() const {
    return match.verb + " " + match.resource + (match.subresource.empty() ? "" : "/") +
           match.subresource + " #" + std::to_string(occurrence + 1);
  }
};

struct FaultCase {
  std::string name;
  kube::ApiError error;
  int times = 1;
  Faults::When when = Faults::When::Before;
  bool writesOnly = false;
};

std::vector<FaultCase> faultCases() {
  return {
      {"409", Faults::conflict()},
      {"500", Faults::internalError()},
      {"429", Faults::tooManyRequests(kRetryAfter)},
      {"timeout", Faults::timeout()},
      {"timeout-after-commit", Faults::timeout(), 1, Faults::When::After, true},
      {"500x" + std::to_string(kPersist500), Faults::internalError(), kPersist500},
      {"429x" + std::to_string(kPersist429), Faults::tooManyRequests(kRetryAfter), kPersist429},
  };
}

struct RunOutcome {
  std::string unfinished;  // the phase that did not end, if any
  json endState;
  std::map<std::string, int> creates, deletes;
  std::vector<kube::ClientCall> calls;
  std::vector<json> warnings;  // Warning Events about the subject kind
  int pendingFaults = 0;
};

RunOutcome play(const Scenario& s, const std::optional<std::pair<CallSite, FaultCase>>& fault) {
  Harness h(s.workers);
  s.setup(h);
  if (fault) {
    const auto& [site, fc] = *fault;
    h.faults.inject(site.match, fc.error, fc.times, site.occurrence, fc.when);
  }
  h.build(s.wire);
  h.start();
  RunOutcome out;
  out.unfinished = s.play(h);
  // Whatever is still queued runs: a second act would show now.
  h.idle(30s);
  h.stop();
  out.endState = s.endState(h);
  for (const auto& r : s.actedOnce) {
    out.creates[r] = h.api.writes("create", r);
    out.deletes[r] = h.api.writes("delete", r);
  }
  out.calls = h.faults.calls();
  for (const auto& e : h.api.objects(kEvents, "ns"))
    if (e.value("type", "") == "Warning" && e["involvedObject"].value("kind", "") == s.subject.kind)
      out.warnings.push_back(e);
  out.pendingFaults = h.faults.pendingFaults();
  return out;
}

// Occurrences are counted as FaultInjectingClient counts its skips: a
// match with no subresource matches the status subresource's calls too.
std::vector<CallSite> callSites(const std::vector<kube::ClientCall>& calls) {
  std::vector<CallSite> out;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const auto& c = calls[i];
    if (!isReconcileCall(c)) continue;
    const kube::CallMatch m{.verb = c.verb, .resource = c.resource, .subresource = c.subresource};
    const auto before = std::count_if(calls.begin(), calls.begin() + static_cast<long>(i),
                                      [&](const kube::ClientCall& e) { return m.matches(e); });
    out.push_back({m, static_cast<int>(before)});
  }
  return out;
}

// Attempts of the faulted call from the faulted one on: the failed ones and
// the first that got through.
std::vector<kube::ClientCall> attempts(const std::vector<kube::ClientCall>& calls,
                                       const CallSite& site) {
  std::vector<kube::ClientCall> out;
  int n = 0;
  for (const auto& c : calls) {
    if (!site.match.matches(c)) continue;
    if (n++ < site.occurrence) continue;
    out.push_back(c);
    if (!c.failed) break;
  }
  return out;
}

std::string ms(kube::Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

// Runs the matrix for one scenario; returns the number of faulted runs.
int runMatrix(const Scenario& s) {
  const RunOutcome clean = play(s, std::nullopt);
  EXPECT_EQ(clean.unfinished, "") << s.name << " without faults";
  for (const auto& w : clean.warnings)
    std::cout << "[ matrix   ] " << s.name
              << " without faults, a Warning: " << w.value("message", "") << "\n";
  const auto sites = callSites(clean.calls);
  if (std::getenv("FAULT_MATRIX_VERBOSE") != nullptr)
    for (const auto& c : clean.calls) std::cout << "  " << c.str() << "\n";
  EXPECT_FALSE(sites.empty());
  std::cout << "[ matrix   ] " << s.name << ": " << sites.size() << " calls, clean end state "
            << clean.endState.dump() << "\n";
  int runs = 0, persistentReported = 0, persistentUnreported = 0;
  std::vector<std::string> unreported;
  // Seen, not failed on (docs/reliability.md says why): a fault the run
  // never reached (its calls went otherwise), a call not made again
  // because the next plan no longer needed it, and a retry sooner than the
  // backoff or Retry-After because an event woke the object.
  std::vector<std::string> notReached, notRetried, early;
  for (const auto& site : sites) {
    for (const auto& fc : faultCases()) {
      if (fc.writesOnly && !isWrite(site.match.verb)) continue;
      ++runs;
      const std::string what = s.name + ": " + fc.name + " at " + site.str();
      SCOPED_TRACE(what);
      const RunOutcome r = play(s, std::make_pair(site, fc));
      auto dump = [&] {
        std::ostringstream o;
        for (const auto& c : r.calls)
          if (isReconcileCall(c))
            o << "  " << c.str() << (c.failed ? " FAILED" : "") << " @"
              << ms(c.at - kube::FakeClock::kStart) << "\n";
        return o.str();
      };
      // The same end, with nothing done twice.
      EXPECT_EQ(r.unfinished, "") << dump();
      EXPECT_EQ(r.endState, clean.endState) << dump();
      EXPECT_EQ(r.creates, clean.creates) << "a create more or less than without faults\n"
                                          << dump();
      EXPECT_EQ(r.deletes, clean.deletes) << "a delete more or less than without faults\n"
                                          << dump();
      // The fault struck (the clean run's calls are the faulted run's, up
      // to the fault) and was retried.
      const auto tries = attempts(r.calls, site);
      if (r.pendingFaults > 0 || tries.empty() || !tries.front().failed) {
        notReached.push_back(fc.name + " at " + site.str());
        continue;
      }
      // A write whose answer was lost took effect: the next plan sees it
      // done, and needs no retry (a retry changes nothing either way).
      if (tries.back().failed) {
        if (fc.when != Faults::When::After) notRetried.push_back(fc.name + " at " + site.str());
        continue;
      }
      // Retries waited: a persistent error's backoff grew past the first
      // steps; a 429's retry came no sooner than Retry-After (one retry
      // may follow an event at once: the Warning's status write).
      if (fc.times > 1 && tries.size() >= 2) {
        const auto lastGap = tries.back().at - tries[tries.size() - 2].at;
        const bool is429 = fc.error.isTooManyRequests();
        const kube::Clock::duration least =
            is429 ? kube::Clock::duration(kRetryAfter) : kBaseDelay * (1 << (fc.times - 2));
        const auto span = tries.back().at - tries.front().at;
        if (lastGap < least || span < (is429 ? (fc.times - 1) * least : least))
          early.push_back(fc.name + " at " + site.str() + " (retries within " + ms(span) + ")");
      }
      // The cause was reported while it lasted: a persistent error on a
      // write (not a routine 409 or 429) names itself in a Warning Event.
      if (fc.times > 1 && !fc.error.isTooManyRequests()) {
        bool named = false;
        for (const auto& w : r.warnings)
          if (w.value("message", "").find("injected") != std::string::npos) named = true;
        if (named) {
          ++persistentReported;
        } else {
          ++persistentUnreported;
          unreported.push_back(site.str());
        }
        if (isWrite(site.match.verb)) {
          EXPECT_TRUE(named) << "no Warning Event names the failed write\n" << dump();
        }
      }
    }
  }
  std::cout << "[ matrix   ] " << s.name << ": " << runs << " faulted runs; persistent 500s "
            << "reported " << persistentReported << ", unreported " << persistentUnreported;
  for (const auto& u : unreported) std::cout << " [" << u << "]";
  std::cout << "\n";
  auto list = [&](const char* what, const std::vector<std::string>& v) {
    std::cout << "[ matrix   ] " << s.name << ": " << v.size() << " " << what;
    for (const auto& x : v) std::cout << " [" << x << "]";
    std::cout << "\n";
  };
  list("not reached", notReached);
  list("not needed again", notRetried);
  list("retried sooner than the backoff or Retry-After", early);
  return runs;
}

TEST(FaultMatrix, Instance) {
  EXPECT_GT(runMatrix(instanceScenario()), 0);
}
TEST(FaultMatrix, LaunchTemplate) {
  EXPECT_GT(runMatrix(launchTemplateScenario()), 0);
}
TEST(FaultMatrix, ScalingGroup) {
  EXPECT_GT(runMatrix(scalingGroupScenario()), 0);
}
TEST(FaultMatrix, LoadBalancer) {
  EXPECT_GT(runMatrix(loadBalancerScenario()), 0);
}
TEST(FaultMatrix, ElasticIP) {
  EXPECT_GT(runMatrix(elasticIPScenario()), 0);
}
TEST(FaultMatrix, Snapshot) {
  EXPECT_GT(runMatrix(snapshotScenario()), 0);
}

}  // namespace
}  // namespace kubec2::controllers
