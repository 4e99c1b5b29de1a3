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
    out.ready("error", "False", "VolumeNotFound",
              "Instance " + instanceName + " has no volume " + kube::join(missing) + " (it has " +
                  namesOf(instanceVolumes) + "): nothing was copied",
              true);
    out.finish();
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
      out.ready("pending", "False", "NameConflict",
                "a VolumeSnapshot " + name +
                    " exists in this namespace that this Snapshot does not own; kubec2 does not "
                    "take it over: delete it, or delete this Snapshot and use another name",
                true);
      plan.requeueWithin(kRecheck);
      out.finish();
      return;
    }
  }

  v1::SnapshotStatus& st = out.status();
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
  return {
      {"apiVersion", "snapshot.storage.k8s.io/v1"},
      {"kind", "VolumeSnapshot"},
      {"metadata",
       {{"name", api::volumeSnapshotName(snap.metadata.name, volume)},
        {"namespace", snap.metadata.namespace_},
        {"labels",
         {{api::kManagedByLabel, api::kManagedByValue}, {api::kSnapshotLabel, snap.metadata.name}}},
        {"ownerReferences",
         json::array({kube::controllerOwnerRef(api::kApiVersion, "Snapshot", snap.metadata.name,
                                               snap.metadata.uid)})}}},
      {"spec", std::move(spec)}};
}

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
  const bool asked = out.old().volumes && !out.old().volumes->empty();
  if (!asked) {
    planFirstCopy(o, plan, out);
    return plan;
  }

  // The copies asked for: each one's VolumeSnapshot, read.
  v1::SnapshotStatus& st = out.status();
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
      } else  // asked, never seen: asked again under the same name
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
    out.ready("pending", "False", "NameConflict",
              "a VolumeSnapshot " + kube::join(taken) +
                  " exists in this namespace that this Snapshot does not own; kubec2 does not "
                  "take it over: delete it, or delete this Snapshot and use another name",
              true);
    plan.requeueWithin(kRecheck);
    out.finish();
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
