// A Snapshot's reconcile, table-tested: the VolumeSnapshots it asks for
// (once, recorded before they are created), its states as the copies are
// cut, lost or refused, and the conditions and Events a user reads.
#include "reconcilers/snapshot/plan.h"

#include <gtest/gtest.h>

#include "api/resources.h"
#include "api/well_known.h"
#include "runtime/timefmt.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace snap = kubec2::reconcilers::snapshot;
namespace rec = kubec2::reconcilers;
namespace v1 = kubec2::api::v1alpha1;

const snap::Time t0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30} + 10h;

json instanceJson() {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", "db-1"}, {"namespace", "shop"}, {"uid", "inst-uid"}}},
          {"spec", {{"instanceType", "t3.micro"}}},
          {"status",
           {{"state", "running"},
            {"launchTime", "2026-11-30T09:00:00Z"},
            {"volumes",
             {{{"name", "root"}, {"claimName", "db-1-root"}, {"deleteOnTermination", true}},
              {{"name", "data"}, {"claimName", "db-1-data"}, {"deleteOnTermination", false}}}}}}};
}

json snapshotJson() {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Snapshot"},
          {"metadata",
           {{"name", "nightly"}, {"namespace", "shop"}, {"uid", "snap-uid"}, {"generation", 1}}},
          {"spec", {{"instanceRef", {{"name", "db-1"}}}}}};
}

json volumeSnapshot(const std::string& name, std::optional<bool> ready,
                    const std::string& error = "") {
  json vs = {{"apiVersion", "snapshot.storage.k8s.io/v1"},
             {"kind", "VolumeSnapshot"},
             {"metadata", {{"name", name}, {"namespace", "shop"}, {"uid", "vs-" + name}}},
             {"spec", {{"source", {{"persistentVolumeClaimName", "x"}}}}}};
  if (ready) vs["status"] = {{"readyToUse", *ready}, {"restoreSize", "10Gi"}};
  if (!error.empty()) vs["status"]["error"] = {{"message", error}};
  return vs;
}

struct World {
  json snapshot = snapshotJson();
  std::optional<json> instance = instanceJson();
  std::map<std::string, json> volumeSnapshots;
  std::set<std::string> namesTaken;
  std::optional<bool> classExists;
  bool served = true;
  bool kubevirtServed = false;
  std::optional<json> vmSnapshot;
  bool vmSnapshotTaken = false;
  std::optional<json> content;

  rec::Plan plan() {
    parsed = v1::Snapshot::fromJson(snapshot);
    if (instance) inst = v1::Instance::fromJson(*instance);
    snap::SnapshotObservation o;
    o.snapshot = &parsed;
    o.instance = instance ? &inst : nullptr;
    o.volumeSnapshots = volumeSnapshots;
    o.namesTaken = namesTaken;
    o.classExists = classExists;
    o.volumeSnapshotsServed = served;
    o.virtualMachineSnapshotsServed = kubevirtServed;
    o.virtualMachineSnapshot = vmSnapshot;
    o.virtualMachineSnapshotNameTaken = vmSnapshotTaken;
    o.virtualMachineSnapshotContent = content;
    o.now = t0;
    return snap::planSnapshot(o);
  }
  json status(const rec::Plan& p) {
    const auto* s = p.first<rec::PatchStatus>();
    return s ? s->status : snapshot.value("status", json::object());
  }
  // What the API server keeps of the plan's writes.
  void settle(const rec::Plan& p) {
    if (const auto* s = p.first<rec::PatchStatus>()) snapshot["status"] = s->status;
  }
  v1::Snapshot parsed;
  v1::Instance inst;
};

json readyCondition(const json& status) {
  for (const auto& c : status.value("conditions", json::array()))
    if (c["type"] == "Ready") return c;
  return nullptr;
}

std::vector<std::string> eventReasons(const rec::Plan& p) {
  std::vector<std::string> out;
  for (const auto* e : p.all<rec::RecordEvent>()) out.push_back(e->reason);
  return out;
}

