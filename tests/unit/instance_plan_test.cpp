// The Instance reconciler's decisions (reconcilers/instance/plan.h), path by
// path: what it writes for a new Instance, in steady state, on drift, on
// each missing reference, and while terminating.
#include <algorithm>
#include <functional>

#include <gtest/gtest.h>

#include "api/well_known.h"
#include "reconcilers/common/applied.h"
#include "reconcilers/instance/plan.h"
#include "runtime/base64.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const auto kNow = std::chrono::system_clock::from_time_t(1800000000);

v1::Instance instanceOf(json spec, json extraMeta = json::object()) {
  json meta = {{"name", "web-1"}, {"namespace", "shop"}, {"uid", "uid-web-1"}, {"generation", 3}};
  meta["finalizers"] = json::array({api::kInstanceFinalizer});
  meta.update(extraMeta);
  return v1::Instance::fromJson({{"apiVersion", "compute.kubec2.io/v1alpha1"},
                                 {"kind", "Instance"},
                                 {"metadata", meta},
                                 {"spec", std::move(spec)}});
}

json launchSpec(const std::string& type = "t3.micro") {
  return {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
          {"instanceType", type}};
}

v1::LaunchTemplate templateOf(std::vector<json> versions) {
  json v = json::array();
  for (auto& s : versions) v.push_back({{"spec", s}});
  return v1::LaunchTemplate::fromJson({{"apiVersion", "compute.kubec2.io/v1alpha1"},
                                       {"kind", "LaunchTemplate"},
                                       {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
                                       {"spec", {{"versions", v}}}});
}

json runningVmi() {
  return {{"metadata", {{"name", "web-1"}, {"namespace", "shop"}}},
          {"status",
           {{"phase", "Running"},
            {"nodeName", "node-a"},
            {"interfaces", {{{"name", "default"}, {"ipAddress", "127.1.0.7"}}}},
            {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
}

// The plan's writes, read back as the old tests read them.
std::optional<json> vmApplied(const Plan& p) {
  const ApplyObject* a = p.applyOf("VirtualMachine", "web-1");
  return a ? std::optional<json>(a->object) : std::nullopt;
}
std::optional<json> statusOf(const Plan& p) {
  const PatchStatus* s = p.first<PatchStatus>();
  return s ? std::optional<json>(s->status) : std::nullopt;
}
bool deletesVm(const Plan& p) {
  for (const auto* d : p.all<DeleteObject>())
    if (d->resource.kind == "VirtualMachine") return true;
  return false;
}
std::vector<std::string> released(const Plan& p) {
  std::vector<std::string> out;
  for (const auto* r : p.all<ReleaseObject>()) out.push_back(r->name);
  return out;
}
bool addsFinalizer(const Plan& p) {
  return p.first<AddFinalizer>() != nullptr;
}
bool removesFinalizer(const Plan& p) {
  return p.first<RemoveFinalizer>() != nullptr;
}

struct World {
  explicit World(v1::Instance i) : inst(std::move(i)) {}
  v1::Instance inst;
  std::optional<v1::LaunchTemplate> templ;
  std::optional<json> vm, vmi, policy;
  bool kubevirt = true;
  std::map<std::string, SecretData> secrets;
  std::map<std::string, json> snapshots;    // Snapshots that exist, by name
  std::vector<std::string> snapshotsRead;   // what the last plan() asked to read
  std::map<std::string, json> dataVolumes;  // that exist, by name
  std::vector<std::string> claims;          // that exist
  std::optional<json> cloudInitSecret;      // the operator's, as the API holds it
  std::optional<AppliedRecord> vmRecord, policyRecord, secretRecord;
  // What the API server keeps of an applied VM: by default all of it.
  std::function<json(json)> server = [](json applied) { return applied; };
  std::chrono::system_clock::time_point now = kNow;
  std::optional<std::chrono::system_clock::time_point> deregisteringUntil;
  std::string deregisteringFrom;

  InstanceObservation observation() const {
    InstanceObservation o;
    o.instance = &inst;
    o.launchTemplate = templ ? &*templ : nullptr;
    o.catalog = &InstanceTypeCatalog::builtIn();
    o.kubevirtInstalled = kubevirt;
    o.vm = vm ? &*vm : nullptr;
    o.vmi = vmi ? &*vmi : nullptr;
    o.networkPolicy = policy ? &*policy : nullptr;
    o.nodeZone = "us-east-1a";
    o.now = now;
    o.terminatedRetention = 60s;
    o.vmApplied = vmRecord ? &*vmRecord : nullptr;
    o.networkPolicyApplied = policyRecord ? &*policyRecord : nullptr;
    o.cloudInitApplied = secretRecord ? &*secretRecord : nullptr;
    o.deregisteringUntil = deregisteringUntil;
    o.deregisteringFrom = deregisteringFrom;
    return o;
  }
  Plan plan() {
    InstanceObservation o = observation();
    const LaunchResolution launch = launchOf(o);
    snapshotsRead = snapshotsToRead(o, launch);
    for (const auto& name : snapshotsRead) {
      const auto it = snapshots.find(name);
      o.snapshots[name] =
          it == snapshots.end()
              ? nullptr
              : std::make_shared<const v1::Snapshot>(v1::Snapshot::fromJson(it->second));
    }
    for (const auto& name : restoredDataVolumesToRead(o, launch))
      if (const auto it = dataVolumes.find(name); it != dataVolumes.end())
        o.dataVolumes[name] = it->second;
    for (const auto& need : secretsToRead(o, launch)) {
      const auto it = secrets.find(need.name);
      o.secrets[need.name] = it == secrets.end() ? SecretData{} : it->second;
    }
    if (cloudInitSecretToRead(o, launch) && cloudInitSecret) o.cloudInitSecret = &*cloudInitSecret;
    for (const auto& c : claimsToCheck(o, launch))
      if (std::find(claims.begin(), claims.end(), c) != claims.end())
        o.claimsRemaining.push_back(c);
    return planInstance(o);
  }
  // What the API server would hold after the plan's writes (and what the
  // executor would remember of them).
  void afterWrites(const Plan& p) {
    for (const auto* a : p.all<ApplyObject>()) {
      if (a->resource.kind == "VirtualMachine") {
        json stored = server(a->object);
        stored["metadata"]["resourceVersion"] = std::to_string(++rv);
        if (vm && (*vm)["metadata"].contains("creationTimestamp"))
          stored["metadata"]["creationTimestamp"] = (*vm)["metadata"]["creationTimestamp"];
        else  // as the API server stamps a creation (an hour ago: past the pending grace)
          stored["metadata"]["creationTimestamp"] =
              kube::formatRfc3339(kNow - std::chrono::hours(1));
        vm = stored;
        vmRecord = AppliedRecord{stampOf(&a->object), stored["metadata"]["resourceVersion"],
                                 notKept(a->object, stored), a->observedResourceVersion};
      } else if (a->resource.kind == "NetworkPolicy") {
        policy = a->object;
        policyRecord = AppliedRecord{stampOf(&a->object), "", {}};
      } else if (a->resource.kind == "Secret") {
        cloudInitSecret = a->object;
        (*cloudInitSecret)["metadata"]["resourceVersion"] = std::to_string(++rv);
        (*cloudInitSecret)["metadata"]["uid"] = "uid-secret";
        secretRecord = AppliedRecord{
            stampOf(&a->object), (*cloudInitSecret)["metadata"]["resourceVersion"], {}};
      }
    }
    for (const auto* d : p.all<DeleteObject>())
      if (d->resource.kind == "Secret") cloudInitSecret.reset();
    if (const auto s = statusOf(p)) {
      json j = inst.toJson();
      j["status"] = *s;
      inst = v1::Instance::fromJson(j);
    }
    if (addsFinalizer(p)) inst.metadata.finalizers.push_back(api::kInstanceFinalizer);
  }
  int rv = 100;
};

std::vector<std::string> reasons(const Plan& p) {
  std::vector<std::string> out;
  for (const auto* e : p.all<RecordEvent>()) out.push_back((e->warning ? "!" : "") + e->reason);
  return out;
}

std::string readyReason(const json& status) {
  for (const auto& c : status.value("conditions", json::array()))
    if (c["type"] == "Ready") return c.value("reason", "");
  return "";
}

TEST(InstancePlan, ANewInstanceGetsItsVmThenIsPendingOnceTheVmIsSeen) {
  World w{instanceOf({{"launchTemplateRef", {{"name", "web"}}}}, {{"finalizers", json::array()}})};
  w.templ = templateOf({launchSpec("m5.large")});
  const Plan p = w.plan();
  EXPECT_TRUE(addsFinalizer(p));
  ASSERT_TRUE(vmApplied(p));
  EXPECT_EQ((*vmApplied(p))["metadata"]["name"], "web-1");
  EXPECT_EQ((*vmApplied(p))["spec"]["runStrategy"], "Always");
  // Status waits for the VM's watch event: one write fewer per launch.
  EXPECT_FALSE(statusOf(p));
  EXPECT_TRUE(reasons(p).empty());
  EXPECT_FALSE(p.requeueAfter);

  w.afterWrites(p);
  const std::string created = kube::formatRfc3339(kNow);
  (*w.vm)["metadata"]["creationTimestamp"] = created;
  // Within 2 s of the VM's creation a boot may still make it running at once.
  const Plan early = w.plan();
  EXPECT_FALSE(statusOf(early));
  ASSERT_TRUE(early.requeueAfter);
  EXPECT_GE(*early.requeueAfter, 2s);
  EXPECT_LE(*early.requeueAfter, 2s + 1ms);
  w.now = kNow + 2s;
  const Plan seen = w.plan();
  EXPECT_FALSE(vmApplied(seen));
  ASSERT_TRUE(statusOf(seen));
  EXPECT_EQ((*statusOf(seen))["state"], "pending");
  EXPECT_EQ((*statusOf(seen))["launchTemplateVersion"], 1);
  EXPECT_EQ((*statusOf(seen))["instanceType"],
            json({{"name", "m5.large"}, {"vCPU", 2}, {"memoryMiB", 8192}}));
  EXPECT_EQ((*statusOf(seen))["launchTime"], created);
  EXPECT_EQ((*statusOf(seen))["observedGeneration"], 3);
  EXPECT_EQ(readyReason(*statusOf(seen)), "Pending");
  EXPECT_EQ(reasons(seen), std::vector<std::string>{"Pending"});
}

TEST(InstancePlan, AFastBootGoesStraightToRunningInOneStatusWrite) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  const Plan p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "running");
  EXPECT_EQ(reasons(p), std::vector<std::string>{"Running"});
}

TEST(InstancePlan, StepsOfAStartWriteNoStatus) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.afterWrites(w.plan());  // pending
  (*w.vm)["status"] = {{"printableStatus", "Starting"}};
  w.vmi = json{{"status", {{"phase", "Scheduling"}}}};
  EXPECT_FALSE(statusOf(w.plan()));
  (*w.vmi)["status"]["phase"] = "Scheduled";
  EXPECT_FALSE(statusOf(w.plan()));
}

TEST(InstancePlan, RunningIsReportedOnceAndThenNothingIsWritten) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());  // VM written
  w.afterWrites(w.plan());  // pending
  w.vmi = runningVmi();
  const Plan running = w.plan();
  EXPECT_FALSE(vmApplied(running)) << vmApplied(running)->dump();
  ASSERT_TRUE(statusOf(running));
  EXPECT_EQ((*statusOf(running))["state"], "running");
  EXPECT_EQ((*statusOf(running))["privateIP"], "127.1.0.7");
  EXPECT_EQ((*statusOf(running))["nodeName"], "node-a");
  EXPECT_EQ((*statusOf(running))["zone"], "us-east-1a");
  EXPECT_EQ(readyReason(*statusOf(running)), "Running");
  EXPECT_EQ(reasons(running), std::vector<std::string>{"Running"});

  w.afterWrites(running);
  w.now += 10min;  // time passing alone changes nothing
  const Plan steady = w.plan();
  EXPECT_FALSE(vmApplied(steady));
  EXPECT_FALSE(statusOf(steady)) << statusOf(steady)->dump();
  EXPECT_TRUE(reasons(steady).empty());
  EXPECT_FALSE(addsFinalizer(steady));
}

