// A LoadBalancer's reconcile, table-tested in simulated time: which
// Instances are targets, how checks move them, draining, a new leader's
// rebuild, and what the plan writes (Service, EndpointSlices, status,
// Events).
#include "reconcilers/loadbalancer/plan.h"

#include <gtest/gtest.h>

#include "api/resources.h"
#include "api/well_known.h"
#include "runtime/timefmt.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace lb = kubec2::reconcilers::loadbalancer;
namespace rec = kubec2::reconcilers;
namespace v1 = kubec2::api::v1alpha1;
using lb::State;

const lb::Time t0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30} + 10h;

v1::Instance instance(const std::string& name, const std::string& ip, bool running = true) {
  json j = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
            {"kind", "Instance"},
            {"metadata",
             {{"name", name},
              {"namespace", "shop"},
              {"uid", "uid-" + name},
              {"labels", {{"tier", "web"}}}}},
            {"spec", {{"instanceType", "t3.micro"}}},
            {"status", {{"state", running ? "running" : "stopped"}, {"nodeName", "node-a"}}}};
  if (!ip.empty()) j["status"]["privateIP"] = ip;
  return v1::Instance::fromJson(j);
}

v1::LoadBalancer loadBalancer(json targets = {{"instanceSelector",
                                               {{"matchLabels", {{"tier", "web"}}}}}},
                              int delay = 60) {
  return v1::LoadBalancer::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "LoadBalancer"},
       {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "lb-uid"}, {"generation", 1}}},
       {"spec",
        {{"type", "application"},
         {"scheme", "internal"},
         {"listeners", {{{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "app"}}}},
         {"targetGroups",
          {{{"name", "app"},
            {"port", 8080},
            {"protocol", "HTTP"},
            {"deregistrationDelaySeconds", delay},
            {"healthCheck",
             {{"intervalSeconds", 5},
              {"timeoutSeconds", 2},
              {"healthyThresholdCount", 2},
              {"unhealthyThresholdCount", 2},
              {"path", "/healthz"}}},
            {"targets", targets}}}}}}});
}

struct World {
  v1::LoadBalancer lb = loadBalancer();
  std::vector<v1::Instance> instances;
  std::optional<lb::TrackedTargets> tracked;
  std::vector<lb::RawCheck> checks;
  std::vector<json> slices;
  json service = {{"apiVersion", "v1"},
                  {"kind", "Service"},
                  {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "svc-uid"}}},
                  {"spec", {{"clusterIP", "10.0.0.7"}}}};
  std::vector<v1::ScalingGroup> groups;
  std::map<std::string, lb::CertificateCheck> certificates;
  std::optional<rec::AppliedRecord> serviceApplied;
  bool serviceRefused = false;
  bool serviceExists = true;  // `service` is the load balancer's, in the cache
  bool serviceNameTaken = false, ingressNameTaken = false;
  lb::Time now = t0;

  lb::LoadBalancerDecision plan() {
    lb::LoadBalancerObservation o;
    o.loadBalancer = &lb;
    for (const auto& i : instances) o.instances.push_back(&i);
    for (const auto& g : groups) o.scalingGroups.push_back(&g);
    o.certificates = certificates;
    o.serviceApplied = serviceApplied ? &*serviceApplied : nullptr;
    o.serviceRefused = serviceRefused;
    o.tracked = tracked ? &*tracked : nullptr;
    o.checks = checks;
    o.service = serviceExists ? &service : nullptr;
    o.serviceNameTaken = serviceNameTaken;
    o.ingressNameTaken = ingressNameTaken;
    for (const auto& s : slices) o.endpointSlices.push_back(&s);
    o.now = now;
    auto d = lb::planLoadBalancer(o);
    checks.clear();
    tracked = d.tracked;
    // What the API server would then hold: the slices applied, the status.
    for (const auto* a : d.plan.all<rec::ApplyObject>()) {
      if (a->object.value("kind", "") != "EndpointSlice") continue;
      const std::string name = a->object["metadata"]["name"];
      std::erase_if(slices, [&](const json& s) { return s["metadata"]["name"] == name; });
      json stored = a->object;
      stored["metadata"]["uid"] = "slice-" + name;
      slices.push_back(stored);
    }
    for (const auto* del : d.plan.all<rec::DeleteObject>())
      std::erase_if(slices, [&](const json& s) { return s["metadata"]["name"] == del->name; });
    if (const auto* st = d.plan.first<rec::PatchStatus>())
      lb.status = v1::LoadBalancerStatus::fromJson(st->status);
    return d;
  }
  void check(const std::string& inst, lb::RawCheck::Kind kind, int code = 200) {
    const auto& t = tracked->at("app").at(inst);
    checks.push_back({"app", inst, t.ip, now, kind, code, ""});
  }
  State state(const std::string& inst) const { return tracked->at("app").at(inst).health.state; }
  // The endpoint of `inst` in the slices, or null.
  const json* endpoint(const std::string& inst) const {
    for (const auto& s : slices)
      for (const auto& e : s["endpoints"])
        if (e["targetRef"]["name"] == inst) return &e;
    return nullptr;
  }
};

std::vector<std::string> eventReasons(const rec::Plan& p) {
  std::vector<std::string> out;
  for (const auto* e : p.all<rec::RecordEvent>()) out.push_back(e->reason);
  return out;
}

long countOf(const std::vector<std::string>& v, const std::string& x) {
  return std::count(v.begin(), v.end(), x);
}