TEST(SnapshotPlan, RecordsTheCopiesBeforeAskingForAVolumeSnapshotPerVolume) {
  World w;
  const auto p = w.plan();
  ASSERT_EQ(p.actions.size(), 4u);  // status, Started, two creates
  ASSERT_TRUE(std::holds_alternative<rec::PatchStatus>(p.actions[0]));
  const json st = w.status(p);
  EXPECT_EQ(st["state"], "pending");
  EXPECT_EQ(st["instanceUID"], "inst-uid");
  EXPECT_EQ(st["startTime"], "2026-11-30T10:00:00Z");
  ASSERT_EQ(st["volumes"].size(), 2u);
  EXPECT_EQ(
      st["volumes"][0],
      json({{"name", "root"}, {"claimName", "db-1-root"}, {"volumeSnapshotName", "nightly.root"}}));
  EXPECT_EQ(st["volumes"][1]["volumeSnapshotName"], "nightly.data");
  EXPECT_EQ(readyCondition(st)["reason"], "InProgress");
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"Started"});
  EXPECT_EQ(p.all<rec::RecordEvent>()[0]->message, "copying volumes root, data of Instance db-1");

  const auto creates = p.all<rec::CreateObject>();
  ASSERT_EQ(creates.size(), 2u);
  const json& vs = creates[0]->object;
  EXPECT_EQ(creates[0]->resource.resource, "volumesnapshots");
  EXPECT_EQ(vs["metadata"]["name"], "nightly.root");
  EXPECT_EQ(vs["metadata"]["labels"][kubec2::api::kSnapshotLabel], "nightly");
  EXPECT_EQ(vs["metadata"]["labels"][kubec2::api::kManagedByLabel], "kubec2");
  EXPECT_EQ(vs["metadata"]["ownerReferences"][0]["uid"], "snap-uid");
  EXPECT_EQ(vs["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(vs["spec"], json({{"source", {{"persistentVolumeClaimName", "db-1-root"}}}}));
  EXPECT_EQ(creates[1]->object["spec"]["source"]["persistentVolumeClaimName"], "db-1-data");
}

TEST(SnapshotPlan, CopiesOnlyTheVolumesAskedForWithTheClassAskedFor) {
  World w;
  w.snapshot["spec"]["volumes"] = {"data"};
  w.snapshot["spec"]["volumeSnapshotClassName"] = "csi-rbd";
  w.classExists = true;
  const auto p = w.plan();
  const auto creates = p.all<rec::CreateObject>();
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0]->object["metadata"]["name"], "nightly.data");
  EXPECT_EQ(creates[0]->object["spec"]["volumeSnapshotClassName"], "csi-rbd");
  EXPECT_EQ(w.status(p)["volumes"].size(), 1u);
}

TEST(SnapshotPlan, AMissingInstanceEndsInErrorAndCopiesNothing) {
  World w;
  w.instance.reset();
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  const json st = w.status(p);
  EXPECT_EQ(st["state"], "error");
  EXPECT_EQ(readyCondition(st)["reason"], "InstanceNotFound");
  EXPECT_NE(readyCondition(st)["message"].get<std::string>().find(
                "Instance db-1 does not exist in this namespace: nothing was copied"),
            std::string::npos);
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"InstanceNotFound"});
  EXPECT_TRUE(p.all<rec::RecordEvent>()[0]->warning);

  // Final: an Instance of that name appearing later is not copied.
  w.settle(p);
  w.instance = instanceJson();
  const auto again = w.plan();
  EXPECT_TRUE(again.all<rec::CreateObject>().empty());
  EXPECT_TRUE(again.all<rec::RecordEvent>().empty());
  EXPECT_EQ(w.status(again)["state"], "error");
}

TEST(SnapshotPlan, ATerminatingInstanceIsNotCopied) {
  World w;
  (*w.instance)["metadata"]["deletionTimestamp"] = "2026-11-30T09:59:00Z";
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "InstanceTerminating");
  EXPECT_EQ(w.status(p)["state"], "error");
}

TEST(SnapshotPlan, AnInstanceNotLaunchedYetIsWaitedFor) {
  World w;
  (*w.instance)["status"] = {{"state", "pending"}};
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_TRUE(p.all<rec::RecordEvent>().empty());
  EXPECT_EQ(w.status(p)["state"], "pending");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "InstanceLaunching");
  EXPECT_EQ(p.requeueAfter, std::chrono::milliseconds(snap::kRecheckLaunch));

  // Its first start made the volumes: they are copied.
  w.settle(p);
  w.instance = instanceJson();
  EXPECT_EQ(w.plan().all<rec::CreateObject>().size(), 2u);
}