TEST(InstancePlan, AVmStoppedOutsideKubec2IsRestored) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.afterWrites(w.plan());
  (*w.vm)["spec"]["runStrategy"] = "Halted";
  (*w.vm)["status"] = {{"printableStatus", "Stopped"}};  // KubeVirt's fields are not compared
  (*w.vm)["metadata"]["resourceVersion"] = "500";        // somebody else wrote it
  const Plan p = w.plan();
  ASSERT_TRUE(vmApplied(p));
  EXPECT_EQ((*vmApplied(p))["spec"]["runStrategy"], "Always");
  EXPECT_EQ(reasons(p), std::vector<std::string>{"VirtualMachineRestored"});
}

TEST(InstancePlan, FieldsOthersAddToTheVmAreLeftAlone) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  (*w.vm)["metadata"]["annotations"]["kubevirt.io/latest-observed-api-version"] = "v1";
  (*w.vm)["metadata"]["labels"]["owner-team"] = "payments";
  (*w.vm)["metadata"]["resourceVersion"] = "42";
  EXPECT_FALSE(vmApplied(w.plan()));
}

TEST(InstancePlan, StoppingThenStopped) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  json stopped = w.inst.toJson();
  stopped["spec"]["desiredState"] = "stopped";
  w.inst = v1::Instance::fromJson(stopped);
  Plan p = w.plan();
  ASSERT_TRUE(vmApplied(p));
  EXPECT_EQ((*vmApplied(p))["spec"]["runStrategy"], "Halted");
  w.afterWrites(p);
  EXPECT_EQ(w.inst.status->state, "stopping");
  w.vmi.reset();
  p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "stopped");
  EXPECT_EQ((*statusOf(p))["stateReason"]["code"], "Client.UserInitiatedShutdown");
  EXPECT_EQ(reasons(p), std::vector<std::string>{"Stopped"});
}

