#include "reconcilers/snapshot/plan.h"

#include <algorithm>

#include "api/resources.h"
#include "api/snapshot.h"
#include "api/well_known.h"
#include "reconcilers/common/conditions.h"
#include "reconcilers/common/observed.h"
#include "runtime/finalizers.h"
#include "runtime/object.h"
#include "runtime/strings.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers::snapshot {
namespace {

using nlohmann::json;

// Errors after which nothing more is done: the Snapshot is kept, to be
// read and deleted.
bool isFinal(const v1::SnapshotStatus& st) {
  return st.state.value_or("") == "error";
}

std::string volumesWord(size_t n) {
  return n == 1 ? "volume" : "volumes";
}

std::string namesOf(const std::vector<v1::InstanceVolumeStatus>& volumes) {
  std::vector<std::string> names;
  for (const auto& v : volumes) names.push_back(v.name);
  return names.empty() ? "none" : kube::join(names);
}

// Builds the new status and the Events of one reconcile.
class Outcome {
 public:
  Outcome(const SnapshotObservation& o, Plan& plan)
      : o_(o),
        plan_(plan),
        old_(o.snapshot->status.value_or(v1::SnapshotStatus{})),
        st_(old_),
        now_(kube::formatRfc3339(o.now)) {
    st_.observedGeneration = o.snapshot->metadata.generation;
  }

  v1::SnapshotStatus& status() { return st_; }
  const v1::SnapshotStatus& old() const { return old_; }

  // Ready with `reason`; a Warning (or, with `normal`, a Normal Event) once
  // per distinct reason and message when `event` is set.
  void ready(const std::string& state, const std::string& status, const std::string& reason,
             const std::string& message, bool event, bool warning = true) {
    st_.state = state;
    if (event && conditionChanged(old_.conditions, "Ready", reason, message))
      events_.push_back(RecordEvent{warning, reason, message, {}});
    setCondition(st_.conditions, condition(old_.conditions, "Ready", status, reason, message,
                                           o_.snapshot->metadata.generation, now_));
  }

  void event(bool warning, const std::string& reason, const std::string& message) {
    events_.push_back(RecordEvent{warning, reason, message, {}});
  }

  // The status (when changed) and the Events, then `after` (the creates:
  // the copies are recorded before they are asked for, so a create whose
  // answer is lost is asked again under the same name, never forgotten).
  void finish(std::vector<Action> after = {}) {
    if (!(st_ == old_)) plan_.add(PatchStatus{st_.toJson()});
    for (auto& e : events_) plan_.add(std::move(e));
    for (auto& a : after) plan_.add(std::move(a));
  }

  const std::string& now() const { return now_; }