// Its volumes listed but still being imported (the VM made, the instance
// pending): not copied half-written.
TEST(SnapshotPlan, AnInstanceStillLaunchingIsWaitedForEvenWithItsVolumesListed) {
  World w;
  (*w.instance)["status"]["state"] = "pending";
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "InstanceLaunching");
  w.settle(p);
  (*w.instance)["status"]["state"] = "stopped";
  EXPECT_EQ(w.plan().all<rec::CreateObject>().size(), 2u);
}

TEST(SnapshotPlan, AnInstanceWithoutPersistentVolumesEndsInError) {
  World w;
  (*w.instance)["status"].erase("volumes");  // a containerDisk root, no extra volumes
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(w.status(p)["state"], "error");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "NoVolumes");
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"NoVolumes"});
}

TEST(SnapshotPlan, AVolumeTheInstanceDoesNotHaveEndsInErrorNamingWhatItHas) {
  World w;
  w.snapshot["spec"]["volumes"] = {"root", "logs"};
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(w.status(p)["state"], "error");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "VolumeNotFound");
  EXPECT_EQ(readyCondition(w.status(p))["message"],
            "Instance db-1 has no volume logs (it has root, data): nothing was copied");

  // A containerDisk root is no volume: said so.
  World c;
  c.instance->at("status")["volumes"].erase(0);
  c.snapshot["spec"]["volumes"] = {"root"};
  EXPECT_EQ(readyCondition(c.status(c.plan()))["message"],
            "Instance db-1 has no volume root (it has data; its root disk is a containerDisk, "
            "which is ephemeral and not copied): nothing was copied");
}

TEST(SnapshotPlan, AMissingClassKeepsItPendingAndCopiesNothingUntilItExists) {
  World w;
  w.snapshot["spec"]["volumeSnapshotClassName"] = "csi-fast";
  w.classExists = false;
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(w.status(p)["state"], "pending");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "SnapshotClassNotFound");
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"SnapshotClassNotFound"});
  EXPECT_EQ(p.requeueAfter, std::chrono::milliseconds(snap::kRecheck));
  EXPECT_FALSE(w.status(p).contains("volumes"));

  // One Warning, not one per look.
  w.settle(p);
  EXPECT_TRUE(w.plan().all<rec::RecordEvent>().empty());
  w.classExists = true;
  EXPECT_EQ(w.plan().all<rec::CreateObject>().size(), 2u);
}

TEST(SnapshotPlan, ANameAnotherObjectHoldsIsNeverTakenOver) {
  World w;
  w.namesTaken = {"nightly.data"};
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "NameConflict");
  EXPECT_EQ(w.status(p)["state"], "pending");
}

TEST(SnapshotPlan, CompletesWhenEveryCopyIsReadyAndSaysSoOnce) {
  World w;
  w.settle(w.plan());
  w.volumeSnapshots["nightly.root"] = volumeSnapshot("nightly.root", true);
  w.volumeSnapshots["nightly.data"] = volumeSnapshot("nightly.data", false);
  auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(w.status(p)["state"], "pending");
  EXPECT_EQ(readyCondition(w.status(p))["message"],
            "waiting for the copy of volume data to be cut");
  w.settle(p);

  w.volumeSnapshots["nightly.data"] = volumeSnapshot("nightly.data", true);
  p = w.plan();
  const json st = w.status(p);
  EXPECT_EQ(st["state"], "completed");
  EXPECT_EQ(st["completionTime"], "2026-11-30T10:00:00Z");
  EXPECT_EQ(st["volumes"][1]["readyToUse"], true);
  EXPECT_EQ(st["volumes"][1]["restoreSize"], "10Gi");
  EXPECT_EQ(readyCondition(st)["status"], "True");
  EXPECT_EQ(readyCondition(st)["reason"], "Completed");
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"Completed"});
  w.settle(p);
  const auto again = w.plan();
  EXPECT_TRUE(again.empty());
}

