// The Instance reconciler's decisions (reconcilers/instance/plan.h), path by
// path: what it writes for a new Instance, in steady state, on drift, on
// each missing reference, and while terminating.
#include <gtest/gtest.h>

#include "reconcilers/instance/plan.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const auto kNow = std::chrono::system_clock::from_time_t(1800000000);

v1::Instance instanceOf(json spec, json extraMeta = json::object()) {
  json meta = {{"name", "web-1"}, {"namespace", "shop"}, {"uid", "uid-web-1"}, {"generation", 3}};
  meta["finalizers"] = json::array({kInstanceFinalizer});
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

struct World {
  explicit World(v1::Instance i) : inst(std::move(i)) {}
  v1::Instance inst;
  std::optional<v1::LaunchTemplate> templ;
  std::optional<json> vm, vmi, policy;
  bool kubevirt = true;
  std::string secretProblem;
  std::chrono::system_clock::time_point now = kNow;

  InstancePlan plan() const {
    InstanceObservation o;
    o.instance = &inst;
    o.launchTemplate = templ ? &*templ : nullptr;
    o.catalog = &InstanceTypeCatalog::builtIn();
    o.kubevirtInstalled = kubevirt;
    o.vm = vm ? &*vm : nullptr;
    o.vmi = vmi ? &*vmi : nullptr;
    o.networkPolicy = policy ? &*policy : nullptr;
    o.nodeZone = "us-east-1a";
    o.secretProblem = secretProblem;
    o.now = now;
    o.terminatedRetention = 60s;
    return planInstance(o);
  }
  // What the API server would hold after the plan's writes.
  void afterWrites(const InstancePlan& p) {
    if (p.applyVm) vm = *p.applyVm;
    if (p.status) {
      json j = inst.toJson();
      j["status"] = *p.status;
      inst = v1::Instance::fromJson(j);
    }
    if (p.addFinalizer) inst.metadata.finalizers.push_back(kInstanceFinalizer);
  }
};

std::vector<std::string> reasons(const InstancePlan& p) {
  std::vector<std::string> out;
  for (const auto& e : p.events) out.push_back((e.warning ? "!" : "") + e.reason);
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
  const InstancePlan p = w.plan();
  EXPECT_TRUE(p.addFinalizer);
  ASSERT_TRUE(p.applyVm);
  EXPECT_EQ((*p.applyVm)["metadata"]["name"], "web-1");
  EXPECT_EQ((*p.applyVm)["spec"]["runStrategy"], "Always");
  // Status waits for the VM's watch event: one write fewer per launch.
  EXPECT_FALSE(p.status);
  EXPECT_TRUE(p.events.empty());
  EXPECT_FALSE(p.requeueAfter);

  w.afterWrites(p);
  const std::string created = kube::formatRfc3339(kNow);
  (*w.vm)["metadata"]["creationTimestamp"] = created;
  // Within 2 s of the VM's creation a boot may still make it running at once.
  const InstancePlan early = w.plan();
  EXPECT_FALSE(early.status);
  ASSERT_TRUE(early.requeueAfter);
  EXPECT_GE(*early.requeueAfter, 2s);
  EXPECT_LE(*early.requeueAfter, 2s + 1ms);
  w.now = kNow + 2s;
  const InstancePlan seen = w.plan();
  EXPECT_FALSE(seen.applyVm);
  ASSERT_TRUE(seen.status);
  EXPECT_EQ((*seen.status)["state"], "pending");
  EXPECT_EQ((*seen.status)["launchTemplateVersion"], 1);
  EXPECT_EQ((*seen.status)["instanceType"],
            json({{"name", "m5.large"}, {"vCPU", 2}, {"memoryMiB", 8192}}));
  EXPECT_EQ((*seen.status)["launchTime"], created);
  EXPECT_EQ((*seen.status)["observedGeneration"], 3);
  EXPECT_EQ(readyReason(*seen.status), "Pending");
  EXPECT_EQ(reasons(seen), std::vector<std::string>{"Pending"});
}

TEST(InstancePlan, AFastBootGoesStraightToRunningInOneStatusWrite) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  const InstancePlan p = w.plan();
  ASSERT_TRUE(p.status);
  EXPECT_EQ((*p.status)["state"], "running");
  EXPECT_EQ(reasons(p), std::vector<std::string>{"Running"});
}

TEST(InstancePlan, StepsOfAStartWriteNoStatus) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.afterWrites(w.plan());  // pending
  (*w.vm)["status"] = {{"printableStatus", "Starting"}};
  w.vmi = json{{"status", {{"phase", "Scheduling"}}}};
  EXPECT_FALSE(w.plan().status);
  (*w.vmi)["status"]["phase"] = "Scheduled";
  EXPECT_FALSE(w.plan().status);
}