TEST(LoadBalancerPlan, RunningInstancesAreRegisteredInitialAndChecked) {
  World w;
  w.instances = {instance("a", "127.1.0.1"), instance("b", "127.1.0.2")};
  const auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Initial);
  EXPECT_EQ(w.state("b"), State::Initial);
  ASSERT_EQ(d.checks.size(), 2u);
  EXPECT_EQ(d.checks[0].ip, "127.1.0.1");
  EXPECT_EQ(d.checks[0].settings.port, 8080);
  EXPECT_EQ(d.checks[0].settings.path, "/healthz");
  EXPECT_EQ(d.checks[0].settings.interval, 5s);
  EXPECT_TRUE(d.plan.applyOf("Service", "web")) << "the Service is applied";
  ASSERT_TRUE(w.endpoint("a"));
  EXPECT_FALSE((*w.endpoint("a"))["conditions"]["ready"].get<bool>());
  EXPECT_EQ(eventReasons(d.plan),
            (std::vector<std::string>{"TargetRegistered", "TargetRegistered"}));
  ASSERT_TRUE(w.lb.status);
  EXPECT_EQ(w.lb.status->address.value_or(""), "10.0.0.7");
  const auto& g = w.lb.status->targetGroups->at(0);
  EXPECT_EQ(g.initialCount.value_or(-1), 2);
  EXPECT_EQ(g.healthyCount.value_or(-1), 0);
  EXPECT_EQ(g.servicePort.value_or(""), "listener-80");
  EXPECT_EQ(d.counts.at("app").initial, 2);
}

TEST(LoadBalancerPlan, PassingTheHealthyThresholdMakesTheEndpointReady) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  w.plan();
  w.check("a", lb::RawCheck::Kind::Answered, 200);
  w.plan();
  EXPECT_EQ(w.state("a"), State::Initial) << "one pass of two";
  w.now += 5s;
  w.check("a", lb::RawCheck::Kind::Answered, 200);
  const auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Healthy);
  EXPECT_TRUE((*w.endpoint("a"))["conditions"]["ready"].get<bool>());
  EXPECT_EQ(eventReasons(d.plan), (std::vector<std::string>{"TargetHealthy"}));
  EXPECT_EQ(w.lb.status->healthyTargets.value_or(-1), 1);
  EXPECT_EQ(d.outcomes.at("app").at("pass"), 1);
}

TEST(LoadBalancerPlan, TimeoutsAndWrongCodesMakeATargetUnhealthyWithELBsReason) {
  World w;
  w.instances = {instance("a", "127.1.0.1"), instance("b", "127.1.0.2")};
  w.plan();
  for (int i = 0; i < 2; ++i) {
    w.check("a", lb::RawCheck::Kind::Timeout);
    w.check("b", lb::RawCheck::Kind::Answered, 503);
    w.now += 5s;
  }
  const auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Unhealthy);
  EXPECT_EQ(w.tracked->at("app").at("a").health.reason, "Target.Timeout");
  EXPECT_EQ(w.tracked->at("app").at("b").health.reason, "Target.ResponseCodeMismatch");
  EXPECT_FALSE((*w.endpoint("b"))["conditions"]["ready"].get<bool>());
  EXPECT_EQ(d.outcomes.at("app").at("timeout"), 2);
  EXPECT_EQ(d.outcomes.at("app").at("response_code_mismatch"), 2);
  const auto* healthy = [&]() -> const v1::Condition* {
    for (const auto& c : *w.lb.status->conditions)
      if (c.type == "HealthyTargets") return &c;
    return nullptr;
  }();
  ASSERT_TRUE(healthy);
  EXPECT_EQ(healthy->status, "False");
  EXPECT_EQ(healthy->reason, "NoHealthyTargets");
  EXPECT_EQ(eventReasons(d.plan), (std::vector<std::string>{"TargetUnhealthy", "TargetUnhealthy"}));
}

TEST(LoadBalancerPlan, AHealthyTargetLeavingDrainsForTheDelayThenGoes) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  w.plan();
  for (int i = 0; i < 2; ++i) w.check("a", lb::RawCheck::Kind::Answered, 200);
  w.plan();
  ASSERT_EQ(w.state("a"), State::Healthy);

  w.now += 10s;
  w.instances[0].metadata.deletionTimestamp = kube::formatRfc3339(w.now);
  auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Draining);
  const json& e = *w.endpoint("a");
  EXPECT_FALSE(e["conditions"]["ready"].get<bool>());
  EXPECT_TRUE(e["conditions"]["serving"].get<bool>());
  EXPECT_TRUE(e["conditions"]["terminating"].get<bool>());
  ASSERT_TRUE(d.plan.requeueAfter);
  EXPECT_EQ(*d.plan.requeueAfter, 60s) << "back when the drain ends";
  EXPECT_TRUE(d.checks.empty()) << "a draining target is not checked";
  const auto& ts = w.lb.status->targetGroups->at(0).targets->at(0);
  EXPECT_EQ(ts.state, "draining");
  EXPECT_EQ(ts.drainingUntil.value_or(""), kube::formatRfc3339(w.now + 60s));

  w.now += 59s;
  w.plan();
  EXPECT_EQ(w.state("a"), State::Draining);
  w.now += 1s;
  d = w.plan();
  EXPECT_FALSE(w.tracked->at("app").contains("a"));
  EXPECT_EQ(w.endpoint("a"), nullptr);
  EXPECT_EQ(eventReasons(d.plan), (std::vector<std::string>{"TargetDeregistered"}));
}

TEST(LoadBalancerPlan, ATargetThatWasNeverHealthyGoesAtOnce) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  w.plan();
  w.instances.clear();
  const auto d = w.plan();
  EXPECT_FALSE(w.tracked->at("app").contains("a"));
  EXPECT_EQ(w.endpoint("a"), nullptr);
  EXPECT_FALSE(d.plan.requeueAfter);
}

TEST(LoadBalancerPlan, AStoppedInstanceIsUnusedWithoutEndpointOrCheck) {
  World w;
  w.instances = {instance("a", "", false)};
  const auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Unused);
  EXPECT_EQ(w.tracked->at("app").at("a").health.reason, "Target.InvalidState");
  EXPECT_EQ(w.endpoint("a"), nullptr);
  EXPECT_TRUE(d.checks.empty());
  w.instances = {instance("a", "127.1.0.9")};
  w.plan();
  EXPECT_EQ(w.state("a"), State::Initial) << "checked again from initial when it runs";
}