struct Problem {
  std::string name;
  std::function<void(World&)> set;
  std::string reason;
  std::string words;
};

class InstanceProblems : public ::testing::TestWithParam<Problem> {};

TEST_P(InstanceProblems, AreAConditionAndAWarningOnceAndNoVm) {
  World w{instanceOf({{"launchTemplateRef", {{"name", "web"}, {"version", "2"}}}})};
  w.templ = templateOf({launchSpec(), launchSpec()});
  GetParam().set(w);
  const Plan p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "pending");
  EXPECT_EQ(readyReason(*statusOf(p)), GetParam().reason);
  EXPECT_NE((*statusOf(p))["conditions"][0]["message"].get<std::string>().find(GetParam().words),
            std::string::npos)
      << (*statusOf(p))["conditions"][0]["message"];
  EXPECT_TRUE(p.requeueAfter || p.retryWithBackoff);
  ASSERT_FALSE(reasons(p).empty());
  EXPECT_EQ(reasons(p).back(), "!" + GetParam().reason);
  // The same problem again: no second Event, no status write.
  w.afterWrites(p);
  const Plan again = w.plan();
  EXPECT_TRUE(reasons(again).empty()) << reasons(again)[0];
  EXPECT_FALSE(statusOf(again));
}

// The launch the problem held up is a first launch, not a restore: no VM
// ever existed, so no VirtualMachineRestored.
TEST(InstancePlan, ALaunchHeldUpByAProblemIsNotAnnouncedAsARestoreWhenItGoesAhead) {
  World w{instanceOf({{"launchTemplateRef", {{"name", "web"}, {"version", "2"}}}})};
  w.templ.reset();
  w.afterWrites(w.plan());  // pending, LaunchTemplateNotFound
  w.templ = templateOf({launchSpec(), launchSpec()});
  const Plan p = w.plan();
  ASSERT_TRUE(vmApplied(p));
  for (const auto& r : reasons(p)) EXPECT_NE(r, "VirtualMachineRestored");
}

INSTANTIATE_TEST_SUITE_P(
    Problems, InstanceProblems,
    ::testing::Values(
        Problem{"TemplateMissing", [](World& w) { w.templ.reset(); }, "LaunchTemplateNotFound",
                "web"},
        Problem{"VersionMissing", [](World& w) { w.templ = templateOf({launchSpec()}); },
                "LaunchTemplateVersionNotFound", "2"},
        Problem{"TypeUnknown",
                [](World& w) {
                  w.templ = templateOf({launchSpec(), launchSpec("z9.mega")});
                },
                "InstanceTypeNotFound", "z9.mega"},
        Problem{"SecretMissing",
                [](World& w) {
                  json j = w.inst.toJson();
                  j["spec"]["keyPair"] = {{"secretName", "k"}};
                  w.inst = v1::Instance::fromJson(j);
                },
                "SecretNotFound", "Secret \"k\""},
        Problem{"KubeVirtMissing", [](World& w) { w.kubevirt = false; }, "KubeVirtNotInstalled",
                "install KubeVirt"},
        Problem{"VmOfSomeoneElse",
                [](World& w) {
                  w.vm = json{{"metadata",
                               {{"name", "web-1"},
                                {"ownerReferences",
                                 {{{"kind", "Other"}, {"uid", "x"}, {"controller", true}}}}}}};
                },
                "VirtualMachineConflict", "not controlled by this Instance"}),
    [](const auto& p) { return p.param.name; });

TEST(InstancePlan, TheLaunchedVersionStaysWhenTheTemplateGrows) {
  World w{instanceOf({{"launchTemplateRef", {{"name", "web"}, {"version", "$Latest"}}}})};
  w.templ = templateOf({launchSpec("t3.micro")});
  w.afterWrites(w.plan());  // the VM, before any status
  // A version appended before the launch's status is written: the VM's
  // annotation still pins version 1.
  w.templ = templateOf({launchSpec("t3.micro"), launchSpec("c5.xlarge")});
  Plan p = w.plan();
  EXPECT_FALSE(vmApplied(p)) << "a new template version must not change a launched instance";
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["launchTemplateVersion"], 1);
  w.afterWrites(p);
  p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  EXPECT_FALSE(statusOf(p));
}

TEST(InstancePlan, DeletionDeletesTheVmThenTerminatesThenLetsGoAfterTheRetention) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);

  Plan p = w.plan();
  EXPECT_TRUE(deletesVm(p));
  EXPECT_FALSE(removesFinalizer(p));
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "shutting-down");
  EXPECT_EQ(reasons(p), std::vector<std::string>{"ShuttingDown"});
  w.afterWrites(p);

  (*w.vm)["metadata"]["deletionTimestamp"] = kube::formatRfc3339(kNow);  // being deleted
  p = w.plan();
  EXPECT_FALSE(deletesVm(p)) << "not deleted twice";

  w.vm.reset();
  w.vmi.reset();
  p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "terminated");
  EXPECT_FALSE(removesFinalizer(p));
  ASSERT_TRUE(p.requeueAfter);
  EXPECT_GE(*p.requeueAfter, 59s);
  EXPECT_LE(*p.requeueAfter, 61s);
  w.afterWrites(p);

  w.now += 61s;
  p = w.plan();
  EXPECT_TRUE(removesFinalizer(p));
  EXPECT_FALSE(statusOf(p));
}