TEST(InstancePlan, RunningIsReportedOnceAndThenNothingIsWritten) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());  // VM written
  w.afterWrites(w.plan());  // pending
  w.vmi = runningVmi();
  const InstancePlan running = w.plan();
  EXPECT_FALSE(running.applyVm) << running.applyVm->dump();
  ASSERT_TRUE(running.status);
  EXPECT_EQ((*running.status)["state"], "running");
  EXPECT_EQ((*running.status)["privateIP"], "127.1.0.7");
  EXPECT_EQ((*running.status)["nodeName"], "node-a");
  EXPECT_EQ((*running.status)["zone"], "us-east-1a");
  EXPECT_EQ(readyReason(*running.status), "Running");
  EXPECT_EQ(reasons(running), std::vector<std::string>{"Running"});

  w.afterWrites(running);
  w.now += 10min;  // time passing alone changes nothing
  const InstancePlan steady = w.plan();
  EXPECT_FALSE(steady.applyVm);
  EXPECT_FALSE(steady.status) << steady.status->dump();
  EXPECT_TRUE(steady.events.empty());
  EXPECT_FALSE(steady.addFinalizer);
}

TEST(InstancePlan, AVmStoppedOutsideKubec2IsRestored) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.afterWrites(w.plan());
  (*w.vm)["spec"]["runStrategy"] = "Halted";
  (*w.vm)["status"] = {{"printableStatus", "Stopped"}};  // KubeVirt's fields are not compared
  const InstancePlan p = w.plan();
  ASSERT_TRUE(p.applyVm);
  EXPECT_EQ((*p.applyVm)["spec"]["runStrategy"], "Always");
  EXPECT_EQ(reasons(p), std::vector<std::string>{"VirtualMachineRestored"});
}

TEST(InstancePlan, FieldsOthersAddToTheVmAreLeftAlone) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  (*w.vm)["metadata"]["annotations"]["kubevirt.io/latest-observed-api-version"] = "v1";
  (*w.vm)["metadata"]["labels"]["owner-team"] = "payments";
  (*w.vm)["metadata"]["resourceVersion"] = "42";
  EXPECT_FALSE(w.plan().applyVm);
}

TEST(InstancePlan, StoppingThenStopped) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  json stopped = w.inst.toJson();
  stopped["spec"]["desiredState"] = "stopped";
  w.inst = v1::Instance::fromJson(stopped);
  InstancePlan p = w.plan();
  ASSERT_TRUE(p.applyVm);
  EXPECT_EQ((*p.applyVm)["spec"]["runStrategy"], "Halted");
  w.afterWrites(p);
  EXPECT_EQ(w.inst.status->state, "stopping");
  w.vmi.reset();
  p = w.plan();
  ASSERT_TRUE(p.status);
  EXPECT_EQ((*p.status)["state"], "stopped");
  EXPECT_EQ((*p.status)["stateReason"]["code"], "Client.UserInitiatedShutdown");
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
  const InstancePlan p = w.plan();
  EXPECT_FALSE(p.applyVm);
  ASSERT_TRUE(p.status);
  EXPECT_EQ((*p.status)["state"], "pending");
  EXPECT_EQ(readyReason(*p.status), GetParam().reason);
  EXPECT_NE((*p.status)["conditions"][0]["message"].get<std::string>().find(GetParam().words),
            std::string::npos)
      << (*p.status)["conditions"][0]["message"];
  EXPECT_TRUE(p.requeueAfter || p.retryWithBackoff);
  ASSERT_FALSE(p.events.empty());
  EXPECT_TRUE(p.events.back().warning);
  EXPECT_EQ(p.events.back().reason, GetParam().reason);
  // The same problem again: no second Event, no status write.
  w.afterWrites(p);
  const InstancePlan again = w.plan();
  EXPECT_TRUE(again.events.empty()) << again.events[0].reason;
  EXPECT_FALSE(again.status);
}

INSTANTIATE_TEST_SUITE_P(
    Plan, InstanceProblems,
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
                [](World& w) { w.secretProblem = "Secret \"k\" (keyPair) not found"; },
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
  InstancePlan p = w.plan();
  EXPECT_FALSE(p.applyVm) << "a new template version must not change a launched instance";
  ASSERT_TRUE(p.status);
  EXPECT_EQ((*p.status)["launchTemplateVersion"], 1);
  w.afterWrites(p);
  p = w.plan();
  EXPECT_FALSE(p.applyVm);
  EXPECT_FALSE(p.status);
}