 private:
  const SnapshotObservation& o_;
  Plan& plan_;
  const v1::SnapshotStatus old_;
  v1::SnapshotStatus st_;
  std::vector<RecordEvent> events_;
  std::string now_;
};

// `what` ("a VolumeSnapshot NAME") is in the way: never taken over.
void nameConflict(Plan& plan, Outcome& out, const std::string& what) {
  out.ready("pending", "False", "NameConflict",
            what +
                " exists in this namespace that this Snapshot does not own; kubec2 does not take "
                "it over: delete it, or delete this Snapshot and use another name",
            true);
  plan.requeueWithin(kRecheck);
  out.finish();
}

// The first copy by KubeVirt: recorded, then asked for (a create whose
// answer is lost is asked again under the same name).
void planFirstVirtualMachineSnapshot(const SnapshotObservation& o, Plan& plan, Outcome& out) {
  const v1::Snapshot& snap = *o.snapshot;
  if (o.virtualMachineSnapshotNameTaken) {
    nameConflict(plan, out, "a VirtualMachineSnapshot " + snap.metadata.name);
    return;
  }
  v1::SnapshotStatus& st = out.status();
  st.method = "VirtualMachineSnapshot";
  st.virtualMachineSnapshotName = snap.metadata.name;
  st.instanceUID = o.instance->metadata.uid;
  st.startTime = out.now();
  const std::string what = "KubeVirt is copying every volume of Instance " +
                           snap.spec.instanceRef.name + " (VirtualMachineSnapshot " +
                           snap.metadata.name + ")";
  out.ready("pending", "False", "InProgress", what, false);
  out.event(false, "Started", what);
  out.finish({CreateObject{api::kVirtualMachineSnapshots, renderVirtualMachineSnapshot(snap)}});
}

const std::string* stringAt(const json& j, std::initializer_list<std::string_view> path) {
  const json* v = kube::jsonAt(&j, path);
  return v != nullptr && v->is_string() ? v->get_ptr<const std::string*>() : nullptr;
}

// The source VM's volumes backed by a claim (dataVolume or
// persistentVolumeClaim), as the content recorded the VM; nullopt when it
// did not record its spec.
std::optional<std::vector<std::string>> claimVolumesOfContent(const json& content) {
  const json* volumes = kube::jsonAt(
      &content, {"spec", "source", "virtualMachine", "spec", "template", "spec", "volumes"});
  if (volumes == nullptr || !volumes->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const json& v : *volumes)
    if (const std::string* name = stringAt(v, {"name"});
        name != nullptr && (v.contains("dataVolume") || v.contains("persistentVolumeClaim")))
      out.push_back(*name);
  return out;
}

// What KubeVirt says of its snapshot beyond the phase: its error, else a
// Failure condition that is True, else a Progressing condition that is
// False (reasons such as "Source does not exist").
std::string kubevirtDetail(const json& vms) {
  if (const std::string* error = stringAt(vms, {"status", "error", "message"})) return *error;
  const json* conditions = kube::jsonAt(&vms, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return "";
  for (const auto& [type, telling] : {std::pair{"Failure", "True"}, {"Progressing", "False"}})
    for (const json& c : *conditions) {
      const std::string* t = stringAt(c, {"type"});
      const std::string* status = stringAt(c, {"status"});
      if (t == nullptr || *t != type || status == nullptr || *status != telling) continue;
      const std::string* reason = stringAt(c, {"reason"});
      const std::string* message = stringAt(c, {"message"});
      std::string out = reason != nullptr ? *reason : "";
      if (message != nullptr && !message->empty() && (reason == nullptr || *message != *reason))
        out += (out.empty() ? "" : ": ") + *message;
      if (!out.empty()) return out;
    }
  return "";
}

// Before any copy is asked for: the instance and its volumes decide.
void planFirstCopy(const SnapshotObservation& o, Plan& plan, Outcome& out) {
  const v1::Snapshot& snap = *o.snapshot;
  const std::string& instanceName = snap.spec.instanceRef.name;
  if (o.instance == nullptr) {
    out.ready("error", "False", "InstanceNotFound",
              "Instance " + instanceName +
                  " does not exist in this namespace: nothing was copied (a snapshot is taken "
                  "when created; create another once the instance exists)",
              true);
    out.finish();
    return;
  }
  const v1::Instance& inst = *o.instance;
  if (inst.metadata.deletionTimestamp) {
    out.ready("error", "False", "InstanceTerminating",
              "Instance " + instanceName +
                  " is terminating: nothing was copied (its volumes may be going)",
              true);
    out.finish();
    return;
  }
  const bool launched = inst.status && inst.status->launchTime;
  const bool hasVolumes = inst.status && inst.status->volumes && !inst.status->volumes->empty();
  // Still launching: its volumes may still be being imported or restored
  // (status.volumes is written when the VM is made, not when CDI is done).
  const bool launching = inst.status && inst.status->state.value_or("pending") == "pending";
  if ((!hasVolumes && !launched) || (hasVolumes && launching)) {
    out.ready("pending", "False", "InstanceLaunching",
              "Instance " + instanceName +
                  " has not launched yet: its volumes are copied once its first start has made "
                  "them (the instance runs or is stopped)",
              false);
    plan.requeueWithin(kRecheckLaunch);
    out.finish();
    return;
  }
  if (!hasVolumes) {
    out.ready("error", "False", "NoVolumes",
              "Instance " + instanceName +
                  " has no persistent volumes: a containerDisk root disk is ephemeral and it "
                  "has no extra volumes, so nothing was copied",
              true);
    out.finish();
    return;
  }
  // The volumes asked for must all exist: a partial copy would pass for
  // the whole.
  const auto& instanceVolumes = *inst.status->volumes;
  std::vector<std::string> missing;
  if (snap.spec.volumes)
    for (const auto& name : *snap.spec.volumes)
      if (std::none_of(instanceVolumes.begin(), instanceVolumes.end(),
                       [&](const auto& v) { return v.name == name; }))
        missing.push_back(name);
  if (!missing.empty()) {
    // Its root missing: a containerDisk, ephemeral (the instance has
    // persistent volumes, so it is not NoVolumes).
    const bool rootMissing = std::find(missing.begin(), missing.end(), "root") != missing.end();
    out.ready("error", "False", "VolumeNotFound",
              "Instance " + instanceName + " has no volume " + kube::join(missing) + " (it has " +
                  namesOf(instanceVolumes) +
                  (rootMissing ? "; its root disk is a containerDisk, which is ephemeral and "
                                 "not copied"
                               : "") +
                  "): nothing was copied",
              true);
    out.finish();
    return;
  }
  const bool kubevirt = usesVirtualMachineSnapshot(snap, o.virtualMachineSnapshotsServed);
  if (kubevirt) {
    planFirstVirtualMachineSnapshot(o, plan, out);
    return;
  }
  if (snap.spec.volumeSnapshotClassName && o.classExists == false) {
    out.ready("pending", "False", "SnapshotClassNotFound",
              "VolumeSnapshotClass " + *snap.spec.volumeSnapshotClassName +
                  " does not exist in the cluster: nothing is copied until it does (or delete "
                  "this Snapshot and take one with another class)",
              true);
    plan.requeueWithin(kRecheck);
    out.finish();
    return;
  }
  const auto volumes = volumesToCopy(snap, inst);
  if (volumes.empty()) {  // spec.volumes has at least one name (schema): not reached
    out.ready("error", "False", "NoVolumes",
              "no volume of Instance " + instanceName + " was asked for: nothing was copied", true);
    out.finish();
    return;
  }
  for (const auto& v : volumes) {
    const std::string name = api::volumeSnapshotName(snap.metadata.name, v.name);
    if (o.namesTaken.count(name)) {
      nameConflict(plan, out, "a VolumeSnapshot " + name);
      return;
    }
  }

  v1::SnapshotStatus& st = out.status();
  st.method = "VolumeSnapshot";
  st.instanceUID = inst.metadata.uid;
  st.startTime = out.now();
  std::vector<v1::SnapshotVolume> copies;
  std::vector<Action> creates;
  for (const auto& v : volumes) {
    v1::SnapshotVolume copy;
    copy.name = v.name;
    copy.claimName = v.claimName;
    copy.volumeSnapshotName = api::volumeSnapshotName(snap.metadata.name, v.name);
    copies.push_back(copy);
    creates.push_back(
        CreateObject{api::kVolumeSnapshots, renderVolumeSnapshot(snap, v.name, v.claimName)});
  }
  st.volumes = copies;
  const std::string what = "copying " + volumesWord(volumes.size()) + " " + namesOf(volumes) +
                           " of Instance " + instanceName;
  out.ready("pending", "False", "InProgress", what, false);
  out.event(false, "Started", what);
  out.finish(std::move(creates));
}

}  // namespace

namespace {

// What kubec2 creates for a Snapshot: labelled with it, and owned by it so
// that deleting it deletes them (the garbage collector).
json copyMetadata(const v1::Snapshot& snap, const std::string& name) {
  return {
      {"name", name},
      {"namespace", snap.metadata.namespace_},
      {"labels",
       {{api::kManagedByLabel, api::kManagedByValue}, {api::kSnapshotLabel, snap.metadata.name}}},
      {"ownerReferences",
       json::array({kube::controllerOwnerRef(api::kApiVersion, "Snapshot", snap.metadata.name,
                                             snap.metadata.uid)})}};
}

}  // namespace

std::vector<v1::SnapshotVolume> copiesOfContent(const json& content) {
  std::vector<v1::SnapshotVolume> out;
  const json* backups = kube::jsonAt(&content, {"spec", "volumeBackups"});
  if (backups == nullptr || !backups->is_array()) return out;
  for (const json& b : *backups) {
    const std::string* volume = stringAt(b, {"volumeName"});
    const std::string* claim = stringAt(b, {"persistentVolumeClaim", "metadata", "name"});
    const std::string* vs = stringAt(b, {"volumeSnapshotName"});
    if (volume == nullptr || claim == nullptr || vs == nullptr) continue;
    v1::SnapshotVolume copy;
    copy.name = *volume;
    copy.claimName = *claim;
    copy.volumeSnapshotName = *vs;
    out.push_back(std::move(copy));
  }
  return out;
}

bool usesVirtualMachineSnapshot(const v1::Snapshot& snap, bool served) {
  if (snap.status && snap.status->method) return *snap.status->method == "VirtualMachineSnapshot";
  if (snap.status && snap.status->volumes && !snap.status->volumes->empty()) return false;
  return served && !snap.spec.volumes && !snap.spec.volumeSnapshotClassName;
}

bool copiesAsked(const v1::Snapshot& snap) {
  return snap.status && ((snap.status->volumes && !snap.status->volumes->empty()) ||
                         snap.status->virtualMachineSnapshotName);
}

json renderVirtualMachineSnapshot(const v1::Snapshot& snap) {
  return {{"apiVersion", "snapshot.kubevirt.io/v1beta1"},
          {"kind", "VirtualMachineSnapshot"},
          {"metadata", copyMetadata(snap, snap.metadata.name)},
          // No deletionPolicy: KubeVirt's default, Delete, deletes the content
          // and its VolumeSnapshots with the VirtualMachineSnapshot.
          {"spec",
           {{"source",
             {{"apiGroup", "kubevirt.io"},
              {"kind", "VirtualMachine"},
              {"name", snap.spec.instanceRef.name}}}}}};
}

std::vector<v1::InstanceVolumeStatus> volumesToCopy(const v1::Snapshot& snap,
                                                    const v1::Instance& instance) {
  std::vector<v1::InstanceVolumeStatus> out;
  if (!instance.status || !instance.status->volumes) return out;
  for (const auto& v : *instance.status->volumes)
    if (!snap.spec.volumes || std::find(snap.spec.volumes->begin(), snap.spec.volumes->end(),
                                        v.name) != snap.spec.volumes->end())
      out.push_back(v);
  return out;
}

json renderVolumeSnapshot(const v1::Snapshot& snap, const std::string& volume,
                          const std::string& claim) {
  json spec = {{"source", {{"persistentVolumeClaimName", claim}}}};
  if (snap.spec.volumeSnapshotClassName)
    spec["volumeSnapshotClassName"] = *snap.spec.volumeSnapshotClassName;
  return {{"apiVersion", "snapshot.storage.k8s.io/v1"},
          {"kind", "VolumeSnapshot"},
          {"metadata", copyMetadata(snap, api::volumeSnapshotName(snap.metadata.name, volume))},
          {"spec", std::move(spec)}};
}

namespace {

// Method VirtualMachineSnapshot, until KubeVirt has made the copies: false
// when this reconcile's outcome is decided here; true once status.volumes
// lists them (then followed as any copies).
bool planVirtualMachineSnapshot(const SnapshotObservation& o, Plan& plan, Outcome& out) {
  const v1::Snapshot& snap = *o.snapshot;
  v1::SnapshotStatus& st = out.status();
  const std::string name = st.virtualMachineSnapshotName.value_or(snap.metadata.name);
  // Once the copies are recorded, they are VolumeSnapshots: followed
  // whether or not KubeVirt's API is still there, except that its
  // snapshot's deletion took them.
  const bool recorded = st.volumes && !st.volumes->empty();
  if (recorded && (!o.virtualMachineSnapshotsServed || o.virtualMachineSnapshot)) return true;
  if (!o.virtualMachineSnapshotsServed) {
    out.ready("pending", "False", "SnapshotsNotSupported",
              "the API server no longer serves KubeVirt's snapshot.kubevirt.io/v1beta1, which "
              "is taking this Snapshot's copies (VirtualMachineSnapshot " +
                  name + ")",
              true);
    out.finish();
    return false;
  }
  if (!o.virtualMachineSnapshot) {
    if (o.virtualMachineSnapshotNameTaken) {
      nameConflict(plan, out, "a VirtualMachineSnapshot " + name);
      return false;
    }
    if (recorded) {
      for (auto& c : *st.volumes) c.readyToUse = false;
      out.ready("error", "False", "VolumeSnapshotMissing",
                "VirtualMachineSnapshot " + name +
                    " was deleted outside kubec2, and KubeVirt deleted the copies with it: they "
                    "are lost, and not taken again (they would be of another moment); delete "
                    "this Snapshot and take another",
                true);
      out.finish();
      return false;
    }
    // Asked, never seen made. A create refused for a minute (KubeVirt's
    // snapshot feature turned off, its webhook refusing): the copies are
    // taken with CSI VolumeSnapshots instead, from the next reconcile.
    const auto asked = st.startTime ? kube::parseRfc3339Utc(*st.startTime) : std::nullopt;
    if (asked && o.now - *asked >= kKubeVirtRefusedAfter) {
      st.method = "VolumeSnapshot";
      st.virtualMachineSnapshotName.reset();
      st.startTime.reset();
      st.instanceUID.reset();
      const std::string what = "KubeVirt did not make VirtualMachineSnapshot " + name + " within " +
                               std::to_string(kKubeVirtRefusedAfter.count()) +
                               " s (its snapshot feature may be off: see the WriteFailed Events)";
      out.ready("pending", "False", "InProgress",
                what + ": copying with CSI VolumeSnapshots instead", false);
      out.event(true, "VirtualMachineSnapshotRefused",
                what + "; the volumes are copied with CSI VolumeSnapshots instead");
      out.finish();
      return false;
    }
    // Sent again under the same name (a lost answer; or refused, and
    // retried with backoff until then).
    out.finish({CreateObject{api::kVirtualMachineSnapshots, renderVirtualMachineSnapshot(snap)}});
    plan.requeueWithin(kKubeVirtRefusedAfter);
    return false;
  }
  const json& vms = *o.virtualMachineSnapshot;
  const std::string* phase = stringAt(vms, {"status", "phase"});
  const std::string detail = kubevirtDetail(vms);
  if (phase != nullptr && *phase == "Failed") {
    out.ready("error", "False", "SnapshotFailed",
              "KubeVirt's VirtualMachineSnapshot " + name + " failed" +
                  (detail.empty() ? std::string() : ": " + detail) +
                  " (it gives up at its failureDeadline, 5 minutes by default); delete this "
                  "Snapshot and take another",
              true);
    out.finish();
    return false;
  }
  const json* ready = kube::jsonAt(&vms, {"status", "readyToUse"});
  const bool made = ready != nullptr && ready->is_boolean() && ready->get<bool>();
  if (made && o.virtualMachineSnapshotContent) {
    const json& content = *o.virtualMachineSnapshotContent;
    std::vector<v1::SnapshotVolume> copies = copiesOfContent(content);
    if (copies.empty()) {
      out.ready("error", "False", "NoVolumes",
                "KubeVirt's VirtualMachineSnapshot " + name + " copied no volume of Instance " +
                    snap.spec.instanceRef.name +
                    " (no VolumeSnapshotClass serves their storage: see its "
                    "status.snapshotVolumes.excludedVolumes)",
                true);
      out.finish();
      return false;
    }
    // KubeVirt leaves out a volume it cannot copy (no VolumeSnapshotClass
    // for its storage) and still succeeds: a partial copy is not passed
    // off as the whole, as with CSI (VolumeNotFound).
    std::vector<std::string> left;
    if (const auto claimed = claimVolumesOfContent(content))
      for (const auto& v : *claimed)
        if (std::none_of(copies.begin(), copies.end(), [&](const auto& c) { return c.name == v; }))
          left.push_back(v);
    st.volumes = std::move(copies);
    if (!left.empty()) {
      out.ready("error", "False", "PartialSnapshot",
                "KubeVirt's VirtualMachineSnapshot " + name + " left out volume " +
                    kube::join(left) +
                    " (no VolumeSnapshotClass serves its storage): the copy is not whole; "
                    "install a class for that storage's driver, or take a Snapshot naming "
                    "spec.volumes",
                true);
      out.finish();
      return false;
    }
    return true;
  }
  const std::string progress = phase != nullptr ? *phase : "not started";
  const std::string* error = stringAt(vms, {"status", "error", "message"});
  if (error != nullptr && !made) {  // KubeVirt retries until its deadline
    out.ready("pending", "False", "SnapshotFailed",
              "VirtualMachineSnapshot " + name + " (" + progress + "): " + *error, true);
  } else {
    out.ready("pending", "False", "InProgress",
              "KubeVirt is copying every volume of Instance " + snap.spec.instanceRef.name +
                  " (VirtualMachineSnapshot " + name + ": " + progress +
                  (detail.empty() ? std::string() : ", " + detail) + ")",
              false);
  }
  out.finish();
  return false;
}

}  // namespace

Plan planSnapshot(const SnapshotObservation& o) {
  const v1::Snapshot& snap = *o.snapshot;
  Plan plan;
  // Being deleted: the garbage collector deletes the copies (or, with
  // --cascade=orphan, keeps them).
  if (snap.metadata.deletionTimestamp) return plan;
  Outcome out(o, plan);
  if (isFinal(out.old())) {
    out.finish();  // only observedGeneration may change
    return plan;
  }
  if (!o.volumeSnapshotsServed) {
    out.ready("pending", "False", "SnapshotsNotSupported",
              "the API server does not serve snapshot.storage.k8s.io/v1 VolumeSnapshots: install "
              "the CSI external-snapshotter (its CRDs and snapshot-controller) and a CSI driver "
              "that takes snapshots",
              true);
    out.finish();
    return plan;
  }
  if (!copiesAsked(snap)) {
    planFirstCopy(o, plan, out);
    return plan;
  }
  v1::SnapshotStatus& st = out.status();
  const bool kubevirt = usesVirtualMachineSnapshot(snap, o.virtualMachineSnapshotsServed);
  if (kubevirt && !planVirtualMachineSnapshot(o, plan, out)) return plan;

  // The copies asked for: each one's VolumeSnapshot, read.
  std::vector<Action> creates;
  std::vector<std::string> lost, taken, failures, waiting;
  bool allReady = true;
  for (v1::SnapshotVolume& copy : *st.volumes) {
    const auto found = o.volumeSnapshots.find(copy.volumeSnapshotName);
    if (found == o.volumeSnapshots.end()) {
      allReady = false;
      if (o.namesTaken.count(copy.volumeSnapshotName))
        taken.push_back(copy.volumeSnapshotName);
      else if (copy.readyToUse) {  // seen before: somebody deleted it
        lost.push_back(copy.volumeSnapshotName + " (volume " + copy.name + ")");
        copy.readyToUse = false;
      } else if (!kubevirt)  // asked, never seen: asked again under the same name
        creates.push_back(CreateObject{api::kVolumeSnapshots,
                                       renderVolumeSnapshot(snap, copy.name, copy.claimName)});
      continue;
    }
    const json& vs = found->second;
    const json* ready = kube::jsonAt(&vs, {"status", "readyToUse"});
    copy.readyToUse = ready != nullptr && ready->is_boolean() && ready->get<bool>();
    if (const json* size = kube::jsonAt(&vs, {"status", "restoreSize"});
        size != nullptr && size->is_string())
      copy.restoreSize = size->get<std::string>();
    if (const json* error = kube::jsonAt(&vs, {"status", "error", "message"});
        error != nullptr && error->is_string() && !*copy.readyToUse)
      failures.push_back(copy.volumeSnapshotName + ": " + error->get<std::string>());
    if (!*copy.readyToUse) {
      allReady = false;
      waiting.push_back(copy.name);
    }
  }

  if (!lost.empty()) {
    out.ready("error", "False", "VolumeSnapshotMissing",
              "VolumeSnapshot " + kube::join(lost) +
                  " was deleted outside kubec2: that copy is lost, and is not taken again (it "
                  "would be of another moment); delete this Snapshot and take another",
              true);
    out.finish();
    return plan;
  }
  if (!taken.empty()) {
    nameConflict(plan, out, "a VolumeSnapshot " + kube::join(taken));
    return plan;
  }
  if (!failures.empty()) {
    // The snapshotter retries; the copy may still be cut.
    out.ready("pending", "False", "SnapshotFailed", kube::join(failures, "; "), true);
    out.finish(std::move(creates));
    return plan;
  }
  if (allReady) {
    if (!st.completionTime) st.completionTime = out.now();
    const std::string message = "every volume is copied (" + [&] {
      std::vector<std::string> names;
      for (const auto& c : *st.volumes) names.push_back(c.name);
      return kube::join(names);
    }() + ") and can seed new volumes";
    const bool first = out.old().state.value_or("") != "completed";
    out.ready("completed", "True", "Completed", message, false);
    if (first) out.event(false, "Completed", message);
    out.finish();
    return plan;
  }
  out.ready("pending", "False", "InProgress",
            "waiting for the copy of " +
                (waiting.empty() ? std::string("every volume")
                                 : volumesWord(waiting.size()) + " " + kube::join(waiting)) +
                " to be cut",
            false);
  out.finish(std::move(creates));
  return plan;
}

}  // namespace kubec2::reconcilers::snapshot