TEST(SnapshotPlan, OutlivesItsInstance) {
  World w;
  w.settle(w.plan());
  w.instance.reset();  // terminated after the copies were asked for
  w.volumeSnapshots["nightly.root"] = volumeSnapshot("nightly.root", true);
  w.volumeSnapshots["nightly.data"] = volumeSnapshot("nightly.data", true);
  EXPECT_EQ(w.status(w.plan())["state"], "completed");
}

TEST(SnapshotPlan, ACopyNeverSeenIsAskedForAgainUnderTheSameName) {
  World w;
  w.settle(w.plan());  // the creates' answers were lost
  w.volumeSnapshots["nightly.root"] = volumeSnapshot("nightly.root", false);
  const auto p = w.plan();
  const auto creates = p.all<rec::CreateObject>();
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0]->object["metadata"]["name"], "nightly.data");
  EXPECT_EQ(w.status(p)["state"], "pending");
}

TEST(SnapshotPlan, ACopyDeletedByHandIsLostNotTakenAgain) {
  World w;
  w.settle(w.plan());
  w.volumeSnapshots["nightly.root"] = volumeSnapshot("nightly.root", true);
  w.volumeSnapshots["nightly.data"] = volumeSnapshot("nightly.data", true);
  w.settle(w.plan());
  ASSERT_EQ(w.snapshot["status"]["state"], "completed");

  w.volumeSnapshots.erase("nightly.data");
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  const json st = w.status(p);
  EXPECT_EQ(st["state"], "error");
  EXPECT_EQ(readyCondition(st)["reason"], "VolumeSnapshotMissing");
  EXPECT_NE(readyCondition(st)["message"].get<std::string>().find(
                "VolumeSnapshot nightly.data (volume data) was deleted outside kubec2"),
            std::string::npos);
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"VolumeSnapshotMissing"});
}

TEST(SnapshotPlan, ASnapshotterErrorKeepsItPendingWithTheErrorSaidOnce) {
  World w;
  w.settle(w.plan());
  const std::string error =
      "Failed to create snapshot: failed to get input parameters to create snapshot "
      "nightly.root: \"cannot find default snapshot class\"";
  w.volumeSnapshots["nightly.root"] = volumeSnapshot("nightly.root", false, error);
  w.volumeSnapshots["nightly.data"] = volumeSnapshot("nightly.data", false);
  const auto p = w.plan();
  const json st = w.status(p);
  EXPECT_EQ(st["state"], "pending");
  EXPECT_EQ(readyCondition(st)["reason"], "SnapshotFailed");
  EXPECT_EQ(readyCondition(st)["message"], "nightly.root: " + error);
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"SnapshotFailed"});
  w.settle(p);
  EXPECT_TRUE(w.plan().all<rec::RecordEvent>().empty());

  // The snapshotter retried and cut it.
  w.volumeSnapshots["nightly.root"] = volumeSnapshot("nightly.root", true);
  w.volumeSnapshots["nightly.data"] = volumeSnapshot("nightly.data", true);
  EXPECT_EQ(w.status(w.plan())["state"], "completed");
}

TEST(SnapshotPlan, WithoutTheCsiSnapshotApiItWaitsAndSaysWhatToInstall) {
  World w;
  w.served = false;
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(w.status(p)["state"], "pending");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "SnapshotsNotSupported");
}

TEST(SnapshotPlan, OneBeingDeletedIsLeftToTheGarbageCollector) {
  World w;
  w.snapshot["metadata"]["deletionTimestamp"] = "2026-11-30T10:00:00Z";
  EXPECT_TRUE(w.plan().empty());
}

// ---- KubeVirt's VirtualMachineSnapshot, where served -----------------------------

json vmSnapshotWith(const json& status) {
  json vms = {{"apiVersion", "snapshot.kubevirt.io/v1beta1"},
              {"kind", "VirtualMachineSnapshot"},
              {"metadata", {{"name", "nightly"}, {"namespace", "shop"}, {"uid", "vms-uid"}}}};
  if (!status.is_null()) vms["status"] = status;
  return vms;
}