TEST(InstancePlan, ATerminatingInstanceKeepsItsVmWhileALoadBalancerDrainsIt) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  w.deregisteringUntil = kNow + 30s;
  w.deregisteringFrom = "LoadBalancer web (target group app)";

  Plan p = w.plan();
  EXPECT_FALSE(deletesVm(p)) << "the VM runs until the drain ends";
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "shutting-down");
  EXPECT_NE(statusOf(p)->dump().find("draining from LoadBalancer web (target group app) until"),
            std::string::npos)
      << statusOf(p)->dump();
  ASSERT_TRUE(p.requeueAfter);
  EXPECT_LE(*p.requeueAfter, 5s) << "polled: a load balancer may end it sooner";
  w.afterWrites(p);

  w.now += 30s;
  p = w.plan();
  EXPECT_TRUE(deletesVm(p)) << "the drain is over";
}

TEST(InstancePlan, WithoutTheFinalizerADeletedInstanceIsNotTouched) {
  World w{instanceOf(launchSpec(), {{"finalizers", json::array()}})};
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  const Plan p = w.plan();
  EXPECT_TRUE(p.empty());
}

TEST(InstancePlan, SecretsAreReadOnlyToStart) {
  json spec = launchSpec();
  spec["keyPair"] = {{"secretName", "deploy-key"}};
  spec["userData"] = {{"secretRef", {{"name", "boot"}}}};
  World w{instanceOf(spec)};
  const LaunchResolution launch = resolveLaunch(w.inst, nullptr);
  ASSERT_TRUE(launch.ok()) << launch.problemMessage;
  const auto needs = secretsToRead(w.observation(), launch);
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[0].name, "deploy-key");
  EXPECT_TRUE(needs[0].keyPair);
  EXPECT_EQ(needs[1].name, "boot");
  EXPECT_EQ(needs[1].key, "userdata");
  // While the VM runs, nothing is read again (user data is read at a start).
  w.vm = json{
      {"metadata",
       {{"name", "web-1"}, {"ownerReferences", {{{"uid", "uid-web-1"}, {"controller", true}}}}}}};
  w.vmi = runningVmi();
  EXPECT_TRUE(secretsToRead(w.observation(), launch).empty());
}

TEST(InstancePlan, VolumesThatOutliveTheInstanceAreReleasedBeforeTheVmGoes) {
  json spec = {{"image", {{"http", "https://example.com/disk.qcow2"}}},
               {"instanceType", "t3.micro"},
               {"volumes",
                {{"root", {{"sizeGiB", 20}}},
                 {"extra",
                  {{{"name", "data"}, {"sizeGiB", 100}},
                   {{"name", "scratch"}, {"sizeGiB", 5}, {"deleteOnTermination", true}}}}}}};
  World w{instanceOf(spec)};
  w.afterWrites(w.plan());
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  const Plan p = w.plan();
  EXPECT_TRUE(deletesVm(p));
  // The root goes with the instance (EC2's default); data is kept; scratch goes.
  EXPECT_EQ(released(p), std::vector<std::string>{"web-1-data"});
}

TEST(InstancePlan, AFieldTheInstanceNoLongerAsksForIsAppliedAway) {
  json spec = launchSpec();
  spec["tags"] = {{"team", "payments"}};
  World w{instanceOf(spec)};
  w.afterWrites(w.plan());
  w.afterWrites(w.plan());
  json j = w.inst.toJson();
  j["spec"].erase("tags");
  w.inst = v1::Instance::fromJson(j);
  // The rendered VM is a subset of the live one (the tag label is extra),
  // but its fingerprint changed: applied again, and server-side apply drops
  // the label this field manager no longer sets.
  const Plan p = w.plan();
  ASSERT_TRUE(vmApplied(p));
  EXPECT_FALSE((*vmApplied(p))["metadata"]["labels"].contains("team"));
  EXPECT_EQ(reasons(p), std::vector<std::string>{"VirtualMachineUpdated"});
}

TEST(InstancePlan, KeptVolumesAreReleasedEvenWhenTheTemplateIsGone) {
  json spec = {{"launchTemplateRef", {{"name", "web"}}}};
  World w{instanceOf(spec)};
  json lspec = {{"image", {{"http", "https://example.com/disk.qcow2"}}},
                {"instanceType", "t3.micro"},
                {"volumes", {{"extra", {{{"name", "data"}, {"sizeGiB", 100}}}}}}};
  w.templ = templateOf({lspec});
  w.afterWrites(w.plan());
  w.templ.reset();
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  Plan p = w.plan();
  EXPECT_TRUE(deletesVm(p));
  EXPECT_EQ(released(p), std::vector<std::string>{"web-1-data"});
  // A foreground delete: the VM is already going; still released.
  (*w.vm)["metadata"]["deletionTimestamp"] = kube::formatRfc3339(kNow);
  p = w.plan();
  EXPECT_FALSE(deletesVm(p));
  EXPECT_EQ(released(p), std::vector<std::string>{"web-1-data"});
}

TEST(InstancePlan, TerminatedStaysForTheRetentionEvenAfterALongShutdown) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  w.afterWrites(w.plan());  // shutting-down
  w.vm.reset();
  w.vmi.reset();
  w.now = kNow + 10min;  // the VM took long to go
  const Plan p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "terminated");
  EXPECT_FALSE(removesFinalizer(p));
  ASSERT_TRUE(p.requeueAfter);
  EXPECT_GE(*p.requeueAfter, 59s);
}

// ------------------------------------------------------------------ faults found by users

// Whatever the server drops (a schema that prunes the template's metadata)
// is learnt from the apply's answer and never re-applied in a loop, nor
// blamed on an outside edit; a condition names the field.
TEST(InstancePlan, FieldsTheServerDropsAreNotReappliedNorBlamed) {
  World w{instanceOf(launchSpec())};
  w.server = [](json vm) {
    vm["spec"]["template"].erase("metadata");
    return vm;
  };
  w.afterWrites(w.plan());  // created: the server kept no template labels
  w.vmi = runningVmi();
  for (int i = 0; i < 3; ++i) {
    const Plan p = w.plan();
    EXPECT_FALSE(vmApplied(p)) << "re-applied on reconcile " << i;
    for (const auto& r : reasons(p)) EXPECT_NE(r, "VirtualMachineRestored");
    w.afterWrites(p);
  }
  bool named = false;
  const json status = w.inst.toJson()["status"];
  for (const auto& c : status["conditions"])
    if (c["type"] == "VirtualMachineSynced") {
      EXPECT_EQ(c["status"], "False");
      EXPECT_EQ(c["reason"], "FieldsNotKept");
      named = c["message"].get<std::string>().find("spec.template.metadata") != std::string::npos;
    }
  EXPECT_TRUE(named) << status.dump();
  // After a restart (no record), the VM is applied once, silently, to learn it again.
  w.vmRecord.reset();
  Plan p = w.plan();
  EXPECT_TRUE(vmApplied(p));
  EXPECT_TRUE(reasons(p).empty()) << reasons(p)[0];
  w.afterWrites(p);
  EXPECT_FALSE(vmApplied(w.plan()));
}