TEST(LoadBalancerPlan, ANewLeaderKeepsHealthyAndDrainingTargetsFromTheSlicesItWrote) {
  World w;
  w.instances = {instance("a", "127.1.0.1"), instance("b", "127.1.0.2"),
                 instance("c", "127.1.0.3")};
  w.plan();
  for (int i = 0; i < 2; ++i) {
    w.check("a", lb::RawCheck::Kind::Answered, 200);
    w.check("b", lb::RawCheck::Kind::Answered, 200);
    w.check("c", lb::RawCheck::Kind::Failed);
  }
  w.plan();
  w.instances[1].metadata.deletionTimestamp = kube::formatRfc3339(w.now);
  w.plan();
  ASSERT_EQ(w.state("b"), State::Draining);
  ASSERT_EQ(w.state("c"), State::Unhealthy);

  w.tracked.reset();  // another process takes over
  w.now += 20s;
  const auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Healthy) << "a ready endpoint was healthy";
  EXPECT_EQ(w.state("b"), State::Draining);
  EXPECT_EQ(w.tracked->at("app").at("b").health.drainingUntil, t0 + 60s)
      << "the drain ends when status said, not a delay later";
  EXPECT_EQ(w.state("c"), State::Unhealthy) << "from status";
  EXPECT_TRUE(eventReasons(d.plan).empty()) << "nothing changed: no Event";
}

TEST(LoadBalancerPlan, AResultForAnOldAddressIsIgnored) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  w.plan();
  w.checks.push_back({"app", "a", "127.1.0.99", w.now, lb::RawCheck::Kind::Answered, 200, ""});
  w.checks.push_back({"app", "a", "127.1.0.99", w.now, lb::RawCheck::Kind::Answered, 200, ""});
  w.plan();
  EXPECT_EQ(w.state("a"), State::Initial);
}

v1::Instance owned(v1::Instance i, const std::string& group) {
  kube::OwnerReference o;
  o.apiVersion = "compute.kubec2.io/v1alpha1";
  o.kind = "ScalingGroup";
  o.name = group;
  o.uid = "sg-" + group;
  o.controller = true;
  i.metadata.ownerReferences.push_back(o);
  return i;
}

v1::ScalingGroup scalingGroup(const std::string& name, std::vector<std::string> suspended = {}) {
  json spec = {{"launchTemplateRef", {{"name", "web"}}}, {"minSize", 0}, {"maxSize", 10}};
  if (!suspended.empty()) spec["suspendedProcesses"] = suspended;
  return v1::ScalingGroup::fromJson({{"apiVersion", "compute.kubec2.io/v1alpha1"},
                                     {"kind", "ScalingGroup"},
                                     {"metadata", {{"name", name}, {"namespace", "shop"}}},
                                     {"spec", spec}});
}

const v1::Condition* conditionOf(const v1::LoadBalancer& lb, const std::string& type) {
  if (!lb.status || !lb.status->conditions) return nullptr;
  for (const auto& c : *lb.status->conditions)
    if (c.type == type) return &c;
  return nullptr;
}

TEST(LoadBalancerPlan, AScalingGroupsTargetsAreItsInstancesOutsideTheWarmPool) {
  World w;
  w.lb = loadBalancer({{"scalingGroupRef", {{"name", "web"}}}});
  w.instances = {owned(instance("a", "127.1.0.1"), "web"), owned(instance("b", "127.1.0.2"), "api"),
                 instance("c", "127.1.0.3"), owned(instance("d", "127.1.0.4"), "web")};
  w.instances[3].metadata.labels[kubec2::api::kWarmPoolLabel] = "true";
  w.plan();
  ASSERT_EQ(w.tracked->at("app").size(), 1u);
  EXPECT_TRUE(w.tracked->at("app").contains("a"));
}

TEST(LoadBalancerPlan, StatusListsAtMost100TargetsNotHealthyFirstAndCountsAll) {
  World w;
  for (int i = 0; i < 150; ++i)
    w.instances.push_back(
        instance("i" + std::to_string(1000 + i),
                 "127.1." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1)));
  w.plan();
  for (int i = 0; i < 150; ++i) {
    const std::string n = "i" + std::to_string(1000 + i);
    const auto kind = i == 140 ? lb::RawCheck::Kind::Failed : lb::RawCheck::Kind::Answered;
    w.check(n, kind);
    w.check(n, kind);
  }
  const auto d = w.plan();
  const auto& g = w.lb.status->targetGroups->at(0);
  EXPECT_EQ(g.targetCount.value_or(-1), 150);
  EXPECT_EQ(g.healthyCount.value_or(-1), 149);
  ASSERT_EQ(g.targets->size(), 100u);
  EXPECT_EQ(g.targets->at(0).instance, "i1140");
  EXPECT_EQ(g.targets->at(0).state, "unhealthy");
  EXPECT_EQ(w.slices.size(), 2u) << "150 endpoints: two slices";
  ASSERT_EQ(d.plan.all<rec::RecordEvent>().size(), 1u) << "150 changes: one Event";
  EXPECT_EQ(d.plan.all<rec::RecordEvent>()[0]->reason, "TargetHealthChanged");
  EXPECT_TRUE(d.plan.all<rec::RecordEvent>()[0]->warning);
}

TEST(LoadBalancerPlan,
     EndpointsAndStatusAreWrittenBeforeTheServiceSoARefusedServiceFreezesNeither) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  const auto d = w.plan();
  std::size_t slice = 0, status = 0, service = 0;
  for (std::size_t i = 0; i < d.plan.actions.size(); ++i) {
    if (const auto* a = std::get_if<rec::ApplyObject>(&d.plan.actions[i])) {
      if (a->object.value("kind", "") == "EndpointSlice") slice = i + 1;
      if (a->object.value("kind", "") == "Service") service = i + 1;
    }
    if (std::holds_alternative<rec::PatchStatus>(d.plan.actions[i])) status = i + 1;
  }
  ASSERT_TRUE(slice && status && service);
  EXPECT_LT(slice, service);
  EXPECT_LT(status, service);
}

