// A ScalingGroup's instances as members (reconcilers/scalinggroup/members.h):
// lifecycle and health by each rule of the group's health check, zone,
// launch template version, warm pool and scale-in protection. Time is a
// parameter: instances are created `age` before kNow.
#include <gtest/gtest.h>

#include "api/well_known.h"
#include "reconcilers/scalinggroup/members.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const auto kNow = std::chrono::system_clock::from_time_t(1800000000);

std::string at(Time t) {
  return kube::formatRfc3339(t);
}

// An Instance of group "web" created `age` before kNow, in `state` ("" no
// status at all), with a Ready condition of `ready` status ("" none).
json instanceJson(const std::string& state, const std::string& ready = "True",
                  std::chrono::seconds age = 3600s, const std::string& name = "web-1") {
  json j = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
            {"kind", "Instance"},
            {"metadata",
             {{"name", name},
              {"namespace", "shop"},
              {"uid", "uid-" + name},
              {"creationTimestamp", at(kNow - age)},
              {"labels", {{api::kScalingGroupLabel, "web"}}}}},
            {"spec", {{"launchTemplateRef", {{"name", "web"}, {"version", "$Latest"}}}}}};
  if (state.empty()) return j;
  j["status"] = {{"state", state}, {"conditions", json::array()}};
  if (!ready.empty()) {
    json c = {{"type", "Ready"}, {"status", ready}, {"lastTransitionTime", at(kNow - 600s)}};
    if (ready == "True") c["reason"] = "Running";
    j["status"]["conditions"].push_back(c);
  }
  return j;
}

v1::Instance instanceOf(const json& j) {
  return v1::Instance::fromJson(j);
}

HealthSettings instanceChecks(std::chrono::seconds grace = 300s) {
  return HealthSettings{.loadBalancerChecks = false, .gracePeriod = grace, .suspended = false};
}
HealthSettings loadBalancerChecks(std::chrono::seconds grace = 300s) {
  return HealthSettings{.loadBalancerChecks = true, .gracePeriod = grace, .suspended = false};
}

const api::TargetHealthIndex kNoTargets;

// web-1 reported by load balancer "web" in `state` with `reason`.
api::TargetHealthIndex targets(const std::string& state, const std::string& reason = "") {
  json t = {{"instance", "web-1"}, {"state", state}};
  if (!reason.empty()) t["reason"] = reason;
  api::TargetHealthIndex index;
  index.add(v1::LoadBalancer::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "LoadBalancer"},
       {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
       {"spec", {{"listeners", json::array()}, {"targetGroups", json::array()}}},
       {"status", {{"targetGroups", {{{"name", "http"}, {"targets", {t}}}}}}}}));
  return index;
}

v1::ScalingGroupSpec groupSpec(json extra = json::object()) {
  json spec = {{"minSize", 1}, {"maxSize", 4}, {"launchTemplateRef", {{"name", "web"}}}};
  spec.update(extra);
  return v1::ScalingGroupSpec::fromJson(spec);
}

// --- Settings -------------------------------------------------------------

TEST(ScalingGroupMembers, LifecycleNames) {
  EXPECT_EQ(toString(Lifecycle::Pending), "Pending");
  EXPECT_EQ(toString(Lifecycle::InService), "InService");
  EXPECT_EQ(toString(Lifecycle::Unhealthy), "Unhealthy");
  EXPECT_EQ(toString(Lifecycle::Terminating), "Terminating");
  EXPECT_EQ(toString(Lifecycle::Warm), "Warm");
}

TEST(ScalingGroupMembers, HealthSettingsDefaults) {
  const HealthSettings s = healthSettingsOf(groupSpec());
  EXPECT_FALSE(s.loadBalancerChecks);
  EXPECT_EQ(s.gracePeriod, 300s);
  EXPECT_FALSE(s.suspended);

  const HealthSettings noType = healthSettingsOf(groupSpec({{"healthCheck", json::object()}}));
  EXPECT_FALSE(noType.loadBalancerChecks);
  EXPECT_EQ(noType.gracePeriod, 300s);
}