// An object nobody has written since the operator's own apply is in force,
// whatever the comparison says (a value the server normalised).
TEST(InstancePlan, AVmUnchangedSinceOurApplyIsInForce) {
  World w{instanceOf(launchSpec())};
  w.server = [](json vm) {
    vm["spec"]["template"]["spec"]["domain"]["memory"]["guest"] = "1Gi";  // was 1024Mi
    return vm;
  };
  w.afterWrites(w.plan());
  w.vmRecord->notKept.clear();  // as if the comparison could not tell
  EXPECT_FALSE(vmApplied(w.plan()));
}

TEST(InstancePlan, AnOutsideEditIsRestoredAndItsAuthorAsked) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  (*w.vm)["spec"]["runStrategy"] = "Halted";
  (*w.vm)["metadata"]["resourceVersion"] = "999";  // written by somebody else
  const Plan p = w.plan();
  ASSERT_TRUE(vmApplied(p));
  const RecordEvent* e = p.first<RecordEvent>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->reason, "VirtualMachineRestored");
  EXPECT_NE(e->message.find("spec.runStrategy"), std::string::npos) << e->message;
  ASSERT_TRUE(e->changedBy);
  EXPECT_EQ(e->changedBy->pointers, std::vector<std::string>{"/spec/runStrategy"});
  // The Event comes before the apply, so the author is read before it is overwritten.
  EXPECT_TRUE(std::holds_alternative<RecordEvent>(p.actions.front()));
}

TEST(InstancePlan, AVmDeletedByHandIsCreatedAgainAndSaysSo) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.vm.reset();
  w.vmi.reset();
  const Plan p = w.plan();
  EXPECT_TRUE(vmApplied(p));
  EXPECT_EQ(reasons(p).front(), "VirtualMachineRestored");
}

// The root volume of an http image is deleted with the instance by
// default, also without spec.volumes: the instance waits for its claim.
TEST(InstancePlan, TheDefaultRootVolumeIsWaitedForWithoutSpecVolumes) {
  World w{instanceOf(
      {{"image", {{"http", "https://example.com/disk.qcow2"}}}, {"instanceType", "t3.micro"}})};
  w.afterWrites(w.plan());
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  w.vm.reset();
  w.claims = {"web-1-root"};
  Plan p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "shutting-down");
  EXPECT_TRUE(p.requeueAfter);
  w.claims.clear();
  p = w.plan();
  EXPECT_EQ((*statusOf(p))["state"], "terminated");
}

json withSpec(const v1::Instance& inst, const std::function<void(json&)>& edit) {
  json j = inst.toJson();
  edit(j["spec"]);
  return j;
}

const json* cloudInitOf(const json& vm) {
  for (const auto& v : vm["spec"]["template"]["spec"]["volumes"])
    if (v["name"] == "cloudinit") return &v;
  return nullptr;
}

// Launch-time fields (instance type, user data, volumes) changed while the
// instance runs wait for its next start; status and a condition say so,
// and the next start uses them.
TEST(InstancePlan, UserDataAndTypeChangesTakeEffectAtTheNextStart) {
  json spec = launchSpec("t3.micro");
  spec["userData"] = {{"inline", "#!/bin/sh\necho one\n"}};
  World w{instanceOf(spec)};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.inst = v1::Instance::fromJson(withSpec(w.inst, [](json& s) {
    s["userData"]["inline"] = "#!/bin/sh\necho two\n";
    s["instanceType"] = "m5.large";
  }));
  Plan p = w.plan();
  EXPECT_FALSE(vmApplied(p)) << "a running VM keeps what it started with: " << vmApplied(p)->dump();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["instanceType"]["name"], "t3.micro") << "status shows the type in force";
  const json running = *statusOf(p);
  bool waiting = false;
  for (const auto& c : running["conditions"])
    if (c["type"] == "UpToDate") {
      waiting = c["status"] == "False";
      EXPECT_NE(c["message"].get<std::string>().find("instanceType, userData"), std::string::npos)
          << c["message"];
    }
  EXPECT_TRUE(waiting) << running.dump();
  w.afterWrites(p);

  // Stopped: the VM gets what the next start uses.
  w.inst = v1::Instance::fromJson(withSpec(w.inst, [](json& s) { s["desiredState"] = "stopped"; }));
  w.vmi.reset();
  p = w.plan();
  ASSERT_TRUE(vmApplied(p));
  const json vm = *vmApplied(p);
  const json* ci = cloudInitOf(vm);
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ((*ci)["cloudInitNoCloud"]["userData"], "#!/bin/sh\necho two\n");
  EXPECT_EQ(vm["spec"]["template"]["spec"]["domain"]["cpu"]["cores"], 2);
  const json stopped = *statusOf(p);
  EXPECT_EQ(stopped["instanceType"]["name"], "m5.large");
  for (const auto& c : stopped["conditions"]) EXPECT_NE(c["type"], "UpToDate");
}

// User data from a Secret stays in Secrets: an operator-owned Secret holds
// the rendered document and the VM refers to it.
TEST(InstancePlan, SecretUserDataGoesIntoAnOperatorOwnedSecret) {
  json spec = launchSpec();
  spec["userData"] = {{"secretRef", {{"name", "boot"}}}};
  World w{instanceOf(spec)};
  w.secrets["boot"] =
      std::map<std::string, std::string>{{"userdata", "#!/bin/sh\nTOKEN=hunter2\n"}};
  const Plan p = w.plan();

  const ApplyObject* secret = p.applyOf("Secret", "web-1-cloud-init");
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(kube::base64Decode(secret->object["data"]["userdata"].get<std::string>()),
            "#!/bin/sh\nTOKEN=hunter2\n");
  EXPECT_EQ(secret->object["metadata"]["ownerReferences"][0]["uid"], "uid-web-1");
  ASSERT_TRUE(vmApplied(p));
  const json vm = *vmApplied(p);
  EXPECT_EQ(vm.dump().find("hunter2"), std::string::npos);
  const json* ci = cloudInitOf(vm);
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ((*ci)["cloudInitNoCloud"], (json{{"secretRef", {{"name", "web-1-cloud-init"}}}}));
  // The Secret is written before the VM that needs it.
  auto position = [&](const std::string& kind) {
    for (std::size_t i = 0; i < p.actions.size(); ++i)
      if (const auto* a = std::get_if<ApplyObject>(&p.actions[i]); a && a->object["kind"] == kind)
        return i;
    return p.actions.size();
  };
  EXPECT_LT(position("Secret"), position("VirtualMachine"));
  for (const auto* e : p.all<RecordEvent>())
    EXPECT_EQ(e->message.find("hunter2"), std::string::npos);
}