TEST(LoadBalancerPlan, NothingChangedWritesNothing) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  w.plan();
  for (int i = 0; i < 2; ++i) w.check("a", lb::RawCheck::Kind::Answered, 200);
  w.plan();
  // The ledger and the cached objects now hold what was applied.
  lb::LoadBalancerObservation o;
  o.loadBalancer = &w.lb;
  for (const auto& i : w.instances) o.instances.push_back(&i);
  o.tracked = &*w.tracked;
  json svc = w.service;
  o.service = &svc;
  for (const auto& s : w.slices) o.endpointSlices.push_back(&s);
  o.now = w.now + 5s;
  // A passing check of a healthy target changes nothing a user sees.
  o.checks.push_back({"app", "a", "127.1.0.1", o.now, lb::RawCheck::Kind::Answered, 200, ""});
  const auto d = lb::planLoadBalancer(o);
  EXPECT_FALSE(d.plan.first<rec::PatchStatus>()) << "no status write";
  for (const auto* a : d.plan.all<rec::ApplyObject>())
    EXPECT_NE(a->object.value("kind", ""), "EndpointSlice") << "no slice write";
  EXPECT_TRUE(d.plan.all<rec::RecordEvent>().empty());
}

// ------------------------------------------------ the Service edited by hand

json servicePorts(json ports) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", "web"}, {"namespace", "shop"}, {"uid", "svc-uid"}, {"resourceVersion", "7"}}},
          {"spec", {{"clusterIP", "10.0.0.7"}, {"type", "ClusterIP"}, {"ports", ports}}}};
}

// The annotations the operator's Service carries (its applied stamp), as
// the Service edited by hand still has them.
json renderedAnnotations(World w) {
  return w.plan().plan.applyOf("Service", "web")->object["metadata"]["annotations"];
}

std::vector<std::string> actionKinds(const rec::Plan& p) {
  std::vector<std::string> out;
  for (const auto& a : p.actions) {
    if (const auto* ap = std::get_if<rec::ApplyObject>(&a))
      out.push_back("apply " + ap->object.value("kind", ""));
    else if (std::holds_alternative<rec::MergePatchObject>(a))
      out.push_back("patch");
    else if (const auto* e = std::get_if<rec::RecordEvent>(&a))
      out.push_back("event " + e->reason);
  }
  return out;
}

TEST(LoadBalancerPlan, AServicePortRenumberedByHandIsReplacedWholeKeepingNodePorts) {
  World w;
  // kubectl edit: listener-80 now 81 (its node port kept by the server),
  // and a port of the user's own. Server-side apply would merge them
  // with ours: "spec.ports[1].name: Duplicate value".
  w.service = servicePorts(
      {{{"name", "listener-80"},
        {"port", 81},
        {"protocol", "TCP"},
        {"targetPort", 8080},
        {"nodePort", 30001}},
       {{"name", "debug"}, {"port", 9000}, {"protocol", "TCP"}, {"targetPort", 9000}}});
  w.service["metadata"]["annotations"] = renderedAnnotations(w);
  const auto d = w.plan();
  const auto* patch = d.plan.first<rec::MergePatchObject>();
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->name, "web");
  EXPECT_EQ(patch->observedResourceVersion, "7") << "guarded by the version observed";
  EXPECT_EQ(patch->patch, (json{{"spec",
                                 {{"ports",
                                   {{{"name", "listener-80"},
                                     {"port", 80},
                                     {"protocol", "TCP"},
                                     {"targetPort", 8080}}}}}}}))
      << "the whole list, ours only; 81's node port was not 80's";
  // The Event names what was wrong and asks who did it; then the patch,
  // then the apply that records the Service as ours again.
  const auto kinds = actionKinds(d.plan);
  const auto at = [&](const std::string& k) {
    return std::find(kinds.begin(), kinds.end(), k) - kinds.begin();
  };
  EXPECT_LT(at("event ServiceRestored"), at("patch"));
  EXPECT_LT(at("patch"), at("apply Service"));
  for (const auto* e : d.plan.all<rec::RecordEvent>())
    if (e->reason == "ServiceRestored") {
      EXPECT_NE(e->message.find("listener-80 81/TCP"), std::string::npos) << e->message;
      EXPECT_NE(e->message.find("debug 9000/TCP"), std::string::npos) << e->message;
      ASSERT_TRUE(e->changedBy);
      EXPECT_EQ(e->changedBy->pointers, std::vector<std::string>{"/spec/ports"});
    }
}

TEST(LoadBalancerPlan, ANodePortOfAPortThatStaysIsKept) {
  World w;
  w.service =
      servicePorts({{{"name", "listener-80"},
                     {"port", 80},
                     {"protocol", "TCP"},
                     {"targetPort", 8080},
                     {"nodePort", 30080}},
                    {{"name", "extra"}, {"port", 81}, {"protocol", "TCP"}, {"targetPort", 81}}});
  w.service["metadata"]["annotations"] = renderedAnnotations(w);
  const auto d = w.plan();
  const auto* patch = d.plan.first<rec::MergePatchObject>();
  ASSERT_TRUE(patch);
  ASSERT_EQ(patch->patch["spec"]["ports"].size(), 1u);
  EXPECT_EQ(patch->patch["spec"]["ports"][0]["nodePort"], 30080);
}

TEST(LoadBalancerPlan, OurOwnPortChangeIsAnApplyNotARestore) {
  World w;
  // Our last apply had a listener on 81 (stamp "old"); the spec dropped it:
  // server-side apply removes the port it wrote, no patch is needed.
  w.service = servicePorts({{{"name", "listener-81"}, {"port", 81}, {"protocol", "TCP"}}});
  w.service["metadata"]["annotations"] = {{"compute.kubec2.io/applied", "old"}};
  w.serviceApplied = rec::AppliedRecord{"old", "7", {}, ""};
  const auto d = w.plan();
  EXPECT_FALSE(d.plan.first<rec::MergePatchObject>());
  EXPECT_TRUE(d.plan.applyOf("Service", "web"));
  for (const auto& r : eventReasons(d.plan)) EXPECT_NE(r, "ServiceRestored");
}

TEST(LoadBalancerPlan, AServiceApplyRefusedReplacesThePortsNextTime) {
  World w;
  // A hand edit and our own change at once: the apply was refused (422).
  w.service = servicePorts({{{"name", "listener-80"}, {"port", 81}, {"protocol", "TCP"}}});
  w.service["metadata"]["annotations"] = {{"compute.kubec2.io/applied", "old"}};
  w.serviceApplied = rec::AppliedRecord{"old", "7", {}, ""};
  EXPECT_FALSE(w.plan().plan.first<rec::MergePatchObject>()) << "first our change, applied";
  w.serviceRefused = true;
  EXPECT_TRUE(w.plan().plan.first<rec::MergePatchObject>());
}