json contentWith(std::vector<std::pair<std::string, std::string>> volumeAndClaim) {
  json backups = json::array();
  for (const auto& [volume, claim] : volumeAndClaim)
    backups.push_back({{"volumeName", volume},
                       {"persistentVolumeClaim", {{"metadata", {{"name", claim}}}}},
                       {"volumeSnapshotName", "vmsnapshot-c1-volume-" + volume}});
  return {{"metadata", {{"name", "vmsnapshot-content-vms-uid"}}},
          {"spec", {{"virtualMachineSnapshotName", "nightly"}, {"volumeBackups", backups}}}};
}

// A Snapshot KubeVirt was asked to take: its first copy recorded.
World askedOfKubeVirt() {
  World w;
  w.kubevirtServed = true;
  w.settle(w.plan());
  return w;
}

// KubeVirt done: its snapshot ready, its content listing each volume (and
// claim), and each copy cut.
void madeByKubeVirt(World& w, std::vector<std::pair<std::string, std::string>> volumeAndClaim) {
  w.vmSnapshot =
      vmSnapshotWith({{"phase", "Succeeded"},
                      {"readyToUse", true},
                      {"virtualMachineSnapshotContentName", "vmsnapshot-content-vms-uid"}});
  w.content = contentWith(volumeAndClaim);
  for (const auto& [volume, claim] : volumeAndClaim) {
    const std::string name = "vmsnapshot-c1-volume-" + volume;
    w.volumeSnapshots[name] = volumeSnapshot(name, true);
  }
}

TEST(SnapshotPlan, WhereKubeVirtServesItAVirtualMachineSnapshotCopiesEveryVolume) {
  World w;
  w.kubevirtServed = true;
  const auto p = w.plan();
  const json st = w.status(p);
  EXPECT_EQ(st["method"], "VirtualMachineSnapshot");
  EXPECT_EQ(st["virtualMachineSnapshotName"], "nightly");
  EXPECT_EQ(st["instanceUID"], "inst-uid");
  EXPECT_FALSE(st.contains("volumes"));  // KubeVirt names the copies
  EXPECT_EQ(readyCondition(st)["reason"], "InProgress");
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"Started"});
  const auto creates = p.all<rec::CreateObject>();
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0]->resource.resource, "virtualmachinesnapshots");
  const json& vms = creates[0]->object;
  EXPECT_EQ(vms["metadata"]["name"], "nightly");
  EXPECT_EQ(vms["metadata"]["ownerReferences"][0]["uid"], "snap-uid");
  EXPECT_EQ(vms["spec"]["source"],
            json({{"apiGroup", "kubevirt.io"}, {"kind", "VirtualMachine"}, {"name", "db-1"}}));
  // Recorded before it is asked for: status first.
  ASSERT_TRUE(std::holds_alternative<rec::PatchStatus>(p.actions[0]));
}

TEST(SnapshotPlan, VolumesOrAClassAskedForAreCopiedByCsiEvenWhereKubeVirtServesSnapshots) {
  World w;
  w.kubevirtServed = true;
  w.snapshot["spec"]["volumes"] = {"data"};
  auto p = w.plan();
  EXPECT_EQ(w.status(p)["method"], "VolumeSnapshot");
  EXPECT_EQ(p.all<rec::CreateObject>()[0]->resource.resource, "volumesnapshots");

  World c;
  c.kubevirtServed = true;
  c.snapshot["spec"]["volumeSnapshotClassName"] = "fast";
  c.classExists = true;
  p = c.plan();
  EXPECT_EQ(c.status(p)["method"], "VolumeSnapshot");
}