// KubeVirt refuses inline user data over 2048 bytes: a longer document of
// inline user data goes through the operator's Secret too; a short one
// stays in the VM.
TEST(InstancePlan, InlineUserDataOverKubeVirtsInlineLimitGoesThroughTheSecret) {
  for (const std::size_t size : {std::size_t{2048}, std::size_t{2049}}) {
    json spec = launchSpec();
    spec["userData"] = {{"inline", "#!/bin/sh\n" + std::string(size - 10, '#')}};
    World w{instanceOf(spec)};
    const Plan p = w.plan();
    ASSERT_TRUE(vmApplied(p));
    const json vm = *vmApplied(p);
    const json* ci = cloudInitOf(vm);
    ASSERT_NE(ci, nullptr);
    if (size <= 2048) {
      EXPECT_EQ((*ci)["cloudInitNoCloud"]["userData"].get<std::string>().size(), size);
      EXPECT_EQ(p.applyOf("Secret", "web-1-cloud-init"), nullptr);
    } else {
      EXPECT_EQ((*ci)["cloudInitNoCloud"], (json{{"secretRef", {{"name", "web-1-cloud-init"}}}}));
      EXPECT_NE(p.applyOf("Secret", "web-1-cloud-init"), nullptr);
    }
  }
}

// User data from a Secret is held to EC2's 16 KiB as inline data is (by the
// schema): a longer value stops the start with a reason naming it.
TEST(InstancePlan, SecretUserDataOverTheLimitStopsTheStart) {
  json spec = launchSpec();
  spec["userData"] = {{"secretRef", {{"name", "boot"}, {"key", "userdata"}}}};
  World w{instanceOf(spec)};
  w.secrets["boot"] =
      std::map<std::string, std::string>{{"userdata", "#!/bin/sh\n" + std::string(16400, '#')}};
  const Plan p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "UserDataTooLarge");
  EXPECT_NE((*statusOf(p))["conditions"][0]["message"].get<std::string>().find("16410 bytes"),
            std::string::npos);
}

// A problem with what the next start would use (here an instance type the
// catalog does not know) waits for that start: the running instance stays
// as it is, Ready and all, and says so in UpToDate and a Warning.
TEST(InstancePlan, AProblemForTheNextStartLeavesARunningInstanceAlone) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.inst =
      v1::Instance::fromJson(withSpec(w.inst, [](json& s) { s["instanceType"] = "m5.gigantic"; }));
  Plan p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  ASSERT_TRUE(statusOf(p));
  const json s = *statusOf(p);
  EXPECT_EQ(s["state"], "running");
  EXPECT_EQ(readyReason(s), "Running");
  bool upToDate = false;
  for (const auto& c : s["conditions"])
    if (c["type"] == "UpToDate") {
      upToDate = true;
      EXPECT_EQ(c["reason"], "InstanceTypeNotFound");
    }
  EXPECT_TRUE(upToDate) << s.dump();
  EXPECT_EQ(reasons(p), std::vector<std::string>{"!InstanceTypeNotFound"});
  w.afterWrites(p);
  EXPECT_TRUE(reasons(w.plan()).empty()) << "the Warning once";
  // Drift is still restored meanwhile.
  (*w.vm)["spec"]["runStrategy"] = "Halted";
  (*w.vm)["metadata"]["resourceVersion"] = "900";
  p = w.plan();
  ASSERT_TRUE(vmApplied(p));
  EXPECT_EQ((*vmApplied(p))["spec"]["runStrategy"], "Always");
}

// After the operator restores a VM, the cache may still show the edited
// one for a moment: that is not a second outside change.
TEST(InstancePlan, ACacheBehindTheRestoreIsNotASecondChange) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  (*w.vm)["spec"]["runStrategy"] = "Halted";
  (*w.vm)["metadata"]["resourceVersion"] = "500";
  const json edited = *w.vm;
  const Plan restore = w.plan();
  ASSERT_TRUE(vmApplied(restore));
  w.afterWrites(restore);
  w.vm = edited;  // the informer has not delivered the restore yet
  const Plan again = w.plan();
  EXPECT_FALSE(vmApplied(again));
  EXPECT_TRUE(reasons(again).empty()) << reasons(again)[0];
}

// What a running instance runs with is read from its VMI (KubeVirt copies
// the template's annotations to it), not from the VM, which may already
// hold what the next start uses.
TEST(InstancePlan, TheInputsInForceComeFromTheVmi) {
  World w{instanceOf(launchSpec("t3.micro"))};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  (*w.vmi)["metadata"]["annotations"] = (*w.vm)["spec"]["template"]["metadata"]["annotations"];
  w.afterWrites(w.plan());
  // The VM got the next start's inputs (m5.large) while the VMI was gone
  // for a moment, but KubeVirt had restarted it from the old template.
  w.inst =
      v1::Instance::fromJson(withSpec(w.inst, [](json& s) { s["instanceType"] = "m5.large"; }));
  const Plan p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["instanceType"]["name"], "t3.micro");
}

// A Secret of the cloud-init Secret's name that is not this Instance's is
// never taken over (nor deleted): the launch waits, and says why.
TEST(InstancePlan, SomeoneElsesSecretOfTheCloudInitNameIsLeftAlone) {
  json spec = launchSpec();
  spec["userData"] = {{"secretRef", {{"name", "boot"}}}};
  World w{instanceOf(spec)};
  w.secrets["boot"] = std::map<std::string, std::string>{{"userdata", "#!/bin/sh\n"}};
  w.cloudInitSecret = json{{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata", {{"name", "web-1-cloud-init"}, {"uid", "theirs"}}},
                           {"data", {{"userdata", "b3duZWQ="}}}};
  const Plan p = w.plan();
  EXPECT_FALSE(p.applyOf("Secret", "web-1-cloud-init"));
  EXPECT_FALSE(vmApplied(p));
  EXPECT_TRUE(p.all<DeleteObject>().empty());
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "CloudInitSecretConflict");
}