TEST(LoadBalancerPlan, TheServiceAsRenderedIsNotPatched) {
  World w;
  w.service = servicePorts({{{"name", "listener-80"},
                             {"port", 80},
                             {"protocol", "TCP"},
                             {"targetPort", 8080},
                             {"nodePort", 30080}}});
  w.service["metadata"]["annotations"] = renderedAnnotations(w);
  EXPECT_FALSE(w.plan().plan.first<rec::MergePatchObject>());
}

// ------------------------------------------------ names that resolve to nothing

TEST(LoadBalancerPlan, InstanceRefsNamingNoInstanceAreACondition) {
  World w;
  w.lb = loadBalancer({{"instanceRefs", {{{"name", "a"}}, {{"name", "gone"}}}}});
  w.instances = {instance("a", "127.1.0.1")};
  auto d = w.plan();
  const auto* c = conditionOf(w.lb, "TargetsResolved");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, "False");
  EXPECT_EQ(c->reason, "InstanceNotFound");
  EXPECT_NE(c->message.value_or("").find("gone (target group app)"), std::string::npos)
      << c->message.value_or("");
  EXPECT_EQ(conditionOf(w.lb, "Ready")->status, "True") << "a has a target";
  EXPECT_EQ(countOf(eventReasons(d.plan), "TargetsNotFound"), 1);
  EXPECT_TRUE(d.plan.requeueAfter && *d.plan.requeueAfter <= lb::kRecheckMissing);
  d = w.plan();
  for (const auto& r : eventReasons(d.plan)) EXPECT_NE(r, "TargetsNotFound") << "one Event";
  // It appears: resolved, registered.
  w.instances.push_back(instance("gone", "127.1.0.2"));
  w.plan();
  EXPECT_EQ(conditionOf(w.lb, "TargetsResolved")->status, "True");
  EXPECT_TRUE(w.tracked->at("app").contains("gone"));
}

TEST(LoadBalancerPlan, ManyMissingInstancesAreABoundedList) {
  World w;
  json refs = json::array();
  for (int i = 0; i < 12; ++i) refs.push_back({{"name", "i" + std::to_string(i)}});
  w.lb = loadBalancer({{"instanceRefs", refs}});
  w.plan();
  const auto* c = conditionOf(w.lb, "TargetsResolved");
  ASSERT_TRUE(c);
  EXPECT_NE(c->message.value_or("").find("and 7 more"), std::string::npos)
      << c->message.value_or("");
  EXPECT_EQ(c->message.value_or("").find("i9"), std::string::npos) << c->message.value_or("");
}

TEST(LoadBalancerPlan, AScalingGroupRefNamingNoGroupIsACondition) {
  World w;
  w.lb = loadBalancer({{"scalingGroupRef", {{"name", "web"}}}});
  w.plan();
  const auto* c = conditionOf(w.lb, "TargetsResolved");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, "False");
  EXPECT_EQ(c->reason, "ScalingGroupNotFound");
  EXPECT_NE(c->message.value_or("").find("ScalingGroup web (target group app) not found"),
            std::string::npos)
      << c->message.value_or("");
  w.groups = {scalingGroup("web")};
  w.plan();
  EXPECT_EQ(conditionOf(w.lb, "TargetsResolved")->status, "True");
}

json httpsLoadBalancer() {
  json j = loadBalancer().toJson();
  j["spec"]["listeners"].push_back({{"port", 443},
                                    {"protocol", "HTTPS"},
                                    {"defaultTargetGroup", "app"},
                                    {"certificate", {{"name", "web-tls"}}}});
  return j;
}

TEST(LoadBalancerPlan, AMissingCertificateIsAConditionAndTheIngressIsStillWritten) {
  World w;
  w.lb = v1::LoadBalancer::fromJson(httpsLoadBalancer());
  w.certificates = {{"web-tls", lb::CertificateCheck::NotFound}};
  auto d = w.plan();
  const auto* c = conditionOf(w.lb, "CertificatesFound");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, "False");
  EXPECT_EQ(c->reason, "CertificateNotFound");
  EXPECT_NE(c->message.value_or("").find("listener 443: Secret web-tls not found"),
            std::string::npos)
      << c->message.value_or("");
  EXPECT_TRUE(d.plan.applyOf("Ingress", "web")) << "the default certificate serves meanwhile";
  EXPECT_TRUE(d.plan.requeueAfter && *d.plan.requeueAfter <= lb::kRecheckMissing);
  EXPECT_EQ(countOf(eventReasons(d.plan), "CertificateNotFound"), 1);
  d = w.plan();
  for (const auto& r : eventReasons(d.plan)) EXPECT_NE(r, "CertificateNotFound") << "one Event";
  w.certificates = {{"web-tls", lb::CertificateCheck::Incomplete}};
  w.plan();
  EXPECT_NE(
      conditionOf(w.lb, "CertificatesFound")->message.value_or("").find("lacks tls.crt or tls.key"),
      std::string::npos);
  w.certificates = {{"web-tls", lb::CertificateCheck::Found}};
  w.plan();
  EXPECT_EQ(conditionOf(w.lb, "CertificatesFound")->status, "True");
}

TEST(LoadBalancerPlan, NoHttpsListenerNoCertificateCondition) {
  World w;
  w.plan();
  EXPECT_FALSE(conditionOf(w.lb, "CertificatesFound"));
}

// ------------------------------------------------ AddToLoadBalancer suspended