TEST(ScalingGroupMembers, HealthSettingsFromSpec) {
  const HealthSettings lb = healthSettingsOf(
      groupSpec({{"healthCheck", {{"type", "LoadBalancer"}, {"gracePeriodSeconds", 0}}},
                 {"loadBalancerRefs", {{{"name", "web"}}}},
                 {"suspendedProcesses", {"AZRebalance", "HealthCheck"}}}));
  EXPECT_TRUE(lb.loadBalancerChecks);
  EXPECT_EQ(lb.gracePeriod, 0s);
  EXPECT_TRUE(lb.suspended);

  const HealthSettings instance = healthSettingsOf(
      groupSpec({{"healthCheck", {{"type", "Instance"}, {"gracePeriodSeconds", 90}}},
                 {"suspendedProcesses", {"ReplaceUnhealthy"}}}));
  EXPECT_FALSE(instance.loadBalancerChecks);
  EXPECT_EQ(instance.gracePeriod, 90s);
  EXPECT_FALSE(instance.suspended);  // ReplaceUnhealthy is another process
}

// --- What a member records --------------------------------------------------

TEST(ScalingGroupMembers, RecordsNameUidCreationAndReadySince) {
  const auto inst = instanceOf(instanceJson("running"));
  const Member m = memberOf(inst, instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(m.instance, &inst);
  EXPECT_EQ(m.name, "web-1");
  EXPECT_EQ(m.uid, "uid-web-1");
  EXPECT_EQ(m.created, kNow - 3600s);
  ASSERT_TRUE(m.inServiceSince);
  EXPECT_EQ(*m.inServiceSince, kNow - 600s);
  EXPECT_EQ(m.lifecycle, Lifecycle::InService);
  EXPECT_EQ(m.unhealthyReason, "");
  EXPECT_FALSE(m.warm);
  EXPECT_FALSE(m.protectedFromScaleIn);
}

TEST(ScalingGroupMembers, InServiceSinceOnlyWhileReady) {
  const auto notReady = instanceOf(instanceJson("running", "False"));
  EXPECT_FALSE(memberOf(notReady, instanceChecks(), kNoTargets, kNow).inServiceSince);
  const auto noStatus = instanceOf(instanceJson(""));
  EXPECT_FALSE(memberOf(noStatus, instanceChecks(), kNoTargets, kNow).inServiceSince);

  json j = instanceJson("running");
  j["status"]["conditions"][0].erase("lastTransitionTime");
  const auto noTime = instanceOf(j);
  EXPECT_EQ(memberOf(noTime, instanceChecks(), kNoTargets, kNow).inServiceSince, kNow - 3600s);
}

TEST(ScalingGroupMembers, ZoneFromStatusElseSpecElseNone) {
  json j = instanceJson("running");
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).zone, "");
  j["spec"]["availabilityZone"] = "zone-a";
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).zone, "zone-a");
  j["status"]["zone"] = "zone-b";
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).zone, "zone-b");
}

TEST(ScalingGroupMembers, LaunchTemplateVersionFromStatusElseSpecNumber) {
  json j = instanceJson("pending", "False", 10s);
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).launchTemplateVersion, 0)
      << "$Latest not yet resolved";
  j["spec"]["launchTemplateRef"]["version"] = "4";
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).launchTemplateVersion, 4);
  j["status"]["launchTemplateVersion"] = 3;
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).launchTemplateVersion, 3);
  j["status"].erase("launchTemplateVersion");
  j["spec"]["launchTemplateRef"]["version"] = "$Default";
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).launchTemplateVersion, 0);
  j["spec"].erase("launchTemplateRef");
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).launchTemplateVersion, 0);
}

