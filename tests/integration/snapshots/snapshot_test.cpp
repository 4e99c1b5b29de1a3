// Snapshots on a real API server with the CRDs of KubeVirt, CDI and the CSI
// external-snapshotter installed (third_party/): the operator binary (with
// its webhook), the KubeVirt simulator playing KubeVirt, CDI and the CSI
// snapshotter (a test tool: tools/kubevirt-sim/README.md), and the tests
// acting as a user would (kubectl apply, get, delete). No disk is copied:
// the tests check the objects a real CDI and snapshotter act on and report
// through.
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "tests/integration/compute/group_probe.h"
#include "tests/integration/compute/simulated_namespace.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/resources.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kNs = "snapshots";
const Resource kClasses{"snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", false,
                        "VolumeSnapshotClass"};
const Resource kClaims{"", "v1", "persistentvolumeclaims", true, "PersistentVolumeClaim"};
const Resource kVmSnapshots{"snapshot.kubevirt.io", "v1beta1", "virtualmachinesnapshots", true,
                            "VirtualMachineSnapshot"};

void apply(const json& manifest) {
  applyManifest(kNs, manifest);
}

// An instance with a persistent root (an http image CDI imports) and an
// empty data volume: what a configured server has.
json serverWithVolumes(const std::string& name) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"instanceType", "t3.micro"},
            {"image", {{"http", "https://images.example.com/debian-12.qcow2"}}},
            {"volumes",
             {{"root", {{"sizeGiB", 12}}},
              {"extra", json::array({{{"name", "data"}, {"sizeGiB", 5}}})}}}}}};
}

json snapshotOf(const std::string& name, const std::string& instance, json spec = json::object()) {
  spec["instanceRef"] = {{"name", instance}};
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Snapshot"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

// A server whose root and data volume are restored from Snapshot `snap`.
json restoredFrom(const std::string& name, const std::string& snap) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "Instance"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"instanceType", "t3.micro"},
            {"image", {{"snapshot", {{"name", snap}}}}},
            {"volumes",
             {{"extra", json::array({{{"name", "data"}, {"fromSnapshot", {{"name", snap}}}}})}}}}}};
}

class Snapshots : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim_ = new SimulatedNamespace(kNs, {.bootDelayMs = 200, .ipRangeStart = "127.12.0.1"});
    // The cluster's default class, for the simulator's CSI driver (as a
    // cluster with a CSI driver that takes snapshots has one).
    auto [code, out] =
        kubectl({"apply", "-f",
                 std::string(KUBEC2_SOURCE_DIR) +
                     "/third_party/external-snapshotter/examples/volumesnapshotclass-sim.yaml"});
    ASSERT_EQ(code, 0) << out;
  }
  static void TearDownTestSuite() { delete sim_; }
  void TearDown() override {
    for (const auto& s : client.list(kSnapshots, kNs).items)
      kubectl({"delete", "snap", "-n", kNs, s["metadata"]["name"], "--wait=false"});
    for (const auto& i : client.list(kInstances, kNs).items)
      kubectl({"delete", "inst", "-n", kNs, i["metadata"]["name"], "--wait=false"});
    EXPECT_TRUE(eventually(
        [&] {
          return client.list(kSnapshots, kNs).items.empty() &&
                 client.list(kInstances, kNs).items.empty() &&
                 client.list(kVolumeSnapshots, kNs).items.empty();
        },
        90s))
        << "objects left behind";
  }

  json get(const Resource& r, const std::string& name) {
    try {
      return client.get(r, kNs, name);
    } catch (const ApiError& e) {
      if (e.isNotFound()) return nullptr;
      throw;
    }
  }
  json status(const Resource& r, const std::string& name) {
    const json o = get(r, name);
    return o.is_null() ? json::object() : o.value("status", json::object());
  }
  std::string state(const std::string& snap) { return status(kSnapshots, snap).value("state", ""); }
  std::string ready(const Resource& r, const std::string& name, const char* field = "reason") {
    for (const auto& c : status(r, name).value("conditions", json::array()))
      if (c["type"] == "Ready") return c.value(field, "");
    return "";
  }
  std::vector<std::string> events(const std::string& kind, const std::string& name,
                                  const std::string& reason) {
    std::vector<std::string> out;
    for (const auto& e : client.list(kEvents, kNs).items)
      if (e["involvedObject"].value("name", "") == name &&
          e["involvedObject"].value("kind", "") == kind && e.value("reason", "") == reason)
        out.push_back(e.value("message", ""));
    return out;
  }
  void runInstance(const json& manifest) {
    apply(manifest);
    const std::string name = manifest["metadata"]["name"];
    ASSERT_TRUE(
        eventually([&] { return status(kInstances, name).value("state", "") == "running"; }, 90s))
        << name << " never ran: " << status(kInstances, name).dump() << "\n"
        << explain();
  }
  std::string explain() {
    const std::string log = WebhookEnvironment::get().operatorLog();
    const std::string simLog = sim_->log();
    return "operator log tail:\n" + (log.size() > 2500 ? log.substr(log.size() - 2500) : log) +
           "\nsimulator log tail:\n" +
           (simLog.size() > 2500 ? simLog.substr(simLog.size() - 2500) : simLog);
  }

  RestClient client{adminConfig()};
  static SimulatedNamespace* sim_;
};
SimulatedNamespace* Snapshots::sim_ = nullptr;