TEST(LoadBalancerPlan, AddToLoadBalancerSuspendedAddsNoNewTargetsAndKeepsTheRegistered) {
  World w;
  w.lb = loadBalancer({{"scalingGroupRef", {{"name", "web"}}}});
  w.groups = {scalingGroup("web")};
  w.instances = {owned(instance("a", "127.1.0.1"), "web")};
  w.plan();
  for (int i = 0; i < 2; ++i) w.check("a", lb::RawCheck::Kind::Answered, 200);
  w.plan();
  ASSERT_EQ(w.state("a"), State::Healthy);

  w.groups = {scalingGroup("web", {"AddToLoadBalancer"})};
  w.instances.push_back(owned(instance("b", "127.1.0.2"), "web"));
  auto d = w.plan();
  EXPECT_FALSE(w.tracked->at("app").contains("b")) << "launched while suspended";
  EXPECT_EQ(w.state("a"), State::Healthy) << "registered before: stays";
  EXPECT_FALSE(w.endpoint("b"));
  EXPECT_EQ(d.checks.size(), 1u) << "a is still checked";
  const auto* c = conditionOf(w.lb, "TargetsResolved");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->reason, "AddToLoadBalancerSuspended");
  EXPECT_NE(c->message.value_or("").find("b"), std::string::npos);
  // a still fails and leaves service as usual while suspended.
  for (int i = 0; i < 2; ++i) w.check("a", lb::RawCheck::Kind::Failed);
  w.plan();
  EXPECT_EQ(w.state("a"), State::Unhealthy);

  // Resumed: every in-service instance is registered (EC2 would leave b).
  w.groups = {scalingGroup("web")};
  w.plan();
  ASSERT_TRUE(w.tracked->at("app").contains("b"));
  EXPECT_EQ(w.state("b"), State::Initial);
  EXPECT_EQ(conditionOf(w.lb, "TargetsResolved")->reason, "TargetsFound");
}

TEST(LoadBalancerPlan, AddToLoadBalancerSuspendedOnAnotherGroupChangesNothing) {
  World w;
  w.lb = loadBalancer({{"scalingGroupRef", {{"name", "web"}}}});
  w.groups = {scalingGroup("web"), scalingGroup("api", {"AddToLoadBalancer"})};
  w.instances = {owned(instance("a", "127.1.0.1"), "web")};
  w.plan();
  EXPECT_TRUE(w.tracked->at("app").contains("a"));
}

// ------------------------------------------------ names taken

// A Service and an Ingress of the load balancer's name that are not its
// own (a user's): never written, adopted or fed endpoints; said once.
TEST(LoadBalancerPlan, AServiceOrIngressOfItsNameNotItsOwnIsNeverTakenOver) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  w.serviceExists = false;
  w.serviceNameTaken = true;
  w.ingressNameTaken = true;
  auto d = w.plan();
  for (const auto& k : actionKinds(d.plan)) {
    EXPECT_NE(k, "apply Service");
    EXPECT_NE(k, "apply Ingress");
    EXPECT_NE(k, "apply EndpointSlice") << "no endpoints for someone else's Service";
    EXPECT_NE(k, "patch");
  }
  EXPECT_TRUE(w.slices.empty());
  const auto* ready = conditionOf(w.lb, "Ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, "False");
  EXPECT_EQ(ready->reason, "NameConflict");
  EXPECT_NE(ready->message.value_or("").find("a Service web exists in this namespace that this "
                                             "LoadBalancer does not own"),
            std::string::npos)
      << ready->message.value_or("");
  ASSERT_TRUE(conditionOf(w.lb, "IngressSynced"));
  EXPECT_EQ(conditionOf(w.lb, "IngressSynced")->reason, "NameConflict");
  EXPECT_EQ(countOf(eventReasons(d.plan), "NameConflict"), 2);
  EXPECT_TRUE(d.plan.requeueAfter && *d.plan.requeueAfter <= lb::kRecheckMissing);
  d = w.plan();
  EXPECT_EQ(countOf(eventReasons(d.plan), "NameConflict"), 0) << "one Event per conflict";

  // Only the Service's name taken: no Ingress either (its backend would be
  // the user's Service).
  w.ingressNameTaken = false;
  d = w.plan();
  EXPECT_FALSE(d.plan.applyOf("Ingress", "web"));
  EXPECT_EQ(conditionOf(w.lb, "IngressSynced")->reason, "NameConflict");

  // The user's objects gone: the load balancer's own are written.
  w.serviceNameTaken = w.ingressNameTaken = false;
  d = w.plan();
  EXPECT_TRUE(d.plan.applyOf("Service", "web"));
  EXPECT_TRUE(d.plan.applyOf("Ingress", "web"));
  EXPECT_TRUE(w.endpoint("a"));
}

// --------------------------------------------- target groups removed, ports changed

// `w` with target `a` healthy in group app (delay `delay`).
World healthyTarget(int delay = 60) {
  World w;
  w.lb = loadBalancer({{"instanceSelector", {{"matchLabels", {{"tier", "web"}}}}}}, delay);
  w.instances = {instance("a", "127.1.0.1")};
  w.plan();
  for (int i = 0; i < 2; ++i) w.check("a", lb::RawCheck::Kind::Answered, 200);
  w.plan();
  EXPECT_EQ(w.state("a"), State::Healthy);
  return w;
}

// The group's entry in status, or null.
const v1::TargetGroupStatus* groupStatus(const World& w, const std::string& name) {
  if (!w.lb.status || !w.lb.status->targetGroups) return nullptr;
  for (const auto& g : *w.lb.status->targetGroups)
    if (g.name == name) return &g;
  return nullptr;
}

// The slices of target group `group` in `w`.
std::vector<const json*> slicesOf(const World& w, const std::string& group) {
  std::vector<const json*> out;
  for (const auto& s : w.slices)
    if (s["metadata"]["labels"].value(kubec2::api::kTargetGroupLabel, "") == group)
      out.push_back(&s);
  return out;
}

// Renamed app -> app2, the listener following.
void rename(World& w) {
  w.lb.spec.targetGroups[0].name = "app2";
  w.lb.spec.listeners[0].defaultTargetGroup = "app2";
}