TEST(InstancePlan, DeletionDeletesTheVmThenTerminatesThenLetsGoAfterTheRetention) {
  World w{instanceOf(launchSpec())};
  w.afterWrites(w.plan());
  w.vmi = runningVmi();
  w.afterWrites(w.plan());
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);

  InstancePlan p = w.plan();
  EXPECT_TRUE(p.deleteVm);
  EXPECT_FALSE(p.removeFinalizer);
  ASSERT_TRUE(p.status);
  EXPECT_EQ((*p.status)["state"], "shutting-down");
  EXPECT_EQ(reasons(p), std::vector<std::string>{"ShuttingDown"});
  w.afterWrites(p);

  (*w.vm)["metadata"]["deletionTimestamp"] = kube::formatRfc3339(kNow);  // being deleted
  p = w.plan();
  EXPECT_FALSE(p.deleteVm) << "not deleted twice";

  w.vm.reset();
  w.vmi.reset();
  p = w.plan();
  ASSERT_TRUE(p.status);
  EXPECT_EQ((*p.status)["state"], "terminated");
  EXPECT_FALSE(p.removeFinalizer);
  ASSERT_TRUE(p.requeueAfter);
  EXPECT_GE(*p.requeueAfter, 59s);
  EXPECT_LE(*p.requeueAfter, 61s);
  w.afterWrites(p);

  w.now += 61s;
  p = w.plan();
  EXPECT_TRUE(p.removeFinalizer);
  EXPECT_FALSE(p.status);
}

TEST(InstancePlan, WithoutTheFinalizerADeletedInstanceIsNotTouched) {
  World w{instanceOf(launchSpec(), {{"finalizers", json::array()}})};
  w.inst.metadata.deletionTimestamp = kube::formatRfc3339(kNow);
  const InstancePlan p = w.plan();
  EXPECT_FALSE(p.applyVm || p.deleteVm || p.status || p.removeFinalizer || p.addFinalizer);
}

TEST(InstancePlan, SecretsAreNeededOnlyToLaunch) {
  json spec = launchSpec();
  spec["keyPair"] = {{"secretName", "deploy-key"}};
  spec["userData"] = {{"secretRef", {{"name", "boot"}}}};
  World w{instanceOf(spec)};
  const LaunchResolution launch = resolveLaunch(w.inst, nullptr);
  ASSERT_TRUE(launch.ok()) << launch.problemMessage;
  const auto needs = secretsNeeded(w.inst, launch, nullptr);
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[0].name, "deploy-key");
  EXPECT_TRUE(needs[0].keyPair);
  EXPECT_EQ(needs[1].name, "boot");
  EXPECT_EQ(needs[1].key, "userdata");
  // Once the VM carries its cloud-init, nothing is read again.
  const json vm = {{"spec",
                    {{"template",
                      {{"spec",
                        {{"volumes",
                          {{{"name", "cloudinit"},
                            {"cloudInitNoCloud", {{"userData", "#cloud-config\n"}}}}}}}}}}}}};
  EXPECT_TRUE(secretsNeeded(w.inst, launch, &vm).empty());
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
  const InstancePlan p = w.plan();
  EXPECT_TRUE(p.deleteVm);
  // The root goes with the instance (EC2's default); data is kept; scratch goes.
  EXPECT_EQ(p.keepVolumes, std::vector<std::string>{"web-1-data"});
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
  const InstancePlan p = w.plan();
  ASSERT_TRUE(p.applyVm);
  EXPECT_FALSE((*p.applyVm)["metadata"]["labels"].contains("team"));
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
  InstancePlan p = w.plan();
  EXPECT_TRUE(p.deleteVm);
  EXPECT_EQ(p.keepVolumes, std::vector<std::string>{"web-1-data"});
  // A foreground delete: the VM is already going; still released.
  (*w.vm)["metadata"]["deletionTimestamp"] = kube::formatRfc3339(kNow);
  p = w.plan();
  EXPECT_FALSE(p.deleteVm);
  EXPECT_EQ(p.keepVolumes, std::vector<std::string>{"web-1-data"});
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
  const InstancePlan p = w.plan();
  ASSERT_TRUE(p.status);
  EXPECT_EQ((*p.status)["state"], "terminated");
  EXPECT_FALSE(p.removeFinalizer);
  ASSERT_TRUE(p.requeueAfter);
  EXPECT_GE(*p.requeueAfter, 59s);
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

}  // namespace
}  // namespace kubec2::reconcilers