TEST(SnapshotPlan, KubeVirtsCopiesAreRecordedFromItsContentThenCompleted) {
  World w = askedOfKubeVirt();
  w.vmSnapshot = vmSnapshotWith({{"phase", "InProgress"}, {"readyToUse", false}});
  auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(readyCondition(w.status(p))["message"],
            "KubeVirt is copying every volume of Instance db-1 (VirtualMachineSnapshot nightly: "
            "InProgress)");
  w.settle(p);

  madeByKubeVirt(w, {{"root", "db-1-root"}, {"data", "db-1-data"}});
  p = w.plan();
  const json st = w.status(p);
  EXPECT_EQ(st["state"], "completed");
  ASSERT_EQ(st["volumes"].size(), 2u);
  EXPECT_EQ(st["volumes"][0], json({{"name", "root"},
                                    {"claimName", "db-1-root"},
                                    {"volumeSnapshotName", "vmsnapshot-c1-volume-root"},
                                    {"readyToUse", true},
                                    {"restoreSize", "10Gi"}}));
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"Completed"});
  w.settle(p);
  w.content.reset();  // no longer read
  EXPECT_TRUE(w.plan().empty());

  // KubeVirt's copy deleted by hand afterwards: lost.
  w.volumeSnapshots.erase("vmsnapshot-c1-volume-data");
  p = w.plan();
  EXPECT_EQ(w.status(p)["state"], "error");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "VolumeSnapshotMissing");
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
}

TEST(SnapshotPlan, AVirtualMachineSnapshotDeletedByHandAfterItsCopiesIsLost) {
  World w = askedOfKubeVirt();
  madeByKubeVirt(w, {{"root", "db-1-root"}});
  w.settle(w.plan());
  w.vmSnapshot.reset();
  w.volumeSnapshots.clear();
  const auto p = w.plan();
  EXPECT_EQ(w.status(p)["state"], "error");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "VolumeSnapshotMissing");
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
}

TEST(SnapshotPlan, AVirtualMachineSnapshotNeverSeenIsAskedForAgainUnderTheSameName) {
  World w;
  w.kubevirtServed = true;
  w.settle(w.plan());  // the create's answer was lost
  const auto p = w.plan();
  ASSERT_EQ(p.all<rec::CreateObject>().size(), 1u);
  EXPECT_EQ(p.all<rec::CreateObject>()[0]->object["metadata"]["name"], "nightly");
}

TEST(SnapshotPlan, AVirtualMachineSnapshotThatFailedEndsInErrorWithKubeVirtsMessage) {
  World w = askedOfKubeVirt();
  w.vmSnapshot = vmSnapshotWith(
      {{"phase", "InProgress"}, {"readyToUse", false}, {"error", {{"message", "no agent"}}}});
  auto p = w.plan();
  EXPECT_EQ(w.status(p)["state"], "pending");  // KubeVirt retries until its deadline
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "SnapshotFailed");
  w.settle(p);
  w.vmSnapshot = vmSnapshotWith(
      {{"phase", "Failed"}, {"readyToUse", false}, {"error", {{"message", "deadline exceeded"}}}});
  p = w.plan();
  EXPECT_EQ(w.status(p)["state"], "error");
  EXPECT_NE(readyCondition(w.status(p))["message"].get<std::string>().find("deadline exceeded"),
            std::string::npos);
}

TEST(SnapshotPlan, AVirtualMachineSnapshotThatCopiedNothingEndsInError) {
  World w = askedOfKubeVirt();
  w.vmSnapshot = vmSnapshotWith({{"phase", "Succeeded"}, {"readyToUse", true}});
  w.content = contentWith({});
  const auto p = w.plan();
  EXPECT_EQ(w.status(p)["state"], "error");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "NoVolumes");
}

TEST(SnapshotPlan, AVirtualMachineSnapshotOfTheNameNotOursIsNeverTakenOver) {
  World w;
  w.kubevirtServed = true;
  w.vmSnapshotTaken = true;
  const auto p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "NameConflict");
  EXPECT_FALSE(w.status(p).contains("method"));  // chosen with the first copy only
}

TEST(SnapshotPlan, KubeVirtsDefaultDeletionPolicyDeletesTheCopiesWithIt) {
  World w;
  w.kubevirtServed = true;
  const auto p = w.plan();
  // KubeVirt's values are Delete and Retain; absent is Delete.
  EXPECT_FALSE(p.all<rec::CreateObject>()[0]->object["spec"].contains("deletionPolicy"));
}

// A Snapshot taken before KubeVirt's API was served (no status.method)
// keeps its CSI copies.
TEST(SnapshotPlan, AnOlderSnapshotKeepsItsCsiCopiesWhenKubeVirtsApiAppears) {
  World w;
  w.settle(w.plan());
  w.snapshot["status"].erase("method");  // written before status.method existed
  w.kubevirtServed = true;
  w.volumeSnapshots["nightly.root"] = volumeSnapshot("nightly.root", true);
  w.volumeSnapshots["nightly.data"] = volumeSnapshot("nightly.data", true);
  const auto p = w.plan();
  EXPECT_EQ(w.status(p)["state"], "completed");
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
}