TEST(LoadBalancerPlan, ARenamedTargetGroupsHealthyTargetDrainsForItsDelayThenTheGroupGoes) {
  World w = healthyTarget(40);
  w.now += 5s;
  const lb::Time renamed = w.now;
  rename(w);
  auto d = w.plan();

  // The new group registers a anew (ELB: a new target group), not ready.
  EXPECT_EQ(w.tracked->at("app2").at("a").health.state, State::Initial);
  ASSERT_EQ(slicesOf(w, "app2").size(), 1u);
  EXPECT_FALSE((*slicesOf(w, "app2")[0])["endpoints"][0]["conditions"]["ready"].get<bool>());
  // The old group's registration drains for the old group's 40 s.
  const auto& old = w.tracked->at("app").at("a");
  EXPECT_EQ(old.health.state, State::Draining);
  EXPECT_EQ(old.health.drainingUntil, renamed + 40s);
  ASSERT_EQ(slicesOf(w, "app").size(), 1u) << "the old group's slice stays while it drains";
  const json& oldSlice = *slicesOf(w, "app")[0];
  const json& e = oldSlice["endpoints"][0];
  EXPECT_EQ(e["targetRef"]["name"], "a");
  EXPECT_FALSE(e["conditions"]["ready"].get<bool>());
  EXPECT_TRUE(e["conditions"]["serving"].get<bool>());
  EXPECT_TRUE(e["conditions"]["terminating"].get<bool>());
  EXPECT_EQ(oldSlice["ports"][0]["name"], "listener-80") << "the ports it had";
  EXPECT_EQ(oldSlice["ports"][0]["port"], 8080);
  const auto* gs = groupStatus(w, "app");
  ASSERT_TRUE(gs) << "the old group's status entry stays: a deleted Instance's wait reads it";
  EXPECT_EQ(gs->drainingCount.value_or(-1), 1);
  EXPECT_FALSE(gs->servicePort);
  EXPECT_EQ(gs->targets->at(0).state, "draining");
  EXPECT_EQ(gs->targets->at(0).drainingUntil.value_or(""), kube::formatRfc3339(renamed + 40s));
  EXPECT_EQ(w.lb.status->targetGroups->at(0).name, "app2") << "spec's groups first";
  const auto reasons = eventReasons(d.plan);
  EXPECT_EQ(countOf(reasons, "TargetDraining"), 1);
  EXPECT_EQ(countOf(reasons, "TargetRegistered"), 1);
  ASSERT_TRUE(d.plan.requeueAfter);
  EXPECT_EQ(*d.plan.requeueAfter, 40s);
  EXPECT_EQ(d.counts.at("app").draining, 1);

  w.now = renamed + 39s;
  w.plan();
  EXPECT_EQ(w.tracked->at("app").at("a").health.state, State::Draining);
  w.now = renamed + 40s;
  d = w.plan();
  EXPECT_FALSE(w.tracked->contains("app"));
  EXPECT_TRUE(slicesOf(w, "app").empty()) << "its slice deleted";
  ASSERT_EQ(d.plan.all<rec::DeleteObject>().size(), 1u);
  EXPECT_EQ(groupStatus(w, "app"), nullptr);
  EXPECT_EQ(eventReasons(d.plan), (std::vector<std::string>{"TargetDeregistered"}));
  EXPECT_FALSE(d.counts.contains("app"));
}

json twoGroups() {
  json spec = loadBalancer().toJson()["spec"];
  spec["listeners"].push_back({{"port", 81}, {"protocol", "HTTP"}, {"defaultTargetGroup", "side"}});
  json side = spec["targetGroups"][0];
  side["name"] = "side";
  side["deregistrationDelaySeconds"] = 30;
  side["targets"] = {{"instanceRefs", {{{"name", "a"}}, {{"name", "b"}}}}};
  spec["targetGroups"].push_back(side);
  return spec;
}

TEST(LoadBalancerPlan, ARemovedTargetGroupDrainsItsHealthyTargetsAndDropsTheOthersAtOnce) {
  World w;
  w.lb.spec = v1::LoadBalancerSpec::fromJson(twoGroups());
  w.instances = {instance("a", "127.1.0.1"), instance("b", "127.1.0.2")};
  w.plan();
  for (int i = 0; i < 2; ++i)
    w.checks.push_back({"side", "a", "127.1.0.1", w.now, lb::RawCheck::Kind::Answered, 200, ""});
  w.plan();
  ASSERT_EQ(w.tracked->at("side").at("a").health.state, State::Healthy);
  ASSERT_EQ(w.tracked->at("side").at("b").health.state, State::Initial);

  w.now += 1s;
  w.lb.spec.listeners.pop_back();
  w.lb.spec.targetGroups.pop_back();
  const auto d = w.plan();
  EXPECT_EQ(w.tracked->at("side").at("a").health.state, State::Draining);
  EXPECT_EQ(w.tracked->at("side").at("a").health.drainingUntil, w.now + 30s);
  EXPECT_FALSE(w.tracked->at("side").contains("b")) << "never healthy: goes at once";
  const auto reasons = eventReasons(d.plan);
  EXPECT_EQ(countOf(reasons, "TargetDraining"), 1);
  EXPECT_EQ(countOf(reasons, "TargetDeregistered"), 1);
  ASSERT_EQ(slicesOf(w, "side").size(), 1u);
  EXPECT_EQ((*slicesOf(w, "side")[0])["endpoints"].size(), 1u) << "only the draining one";
  EXPECT_EQ(groupStatus(w, "side")->targetCount.value_or(-1), 1);
  EXPECT_EQ(w.state("a"), State::Initial) << "group app is untouched";
}

TEST(LoadBalancerPlan, ANewLeaderKeepsARemovedGroupsDrainUntilStatusSays) {
  World w = healthyTarget(40);
  const lb::Time renamed = w.now;
  rename(w);
  w.plan();
  w.tracked.reset();  // another process takes over
  w.now += 10s;
  const auto d = w.plan();
  EXPECT_EQ(w.tracked->at("app").at("a").health.state, State::Draining);
  EXPECT_EQ(w.tracked->at("app").at("a").health.drainingUntil, renamed + 40s);
  EXPECT_EQ(w.tracked->at("app2").at("a").health.state, State::Initial);
  EXPECT_TRUE(eventReasons(d.plan).empty()) << "nothing changed: no Event";
  EXPECT_EQ(slicesOf(w, "app").size(), 1u);
}

TEST(LoadBalancerPlan, AGroupRemovedWhileNoProcessTrackedItDrainsForElbsDefaultDelay) {
  World w = healthyTarget(40);
  w.tracked.reset();  // the operator restarts, and the group was renamed meanwhile
  rename(w);
  w.plan();
  EXPECT_EQ(w.tracked->at("app").at("a").health.drainingUntil, w.now + 300s)
      << "the old delay is nowhere to read: ELB's default";
}