// A start without Secret inputs deletes this Instance's old cloud-init
// Secret, guarded by its uid; one deleted by hand before a start is
// written again.
TEST(InstancePlan, TheCloudInitSecretFollowsTheStarts) {
  json spec = launchSpec();
  spec["userData"] = {{"secretRef", {{"name", "boot"}}}};
  World w{instanceOf(spec)};
  w.secrets["boot"] = std::map<std::string, std::string>{{"userdata", "#!/bin/sh\n"}};
  w.afterWrites(w.plan());
  ASSERT_TRUE(w.cloudInitSecret);
  (*w.cloudInitSecret)["metadata"]["ownerReferences"] =
      json::array({{{"uid", "uid-web-1"}, {"controller", true}}});
  // Deleted by hand while stopped: the next start writes it again.
  w.cloudInitSecret.reset();
  Plan p = w.plan();
  EXPECT_TRUE(p.applyOf("Secret", "web-1-cloud-init"));
  w.afterWrites(p);
  (*w.cloudInitSecret)["metadata"]["ownerReferences"] =
      json::array({{{"uid", "uid-web-1"}, {"controller", true}}});
  // Switched to inline user data: at the next start the Secret goes.
  w.inst = v1::Instance::fromJson(withSpec(w.inst, [](json& s) {
    s["userData"] = {{"inline", "#!/bin/sh\necho hi\n"}};
  }));
  p = w.plan();
  const auto deletes = p.all<DeleteObject>();
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0]->name, "web-1-cloud-init");
  EXPECT_EQ(deletes[0]->uid, "uid-secret");
}

// Termination waits for the claims the last start made to go with the
// instance, and keeps the others, whatever the spec (or a template gone
// meanwhile) says by the time it is deleted.
TEST(InstancePlan, TerminationFollowsTheVolumesOfTheLastStart) {
  json spec = {{"image", {{"http", "https://example.com/disk.qcow2"}}},
               {"instanceType", "t3.micro"},
               {"volumes", {{"root", {{"deleteOnTermination", false}}}}}};
  World w{instanceOf(spec)};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  ASSERT_TRUE(w.inst.status && w.inst.status->volumes);
  EXPECT_FALSE(w.inst.status->volumes->front().deleteOnTermination);
  // While it runs, the user drops spec.volumes (the default would delete the root).
  w.inst = v1::Instance::fromJson(withSpec(w.inst, [](json& s) { s.erase("volumes"); }));
  w.afterWrites(w.plan());
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  Plan p = w.plan();
  EXPECT_EQ(released(p), std::vector<std::string>{"web-1-root"});
  w.vm.reset();
  w.vmi.reset();
  w.claims = {"web-1-root"};  // kept: it stays, and termination does not wait for it
  p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "terminated");
}

TEST(InstancePlan, TerminationWaitsForTheRootEvenWhenItsTemplateIsGone) {
  World w{instanceOf({{"launchTemplateRef", {{"name", "web"}}}})};
  w.templ = templateOf(
      {{{"image", {{"http", "https://example.com/disk.qcow2"}}}, {"instanceType", "t3.micro"}}});
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.templ.reset();
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  w.vm.reset();
  w.vmi.reset();
  w.claims = {"web-1-root"};
  const Plan p = w.plan();
  ASSERT_TRUE(statusOf(p));
  EXPECT_EQ((*statusOf(p))["state"], "shutting-down");
}

TEST(ContainedIn, ObjectsAreSubsetsArraysAreElementWise) {
  EXPECT_TRUE(containedIn(json::parse(R"({"a":1})"), json::parse(R"({"a":1,"b":2})")));
  EXPECT_FALSE(containedIn(json::parse(R"({"a":1,"b":2})"), json::parse(R"({"a":1})")));
  EXPECT_TRUE(containedIn(json::parse(R"([{"a":1}])"), json::parse(R"([{"a":1,"x":0}])")));
  EXPECT_FALSE(containedIn(json::parse(R"([{"a":1}])"), json::parse(R"([{"a":1},{"a":2}])")));
  EXPECT_FALSE(containedIn(json::parse(R"({"a":"1"})"), json::parse(R"({"a":1})")));
  EXPECT_TRUE(containedIn(json::parse(R"({"a":2})"), json::parse(R"({"a":2.0})")));
  // The API server drops empty lists and maps.
  EXPECT_TRUE(containedIn(json::parse(R"({"ingress":[],"m":{}})"), json::parse(R"({})")));
}

json snapshotOf(const std::string& state, std::vector<std::string> volumes) {
  json copies = json::array();
  for (const auto& v : volumes)
    copies.push_back(
        {{"name", v}, {"claimName", "db-1-" + v}, {"volumeSnapshotName", "golden." + v}});
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Snapshot"},
          {"metadata", {{"name", "golden"}, {"namespace", "shop"}}},
          {"spec", {{"instanceRef", {{"name", "db-1"}}}}},
          {"status", {{"state", state}, {"volumes", copies}}}};
}

json restoringSpec() {
  return {{"image", {{"snapshot", {{"name", "golden"}}}}},
          {"instanceType", "t3.micro"},
          {"volumes",
           {{"extra", json::array({{{"name", "data"}, {"fromSnapshot", {{"name", "golden"}}}},
                                   {{"name", "logs"}, {"sizeGiB", 5}}})}}}};
}

// An AMI backed by a snapshot, and an EBS volume from a snapshot: CDI
// restores each DataVolume from the Snapshot's VolumeSnapshot.
TEST(InstancePlan, VolumesFromASnapshotRestoreItsVolumeSnapshots) {
  World w{instanceOf(restoringSpec())};
  w.snapshots["golden"] = snapshotOf("completed", {"root", "data"});
  const Plan p = w.plan();
  EXPECT_EQ(w.snapshotsRead, std::vector<std::string>{"golden"});
  ASSERT_TRUE(vmApplied(p));
  const json templates = (*vmApplied(p))["spec"]["dataVolumeTemplates"];
  ASSERT_EQ(templates.size(), 3u);
  EXPECT_EQ(templates[0]["metadata"]["name"], "web-1-root");
  EXPECT_EQ(templates[0]["spec"]["source"],
            json({{"snapshot", {{"namespace", "shop"}, {"name", "golden.root"}}}}));
  // No size asked: CDI sizes a restore from the copy.
  EXPECT_FALSE(templates[0]["spec"]["storage"].contains("resources"));
  EXPECT_EQ(templates[1]["spec"]["source"],
            json({{"snapshot", {{"namespace", "shop"}, {"name", "golden.data"}}}}));
  EXPECT_EQ(templates[2]["spec"]["source"], json({{"blank", json::object()}}));
}