// CreateSnapshots naming its volumes, then a server copied from it: the
// copies are CSI VolumeSnapshots the Snapshot owns (KubeVirt's
// VirtualMachineSnapshot copies every volume, so naming some picks the CSI
// method), and the new instance's DataVolumes restore from them.
TEST_F(Snapshots, CopyAnInstanceThenLaunchAnotherFromTheCopy) {
  runInstance(serverWithVolumes("db-1"));
  apply(snapshotOf("configured", "db-1",
                   {{"description", "db-1 once configured"}, {"volumes", {"root", "data"}}}));
  ASSERT_TRUE(eventually([&] { return state("configured") == "completed"; }, 60s))
      << status(kSnapshots, "configured").dump() << "\n"
      << explain();

  const json st = status(kSnapshots, "configured");
  EXPECT_EQ(ready(kSnapshots, "configured", "status"), "True");
  EXPECT_FALSE(st.value("startTime", "").empty());
  EXPECT_FALSE(st.value("completionTime", "").empty());
  EXPECT_EQ(st["instanceUID"], get(kInstances, "db-1")["metadata"]["uid"]);
  EXPECT_EQ(st["method"], "VolumeSnapshot");
  ASSERT_EQ(st["volumes"].size(), 2u) << st.dump();
  EXPECT_EQ(st["volumes"][0]["name"], "root");
  EXPECT_EQ(st["volumes"][0]["claimName"], "db-1-root");
  EXPECT_EQ(st["volumes"][0]["volumeSnapshotName"], "configured.root");
  EXPECT_EQ(st["volumes"][0]["readyToUse"], true);
  EXPECT_EQ(st["volumes"][0]["restoreSize"], "12Gi");
  EXPECT_EQ(st["volumes"][1]["volumeSnapshotName"], "configured.data");

  // What a user lists: the VolumeSnapshots, owned by the Snapshot, of the
  // instance's claims, and the printer columns.
  const auto copies = client.list(kVolumeSnapshots, kNs,
                                  {.labelSelector = "compute.kubec2.io/snapshot=configured"});
  ASSERT_EQ(copies.items.size(), 2u);
  for (const auto& vs : copies.items) {
    EXPECT_EQ(vs["metadata"]["ownerReferences"][0]["kind"], "Snapshot");
    EXPECT_EQ(vs["status"]["readyToUse"], true) << vs.dump();
  }
  EXPECT_EQ(get(kVolumeSnapshots, "configured.data")["spec"]["source"]["persistentVolumeClaimName"],
            "db-1-data");
  const auto [gc, columns] = kubectl({"get", "snap", "configured", "-n", kNs});
  EXPECT_NE(columns.find("db-1"), std::string::npos) << columns;
  EXPECT_NE(columns.find("completed"), std::string::npos) << columns;
  EXPECT_TRUE(eventually([&] { return !events("Snapshot", "configured", "Completed").empty(); }));
  EXPECT_FALSE(events("Snapshot", "configured", "Started").empty());

  // A second server from the copy: root (an AMI backed by a snapshot) and
  // data (an EBS volume from a snapshot).
  runInstance(restoredFrom("db-2", "configured"));
  const json root = get(kDataVolumes, "db-2-root");
  ASSERT_FALSE(root.is_null());
  EXPECT_EQ(root["spec"]["source"]["snapshot"]["name"], "configured.root");
  const json claim = get(kClaims, "db-2-data");
  ASSERT_FALSE(claim.is_null());
  EXPECT_EQ(claim["spec"]["dataSource"]["kind"], "VolumeSnapshot");
  EXPECT_EQ(claim["spec"]["dataSource"]["name"], "configured.data");
}