// Once recorded, KubeVirt's copies are VolumeSnapshots: a completed
// Snapshot stays completed when KubeVirt's API goes away.
TEST(SnapshotPlan, KubeVirtsCopiesStayCompletedWithoutItsApi) {
  World w = askedOfKubeVirt();
  madeByKubeVirt(w, {{"root", "db-1-root"}});
  w.settle(w.plan());
  ASSERT_EQ(w.snapshot["status"]["state"], "completed");
  w.kubevirtServed = false;
  w.vmSnapshot.reset();
  w.content.reset();
  EXPECT_TRUE(w.plan().empty());
}

// KubeVirt succeeds leaving out a volume it cannot copy; kubec2 does not
// pass that off as the whole.
TEST(SnapshotPlan, AVolumeKubeVirtLeftOutEndsInErrorNamingIt) {
  World w = askedOfKubeVirt();
  madeByKubeVirt(w, {{"root", "db-1-root"}});  // and not data:
  (*w.content)["spec"]["source"]["virtualMachine"]["spec"]["template"]["spec"]["volumes"] = {
      {{"name", "root"}, {"dataVolume", {{"name", "db-1-root"}}}},
      {{"name", "data"}, {"dataVolume", {{"name", "db-1-data"}}}},
      {{"name", "cloudinit"}, {"cloudInitNoCloud", {{"userData", "#cloud-config"}}}}};
  const auto p = w.plan();
  EXPECT_EQ(w.status(p)["state"], "error");
  EXPECT_EQ(readyCondition(w.status(p))["reason"], "PartialSnapshot");
  const std::string message = readyCondition(w.status(p))["message"];
  EXPECT_NE(message.find("left out volume data "), std::string::npos) << message;
}

// KubeVirt refusing its snapshot (its feature turned off): after a minute
// the copies are taken with CSI VolumeSnapshots instead.
TEST(SnapshotPlan, AVirtualMachineSnapshotRefusedForAMinuteFallsBackToCsi) {
  World w = askedOfKubeVirt();
  auto p = w.plan();  // the create refused: sent again, with a wake-up
  ASSERT_EQ(p.all<rec::CreateObject>().size(), 1u);
  EXPECT_EQ(p.requeueAfter, std::chrono::milliseconds(snap::kKubeVirtRefusedAfter));
  w.snapshot["status"]["startTime"] = "2026-11-30T09:59:00Z";  // a minute before t0
  p = w.plan();
  EXPECT_TRUE(p.all<rec::CreateObject>().empty());
  EXPECT_EQ(eventReasons(p), std::vector<std::string>{"VirtualMachineSnapshotRefused"});
  EXPECT_TRUE(p.all<rec::RecordEvent>()[0]->warning);
  w.settle(p);
  EXPECT_EQ(w.snapshot["status"]["method"], "VolumeSnapshot");
  EXPECT_FALSE(w.snapshot["status"].contains("virtualMachineSnapshotName"));
  p = w.plan();  // the first copy again, by CSI
  const auto creates = p.all<rec::CreateObject>();
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_EQ(creates[0]->resource.resource, "volumesnapshots");
  EXPECT_EQ(w.status(p)["method"], "VolumeSnapshot");
}

TEST(SnapshotPlan, WhatKubeVirtSaysWhileItWaitsIsShown) {
  World w = askedOfKubeVirt();
  w.vmSnapshot = vmSnapshotWith(
      {{"phase", "InProgress"},
       {"readyToUse", false},
       {"conditions",
        {{{"type", "Progressing"}, {"status", "False"}, {"reason", "Source does not exist"}},
         {{"type", "Ready"}, {"status", "False"}, {"reason", "Not ready"}}}}});
  EXPECT_EQ(readyCondition(w.status(w.plan()))["message"],
            "KubeVirt is copying every volume of Instance db-1 (VirtualMachineSnapshot nightly: "
            "InProgress, Source does not exist)");
}

}  // namespace