TEST(InstancePlan, ALaunchWaitsForItsSnapshotAndSaysWhy) {
  World w{instanceOf(restoringSpec())};
  Plan p = w.plan();  // no such Snapshot
  EXPECT_FALSE(vmApplied(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "SnapshotNotFound");
  EXPECT_EQ(reasons(p).back(), "!SnapshotNotFound");
  EXPECT_EQ((*statusOf(p))["state"], "pending");
  EXPECT_TRUE(p.requeueAfter.has_value());
  w.afterWrites(p);

  w.snapshots["golden"] = snapshotOf("pending", {"root", "data"});
  p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "SnapshotNotReady");
  EXPECT_EQ(reasons(p).back(), "SnapshotNotReady");  // a Normal Event: a wait, not a fault
  w.afterWrites(p);

  w.snapshots["golden"] = snapshotOf("completed", {"root"});  // copied no data volume
  p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "SnapshotNotFound");
  for (const auto& c : (*statusOf(p))["conditions"])
    if (c["type"] == "Ready") {
      EXPECT_EQ(c["message"],
                "volume data restores volume data of Snapshot golden, which copied root");
    }
  w.afterWrites(p);

  w.snapshots["golden"] = snapshotOf("error", {});
  p = w.plan();
  EXPECT_EQ(readyReason(*statusOf(p)), "SnapshotFailed");
  w.afterWrites(p);

  json going = snapshotOf("completed", {"root", "data"});
  going["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z";
  w.snapshots["golden"] = going;
  p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "SnapshotNotFound");

  w.snapshots["golden"] = snapshotOf("completed", {"root", "data"});
  EXPECT_TRUE(vmApplied(w.plan()));
}

// Once a start has made the volumes, they hold the data: the Snapshot is
// not needed again (it may be deleted), so it is not read.
TEST(InstancePlan, AVolumeMadeByAnEarlierStartNoLongerNeedsItsSnapshot) {
  World w{instanceOf(restoringSpec())};
  w.snapshots["golden"] = snapshotOf("completed", {"root", "data"});
  const Plan first = w.plan();
  ASSERT_TRUE(vmApplied(first));
  w.afterWrites(first);
  w.afterWrites(w.plan());  // the VM seen: status.volumes records the volumes made
  ASSERT_TRUE(w.inst.status && w.inst.status->volumes);
  w.snapshots.clear();  // the Snapshot deleted; the instance is still starting
  const Plan again = w.plan();
  EXPECT_TRUE(w.snapshotsRead.empty());
  for (const auto& r : reasons(again)) EXPECT_EQ(r.find("Snapshot"), std::string::npos) << r;
  if (const auto st = statusOf(again)) {
    EXPECT_NE(readyReason(*st), "SnapshotNotFound");
  }
}

// Copies KubeVirt's VirtualMachineSnapshot cut carry KubeVirt's names: the
// VM restores the names the Snapshot recorded, and keeps them once the
// Snapshot is no longer read (no VM update between starts).
TEST(InstancePlan, CopiesNamedByKubeVirtAreRestoredByTheirRecordedNames) {
  World w{instanceOf(restoringSpec())};
  json snap = snapshotOf("completed", {"root", "data"});
  snap["status"]["volumes"][0]["volumeSnapshotName"] = "vmsnapshot-u1-volume-root";
  snap["status"]["volumes"][1]["volumeSnapshotName"] = "vmsnapshot-u1-volume-data";
  w.snapshots["golden"] = snap;
  const Plan first = w.plan();
  ASSERT_TRUE(vmApplied(first));
  const json templates = (*vmApplied(first))["spec"]["dataVolumeTemplates"];
  EXPECT_EQ(templates[0]["spec"]["source"]["snapshot"]["name"], "vmsnapshot-u1-volume-root");
  EXPECT_EQ(templates[1]["spec"]["source"]["snapshot"]["name"], "vmsnapshot-u1-volume-data");
  w.afterWrites(first);
  w.afterWrites(w.plan());
  w.snapshots.clear();
  const Plan again = w.plan();
  EXPECT_TRUE(w.snapshotsRead.empty());
  EXPECT_FALSE(vmApplied(again));
}

// A volume removed and added back under its name, now from a Snapshot: the
// DataVolume kept from the earlier one would be attached instead of the
// restore, so the launch holds and says what to do.
TEST(InstancePlan, ADataVolumeLeftFromAnEarlierVolumeHoldsTheRestore) {
  World w{instanceOf(restoringSpec())};
  w.snapshots["golden"] = snapshotOf("completed", {"root", "data"});
  w.dataVolumes["web-1-data"] = {{"metadata", {{"name", "web-1-data"}}},
                                 {"spec", {{"source", {{"blank", json::object()}}}}}};
  Plan p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "VolumeExists");
  EXPECT_EQ(reasons(p).back(), "!VolumeExists");

  // One this restore made (its answer lost before status said so): fine.
  w.dataVolumes["web-1-data"]["spec"]["source"] = {{"snapshot", {{"name", "golden.data"}}}};
  EXPECT_TRUE(vmApplied(w.plan()));
}

// EC2 refuses a volume smaller than its snapshot; so do CSI drivers: the
// launch says so rather than hang in provisioning.
TEST(InstancePlan, AVolumeSmallerThanItsCopyHoldsTheLaunch) {
  json spec = restoringSpec();
  spec["volumes"]["root"] = {{"sizeGiB", 5}};
  World w{instanceOf(spec)};
  json snap = snapshotOf("completed", {"root", "data"});
  snap["status"]["volumes"][0]["restoreSize"] = "12Gi";
  snap["status"]["volumes"][1]["restoreSize"] = "7516192768";  // 7Gi, as bytes
  w.snapshots["golden"] = snap;
  Plan p = w.plan();
  EXPECT_FALSE(vmApplied(p));
  EXPECT_EQ(readyReason(*statusOf(p)), "VolumeSmallerThanSnapshot");
  for (const auto& c : (*statusOf(p))["conditions"])
    if (c["type"] == "Ready") {
      EXPECT_EQ(c["message"],
                "volume root asks for 5 GiB, less than its copy in Snapshot golden (12Gi): set "
                "its sizeGiB at least that large");
    }

  spec["volumes"]["root"] = {{"sizeGiB", 12}};
  spec["volumes"]["extra"][0]["sizeGiB"] = 7;
  World ok{instanceOf(spec)};
  ok.snapshots["golden"] = snap;
  EXPECT_TRUE(vmApplied(ok.plan()));
}

}  // namespace
}  // namespace kubec2::reconcilers