// Where KubeVirt serves its VM snapshots, a Snapshot of every volume is
// KubeVirt's VirtualMachineSnapshot (the guest frozen through its agent):
// the copies are those KubeVirt names, a launch restores from them, and
// deleting the Snapshot deletes KubeVirt's snapshot and its copies.
TEST_F(Snapshots, WhereKubeVirtServesSnapshotsItTakesTheCopies) {
  runInstance(serverWithVolumes("db-9"));
  apply(snapshotOf("whole", "db-9"));
  ASSERT_TRUE(eventually([&] { return state("whole") == "completed"; }, 60s))
      << status(kSnapshots, "whole").dump() << "\n"
      << explain();
  const json st = status(kSnapshots, "whole");
  EXPECT_EQ(st["method"], "VirtualMachineSnapshot");
  EXPECT_EQ(st["virtualMachineSnapshotName"], "whole");
  const json vms = get(kVmSnapshots, "whole");
  ASSERT_FALSE(vms.is_null());
  EXPECT_EQ(vms["spec"]["source"]["name"], "db-9");
  EXPECT_EQ(vms["metadata"]["ownerReferences"][0]["kind"], "Snapshot");
  EXPECT_EQ(vms["status"]["readyToUse"], true);
  ASSERT_EQ(st["volumes"].size(), 2u) << st.dump();
  std::map<std::string, json> copies;
  for (const auto& c : st["volumes"]) copies[c["name"]] = c;
  ASSERT_TRUE(copies.count("root") && copies.count("data")) << st.dump();
  EXPECT_EQ(copies["root"]["claimName"], "db-9-root");
  EXPECT_EQ(copies["root"]["restoreSize"], "12Gi");
  const std::string rootCopy = copies["root"]["volumeSnapshotName"];
  const std::string dataCopy = copies["data"]["volumeSnapshotName"];
  EXPECT_EQ(rootCopy.rfind("vmsnapshot-", 0), 0u) << rootCopy;  // KubeVirt's name
  EXPECT_EQ(get(kVolumeSnapshots, rootCopy)["status"]["readyToUse"], true);

  runInstance(restoredFrom("db-10", "whole"));
  EXPECT_EQ(get(kDataVolumes, "db-10-root")["spec"]["source"]["snapshot"]["name"], rootCopy);
  EXPECT_EQ(get(kClaims, "db-10-data")["spec"]["dataSource"]["name"], dataCopy);

  auto [dc, dout] = kubectl({"delete", "snap", "whole", "-n", kNs});
  ASSERT_EQ(dc, 0) << dout;
  EXPECT_TRUE(eventually(
      [&] {
        return get(kVmSnapshots, "whole").is_null() && get(kVolumeSnapshots, rootCopy).is_null();
      },
      60s))
      << "KubeVirt's snapshot or its copies were left behind";
}

// A snapshot outlives its instance, as an EBS snapshot its volume; and
// deleting the Snapshot deletes its copies.
TEST_F(Snapshots, OutlivesItsInstanceAndTakesItsCopiesWhenDeleted) {
  runInstance(serverWithVolumes("db-3"));
  apply(snapshotOf("before-upgrade", "db-3", {{"volumes", {"data"}}}));
  ASSERT_TRUE(eventually([&] { return state("before-upgrade") == "completed"; }, 60s)) << explain();
  EXPECT_EQ(status(kSnapshots, "before-upgrade")["volumes"].size(), 1u);

  auto [dc, dout] = kubectl({"delete", "inst", "db-3", "-n", kNs, "--wait=true", "--timeout=90s"});
  ASSERT_EQ(dc, 0) << dout;
  EXPECT_EQ(state("before-upgrade"), "completed");
  EXPECT_FALSE(get(kVolumeSnapshots, "before-upgrade.data").is_null());

  auto [sc, sout] = kubectl({"delete", "snap", "before-upgrade", "-n", kNs});
  ASSERT_EQ(sc, 0) << sout;
  EXPECT_TRUE(
      eventually([&] { return get(kVolumeSnapshots, "before-upgrade.data").is_null(); }, 60s))
      << "the garbage collector did not delete the copy";
}