TEST(ScalingGroupMembers, ProtectionAnnotation) {
  json j = instanceJson("running");
  j["metadata"]["annotations"] = {{api::kProtectedFromScaleInAnnotation, "true"}};
  const Member m = memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow);
  EXPECT_TRUE(m.protectedFromScaleIn);
  EXPECT_EQ(m.lifecycle, Lifecycle::InService);  // protection changes nothing else

  j["metadata"]["annotations"] = {{api::kProtectedFromScaleInAnnotation, "false"}};
  EXPECT_FALSE(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).protectedFromScaleIn);
}

// --- Lifecycle ------------------------------------------------------------

TEST(ScalingGroupMembers, RunningAndReadyIsInService) {
  const Member m =
      memberOf(instanceOf(instanceJson("running", "True", 5s)), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(m.lifecycle, Lifecycle::InService);  // in service within the grace period too
}

TEST(ScalingGroupMembers, PendingWithinGracePeriodUnhealthyAfter) {
  const auto health = instanceChecks(300s);
  const Member young =
      memberOf(instanceOf(instanceJson("pending", "False", 299s)), health, kNoTargets, kNow);
  EXPECT_EQ(young.lifecycle, Lifecycle::Pending);
  EXPECT_EQ(young.unhealthyReason, "");

  const Member old =
      memberOf(instanceOf(instanceJson("pending", "False", 301s)), health, kNoTargets, kNow);
  EXPECT_EQ(old.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(old.unhealthyReason, "did not start within 300 s");
}

TEST(ScalingGroupMembers, GracePeriodCountsFromCreation) {
  // The same instance, read at two times: time is the parameter.
  const auto inst = instanceOf(instanceJson("pending", "False", 0s));
  EXPECT_EQ(memberOf(inst, instanceChecks(600s), kNoTargets, kNow + 599s).lifecycle,
            Lifecycle::Pending);
  EXPECT_EQ(memberOf(inst, instanceChecks(600s), kNoTargets, kNow + 601s).lifecycle,
            Lifecycle::Unhealthy);
  EXPECT_EQ(memberOf(inst, instanceChecks(600s), kNoTargets, kNow + 601s).unhealthyReason,
            "did not start within 600 s");
}

// EC2 never health-checks an instance before it is in service: a launch
// gets kMinStartTime (300 s) whatever the grace period, or a grace period
// of 0 would replace every new instance at once, and its replacement too
// (a user saw 230 instances launched in 30 s).
TEST(ScalingGroupMembers, ShortGracePeriodStillLetsALaunchStart) {
  const auto pending = instanceOf(instanceJson("pending", "False", 0s));
  const auto booting = instanceOf(instanceJson("running", "False", 0s));
  for (const auto grace : {0s, 120s}) {
    EXPECT_EQ(memberOf(pending, instanceChecks(grace), kNoTargets, kNow).lifecycle,
              Lifecycle::Pending);
    EXPECT_EQ(memberOf(booting, instanceChecks(grace), kNoTargets, kNow + 10s).lifecycle,
              Lifecycle::Pending);
    const Member late = memberOf(pending, instanceChecks(grace), kNoTargets, kNow + 301s);
    EXPECT_EQ(late.lifecycle, Lifecycle::Unhealthy);
    EXPECT_EQ(late.unhealthyReason, "did not start within 300 s");
  }
}

TEST(ScalingGroupMembers, ZeroGracePeriodChecksWhatIsNoLaunchAtOnce) {
  // Stopped behind the group's back, or a failed VMI: unhealthy at once.
  const Member stopped = memberOf(instanceOf(instanceJson("stopped", "False", 0s)),
                                  instanceChecks(0s), kNoTargets, kNow);
  EXPECT_EQ(stopped.lifecycle, Lifecycle::Unhealthy);
  json failed = instanceJson("pending", "False", 0s);
  for (auto& c : failed["status"]["conditions"])
    if (c["type"] == "Ready") c["reason"] = "Failed";
  EXPECT_EQ(memberOf(instanceOf(failed), instanceChecks(0s), kNoTargets, kNow).lifecycle,
            Lifecycle::Unhealthy);
}

TEST(ScalingGroupMembers, PendingWithoutStatusYet) {
  const Member young =
      memberOf(instanceOf(instanceJson("", "", 10s)), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(young.lifecycle, Lifecycle::Pending);
  const Member old =
      memberOf(instanceOf(instanceJson("", "", 400s)), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(old.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(old.unhealthyReason, "did not start within 300 s");
}

TEST(ScalingGroupMembers, NotYetCreatedIsWithinItsGracePeriod) {
  json j = instanceJson("");
  j["metadata"].erase("creationTimestamp");
  const Member m = memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(m.created, kNow);
  EXPECT_EQ(m.lifecycle, Lifecycle::Pending);
}

TEST(ScalingGroupMembers, PendingPastGraceNamesWhatHoldsItUp) {
  json j = instanceJson("pending", "False", 900s);
  j["status"]["stateReason"] = {
      {"code", "Server.InternalError"},
      {"message", "VirtualMachine status ErrorUnschedulable: 0/3 nodes are available"}};
  const Member m = memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(m.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(m.unhealthyReason,
            "did not start within 300 s: VirtualMachine status ErrorUnschedulable: 0/3 nodes are "
            "available");
}

TEST(ScalingGroupMembers, StoppedBehindTheGroupsBackIsUnhealthy) {
  for (const char* state : {"stopped", "stopping"}) {
    const Member m =
        memberOf(instanceOf(instanceJson(state, "False")), instanceChecks(), kNoTargets, kNow);
    EXPECT_EQ(m.lifecycle, Lifecycle::Unhealthy) << state;
    EXPECT_EQ(m.unhealthyReason, std::string("not running (") + state + ")");
  }
  // Within the grace period it is still Pending.
  const Member young = memberOf(instanceOf(instanceJson("stopped", "False", 60s)), instanceChecks(),
                                kNoTargets, kNow);
  EXPECT_EQ(young.lifecycle, Lifecycle::Pending);
}

TEST(ScalingGroupMembers, FailedVmiIsUnhealthy) {
  json j = instanceJson("pending", "False");
  j["status"]["conditions"][0]["reason"] = "Failed";
  j["status"]["conditions"][0]["message"] = "The virtual machine failed; KubeVirt restarts it";
  const Member m = memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(m.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(m.unhealthyReason, "VMI failed: The virtual machine failed; KubeVirt restarts it");

  j["status"]["conditions"][0].erase("message");
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).unhealthyReason,
            "VMI failed");

  j["metadata"]["creationTimestamp"] = at(kNow - 30s);
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).lifecycle,
            Lifecycle::Pending);
}

TEST(ScalingGroupMembers, RunningButNotReadyIsUnhealthyAfterGrace) {
  json j = instanceJson("running", "False");
  j["status"]["conditions"][0]["reason"] = "GuestNotRunning";
  const Member m = memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(m.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(m.unhealthyReason, "running but not Ready (GuestNotRunning)");

  j["metadata"]["creationTimestamp"] = at(kNow - 30s);
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).lifecycle,
            Lifecycle::Pending);
}

TEST(ScalingGroupMembers, LoadBalancerVerdictOnlyWithTypeLoadBalancer) {
  const auto inst = instanceOf(instanceJson("running"));
  const auto failing = targets("unhealthy", "Target.FailedHealthChecks");

  const Member instanceType = memberOf(inst, instanceChecks(), failing, kNow);
  EXPECT_EQ(instanceType.lifecycle, Lifecycle::InService);

  const Member lbType = memberOf(inst, loadBalancerChecks(), failing, kNow);
  EXPECT_EQ(lbType.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(lbType.unhealthyReason,
            "load balancer web reports it unhealthy: Target.FailedHealthChecks");
}

TEST(ScalingGroupMembers, LoadBalancerOtherStatesOrAbsenceAreInService) {
  const auto inst = instanceOf(instanceJson("running"));
  for (const char* state : {"initial", "healthy", "draining", "unused"})
    EXPECT_EQ(memberOf(inst, loadBalancerChecks(), targets(state), kNow).lifecycle,
              Lifecycle::InService)
        << state;
  EXPECT_EQ(memberOf(inst, loadBalancerChecks(), kNoTargets, kNow).lifecycle, Lifecycle::InService);
}

TEST(ScalingGroupMembers, LoadBalancerVerdictWaitsForTheGracePeriod) {
  const auto inst = instanceOf(instanceJson("running", "True", 100s));
  const auto failing = targets("unhealthy", "Target.Timeout");
  EXPECT_EQ(memberOf(inst, loadBalancerChecks(300s), failing, kNow).lifecycle,
            Lifecycle::InService);
  const Member after = memberOf(inst, loadBalancerChecks(300s), failing, kNow + 201s);
  EXPECT_EQ(after.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(after.unhealthyReason, "load balancer web reports it unhealthy: Target.Timeout");
}

TEST(ScalingGroupMembers, InstanceProblemsComeBeforeTheLoadBalancers) {
  const Member m = memberOf(instanceOf(instanceJson("stopped", "False")), loadBalancerChecks(),
                            targets("unhealthy", "Target.NotRunning"), kNow);
  EXPECT_EQ(m.lifecycle, Lifecycle::Unhealthy);
  EXPECT_EQ(m.unhealthyReason, "not running (stopped)");
}

TEST(ScalingGroupMembers, SuspendedHealthCheckMarksNothingUnhealthy) {
  HealthSettings suspended = loadBalancerChecks();
  suspended.suspended = true;
  for (const char* state : {"pending", "stopped"}) {
    const Member m =
        memberOf(instanceOf(instanceJson(state, "False")), suspended, kNoTargets, kNow);
    EXPECT_EQ(m.lifecycle, Lifecycle::Pending) << state;
    EXPECT_EQ(m.unhealthyReason, "") << state;
  }
  json failed = instanceJson("pending", "False");
  failed["status"]["conditions"][0]["reason"] = "Failed";
  EXPECT_EQ(memberOf(instanceOf(failed), suspended, kNoTargets, kNow).lifecycle,
            Lifecycle::Pending);
  // The load balancers' verdict is not read: a running, Ready instance serves.
  EXPECT_EQ(memberOf(instanceOf(instanceJson("running")), suspended,
                     targets("unhealthy", "Target.FailedHealthChecks"), kNow)
                .lifecycle,
            Lifecycle::InService);
}

TEST(ScalingGroupMembers, WarmPoolInstanceIsWarm) {
  for (const char* state : {"running", "stopped", "pending"}) {
    json j = instanceJson(state, state == std::string("running") ? "True" : "False");
    j["metadata"]["labels"][api::kWarmPoolLabel] = "true";
    const Member m = memberOf(instanceOf(j), loadBalancerChecks(),
                              targets("unhealthy", "Target.NotRunning"), kNow);
    EXPECT_TRUE(m.warm) << state;
    EXPECT_EQ(m.lifecycle, Lifecycle::Warm) << state;
    EXPECT_EQ(m.unhealthyReason, "") << state;
  }
}

TEST(ScalingGroupMembers, BeingDeletedIsTerminating) {
  json j = instanceJson("running");
  j["metadata"]["deletionTimestamp"] = at(kNow - 5s);
  EXPECT_EQ(memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow).lifecycle,
            Lifecycle::Terminating);
  j["status"]["state"] = "shutting-down";
  j["metadata"]["labels"][api::kWarmPoolLabel] = "true";  // a warm instance being deleted
  const Member m = memberOf(instanceOf(j), instanceChecks(), kNoTargets, kNow);
  EXPECT_EQ(m.lifecycle, Lifecycle::Terminating);
  EXPECT_TRUE(m.warm);
}

}  // namespace
}  // namespace kubec2::reconcilers