TEST(LoadBalancerPlan, ANewPortRegistersTheTargetAnewAndTheOldPortDrainsInStatus) {
  World w = healthyTarget(60);
  w.now += 5s;
  const lb::Time changed = w.now;
  w.lb.spec.targetGroups[0].port = 9090;
  auto d = w.plan();

  EXPECT_EQ(w.state("a"), State::Initial) << "a new registration must pass its checks";
  EXPECT_EQ(w.tracked->at("app").at("a").port, 9090);
  const json* e = w.endpoint("a");
  ASSERT_TRUE(e);
  EXPECT_FALSE((*e)["conditions"]["ready"].get<bool>());
  EXPECT_FALSE((*e)["conditions"]["terminating"].get<bool>());
  ASSERT_EQ(slicesOf(w, "app").size(), 1u);
  EXPECT_EQ((*slicesOf(w, "app")[0])["ports"][0]["port"], 9090);
  EXPECT_EQ((*slicesOf(w, "app")[0])["endpoints"].size(), 1u);
  ASSERT_EQ(d.checks.size(), 1u);
  EXPECT_EQ(d.checks[0].settings.port, 9090) << "traffic-port: the new port";
  EXPECT_EQ(w.lb.status->healthyTargets.value_or(-1), 0);

  const auto& old = w.tracked->at("app").at("a:8080");
  EXPECT_EQ(old.health.state, State::Draining);
  EXPECT_EQ(old.health.drainingUntil, changed + 60s);
  const auto& targets = *w.lb.status->targetGroups->at(0).targets;
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].instance, "a");
  EXPECT_EQ(targets[0].port.value_or(0), 8080);
  EXPECT_EQ(targets[0].state, "draining");
  EXPECT_EQ(targets[0].drainingUntil.value_or(""), kube::formatRfc3339(changed + 60s));
  EXPECT_EQ(targets[1].port.value_or(0), 9090);
  EXPECT_EQ(targets[1].state, "initial");
  const auto reasons = eventReasons(d.plan);
  EXPECT_EQ(countOf(reasons, "TargetDraining"), 1);
  EXPECT_EQ(countOf(reasons, "TargetRegistered"), 1);
  ASSERT_TRUE(d.plan.requeueAfter);
  EXPECT_EQ(*d.plan.requeueAfter, 60s);

  for (int i = 0; i < 2; ++i) w.check("a", lb::RawCheck::Kind::Answered, 200);
  w.plan();
  EXPECT_EQ(w.state("a"), State::Healthy);
  EXPECT_TRUE((*w.endpoint("a"))["conditions"]["ready"].get<bool>());

  w.now = changed + 60s;
  d = w.plan();
  EXPECT_FALSE(w.tracked->at("app").contains("a:8080"));
  EXPECT_EQ(w.lb.status->targetGroups->at(0).targets->size(), 1u);
  EXPECT_EQ(eventReasons(d.plan), (std::vector<std::string>{"TargetDeregistered"}));
}

TEST(LoadBalancerPlan, ANewLeaderKeepsTheOldPortsDrainApartFromTheNewRegistration) {
  World w = healthyTarget(60);
  const lb::Time changed = w.now;
  w.lb.spec.targetGroups[0].port = 9090;
  w.plan();
  w.tracked.reset();
  w.now += 10s;
  const auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Initial);
  EXPECT_EQ(w.tracked->at("app").at("a:8080").health.drainingUntil, changed + 60s);
  EXPECT_TRUE(eventReasons(d.plan).empty()) << "nothing changed: no Event";
}

TEST(LoadBalancerPlan, APortChangedWhileNoProcessTrackedItIsStillANewRegistration) {
  World w = healthyTarget(60);
  w.tracked.reset();
  w.lb.spec.targetGroups[0].port = 9090;
  w.plan();
  EXPECT_EQ(w.state("a"), State::Initial) << "the slice was written for port 8080";
  EXPECT_EQ(w.tracked->at("app").at("a:8080").health.state, State::Draining);
  EXPECT_FALSE((*w.endpoint("a"))["conditions"]["ready"].get<bool>());
}

TEST(LoadBalancerPlan, ANotHealthyTargetAtAnOldPortGoesAtOnce) {
  World w;
  w.instances = {instance("a", "127.1.0.1")};
  w.plan();
  w.lb.spec.targetGroups[0].port = 9090;
  w.plan();
  EXPECT_EQ(w.tracked->at("app").size(), 1u);
  EXPECT_EQ(w.tracked->at("app").at("a").port, 9090);
}

TEST(LoadBalancerPlan, AHealthCheckPortChangeKeepsTheTargetsHealth) {
  World w = healthyTarget(60);
  w.lb.spec.targetGroups[0].healthCheck->port = kubec2::api::IntOrString{std::int64_t{9000}};
  const auto d = w.plan();
  EXPECT_EQ(w.state("a"), State::Healthy) << "ELB does not register anew for check settings";
  EXPECT_EQ(w.tracked->at("app").size(), 1u);
  ASSERT_EQ(d.checks.size(), 1u);
  EXPECT_EQ(d.checks[0].settings.port, 9000);
}

TEST(LoadBalancerPlan, AGroupRenamedBackWhileItDrainsRegistersItsTargetsAnew) {
  World w = healthyTarget(40);
  rename(w);
  w.plan();
  w.now += 5s;
  w.lb.spec.targetGroups[0].name = "app";
  w.lb.spec.listeners[0].defaultTargetGroup = "app";
  w.plan();
  EXPECT_EQ(w.state("a"), State::Initial) << "back while draining: registered afresh, as ELB";
  EXPECT_FALSE(w.tracked->contains("app2")) << "app2's target never passed: gone at once";
  ASSERT_EQ(slicesOf(w, "app").size(), 1u);
  EXPECT_FALSE((*slicesOf(w, "app")[0])["endpoints"][0]["conditions"]["terminating"].get<bool>());
  EXPECT_TRUE(slicesOf(w, "app2").empty());
  EXPECT_EQ(w.lb.status->targetGroups->size(), 1u);
}

}  // namespace