// Bad input: each a clear condition and nothing copied.
TEST_F(Snapshots, BadInputEndsInAConditionThatSaysWhy) {
  // No such instance.
  apply(snapshotOf("of-nothing", "db-404"));
  ASSERT_TRUE(eventually([&] { return state("of-nothing") == "error"; }, 30s)) << explain();
  EXPECT_EQ(ready(kSnapshots, "of-nothing"), "InstanceNotFound");
  EXPECT_TRUE(
      eventually([&] { return !events("Snapshot", "of-nothing", "InstanceNotFound").empty(); }));

  // An instance whose root is a containerDisk: nothing persistent to copy.
  runInstance({{"apiVersion", "compute.kubec2.io/v1alpha1"},
               {"kind", "Instance"},
               {"metadata", {{"name", "ephemeral"}}},
               {"spec",
                {{"instanceType", "t3.micro"},
                 {"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}}}}});
  apply(snapshotOf("of-ephemeral", "ephemeral"));
  ASSERT_TRUE(eventually([&] { return state("of-ephemeral") == "error"; }, 30s)) << explain();
  EXPECT_EQ(ready(kSnapshots, "of-ephemeral"), "NoVolumes");

  // A volume the instance does not have.
  runInstance(serverWithVolumes("db-4"));
  apply(snapshotOf("of-logs", "db-4", {{"volumes", {"root", "logs"}}}));
  ASSERT_TRUE(eventually([&] { return state("of-logs") == "error"; }, 30s)) << explain();
  EXPECT_EQ(ready(kSnapshots, "of-logs"), "VolumeNotFound");
  EXPECT_NE(ready(kSnapshots, "of-logs", "message").find("has no volume logs (it has root, data)"),
            std::string::npos);
  EXPECT_TRUE(get(kVolumeSnapshots, "of-logs.root").is_null()) << "a partial copy was made";

  // A class the cluster does not have: pending, nothing copied, until it
  // is installed.
  apply(snapshotOf("with-fast", "db-4", {{"volumeSnapshotClassName", "fast"}}));
  ASSERT_TRUE(
      eventually([&] { return ready(kSnapshots, "with-fast") == "SnapshotClassNotFound"; }, 30s))
      << explain();
  EXPECT_EQ(state("with-fast"), "pending");
  EXPECT_TRUE(get(kVolumeSnapshots, "with-fast.root").is_null());
  client.create(kClasses, "",
                {{"apiVersion", "snapshot.storage.k8s.io/v1"},
                 {"kind", "VolumeSnapshotClass"},
                 {"metadata", {{"name", "fast"}}},
                 {"driver", "kubevirt-sim.kubec2.io"},
                 {"deletionPolicy", "Delete"}});
  EXPECT_TRUE(eventually([&] { return state("with-fast") == "completed"; }, 60s)) << explain();
  EXPECT_EQ(get(kVolumeSnapshots, "with-fast.root")["spec"]["volumeSnapshotClassName"], "fast");
  client.del(kClasses, "", "fast");
}

// A copy deleted by hand is lost, and said so; never silently re-taken.
TEST_F(Snapshots, ACopyDeletedByHandIsReportedLost) {
  runInstance(serverWithVolumes("db-5"));
  apply(snapshotOf("nightly", "db-5", {{"volumes", {"root", "data"}}}));
  ASSERT_TRUE(eventually([&] { return state("nightly") == "completed"; }, 60s)) << explain();
  auto [dc, dout] = kubectl({"delete", "volumesnapshot", "nightly.data", "-n", kNs});
  ASSERT_EQ(dc, 0) << dout;
  ASSERT_TRUE(eventually([&] { return state("nightly") == "error"; }, 30s)) << explain();
  EXPECT_EQ(ready(kSnapshots, "nightly"), "VolumeSnapshotMissing");
  EXPECT_TRUE(
      eventually([&] { return !events("Snapshot", "nightly", "VolumeSnapshotMissing").empty(); }));
  EXPECT_TRUE(get(kVolumeSnapshots, "nightly.data").is_null()) << "the copy was taken again";
}

// An instance restoring from a Snapshot that does not exist yet waits,
// says so, and launches once the Snapshot is completed.
TEST_F(Snapshots, ALaunchWaitsForItsSnapshot) {
  apply(restoredFrom("db-7", "golden"));
  ASSERT_TRUE(eventually([&] { return ready(kInstances, "db-7") == "SnapshotNotFound"; }, 30s))
      << status(kInstances, "db-7").dump() << explain();
  EXPECT_EQ(status(kInstances, "db-7").value("state", ""), "pending");
  EXPECT_TRUE(get(kVMs, "db-7").is_null()) << "a VM was made without its snapshot";
  // A volume not made yet can be pointed at another copy; once made, not.
  auto fromSnapshot = [&](const json& ref) {
    return kubectl(
        {"patch", "inst", "db-7", "-n", kNs, "--type=json", "-p",
         json::array(
             {{{"op", "replace"}, {"path", "/spec/volumes/extra/0/fromSnapshot"}, {"value", ref}}})
             .dump()});
  };
  auto [pc, pout] = fromSnapshot({{"name", "golden"}, {"volume", "data"}});
  EXPECT_EQ(pc, 0) << pout;

  runInstance(serverWithVolumes("db-6"));
  apply(snapshotOf("golden", "db-6"));
  ASSERT_TRUE(
      eventually([&] { return status(kInstances, "db-7").value("state", "") == "running"; }, 120s))
      << status(kInstances, "db-7").dump() << explain();
  auto [rc, rout] = fromSnapshot({{"name", "other"}});
  EXPECT_NE(rc, 0) << "a made volume's source changed";
  EXPECT_NE(rout.find("field is immutable: the volume is made from it once"), std::string::npos)
      << rout;
}

// A snapshot schedule, on the real clock: every minute, keeping 1. The
// first is taken at the first minute after the instance was created, the
// next a minute later, and then the first goes.
TEST_F(Snapshots, AScheduleTakesSnapshotsAndKeepsTheNewest) {
  json server = serverWithVolumes("db-8");
  server["spec"]["snapshotSchedule"] = {{"recurrence", "* * * * *"}, {"retain", 1}};
  runInstance(server);
  std::set<std::string> seen;
  auto scheduled = [&] {
    std::vector<std::string> names;
    for (const auto& s :
         client
             .list(kSnapshots, kNs,
                   {.labelSelector =
                        "compute.kubec2.io/instance=db-8,compute.kubec2.io/schedule=true"})
             .items) {
      names.push_back(s["metadata"]["name"]);
      seen.insert(s["metadata"]["name"]);
    }
    return names;
  };
  std::size_t most = 0;
  ASSERT_TRUE(eventually(
      [&] {
        most = std::max(most, scheduled().size());
        return seen.size() >= 2;
      },
      240s))
      << "scheduled Snapshots seen: " << seen.size() << "\n"
      << explain();
  EXPECT_TRUE(eventually([&] { return scheduled().size() == 1; }, 30s));
  EXPECT_LE(most, 2u) << "retention did not trim";
  for (const auto& name : scheduled()) {
    EXPECT_TRUE(name.starts_with("db-8-")) << name;
    EXPECT_TRUE(eventually([&] { return state(name) == "completed"; }, 60s)) << name;
  }
  EXPECT_FALSE(events("Instance", "db-8", "ScheduledSnapshot").empty());
  EXPECT_TRUE(
      eventually([&] { return !events("Instance", "db-8", "ScheduledSnapshotsExpired").empty(); }));

  // The schedule removed: no more are taken, and those taken stay.
  auto [pc, pout] = kubectl({"patch", "inst", "db-8", "-n", kNs, "--type", "json", "-p",
                             R"([{"op":"remove","path":"/spec/snapshotSchedule"}])"});
  ASSERT_EQ(pc, 0) << pout;
  const auto kept = scheduled();
  ASSERT_EQ(kept.size(), 1u);

  // The instance terminated and another of the same name launched with a
  // schedule: the first one's Snapshots are not its own, never trimmed.
  auto [dc, dout] = kubectl({"delete", "inst", "db-8", "-n", kNs, "--wait=true", "--timeout=90s"});
  ASSERT_EQ(dc, 0) << dout;
  server["spec"]["snapshotSchedule"] = {{"recurrence", "0 3 * * *"}, {"retain", 1}};
  runInstance(server);
  EXPECT_EQ(scheduled(), kept);
}

}  // namespace
}  // namespace kube::testing
