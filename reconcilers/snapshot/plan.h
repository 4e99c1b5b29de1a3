// A Snapshot's reconcile as a pure function (docs/snapshots.md): one CSI
// VolumeSnapshot per instance volume copied, the status and the Events.
// The controller (controllers/snapshot/) observes, calls planSnapshot and
// executes the plan.
//
// Two methods (status.method), chosen with the first copy:
//  - VirtualMachineSnapshot, where the API server serves KubeVirt's
//    snapshot.kubevirt.io/v1beta1 and spec sets neither volumes nor
//    volumeSnapshotClassName: one VirtualMachineSnapshot named as the
//    Snapshot (spec.source the instance's VirtualMachine; controller
//    ownerReference to the Snapshot), recorded in
//    status.virtualMachineSnapshotName before it is created. KubeVirt
//    freezes the guest's file systems (guest agent) and cuts every volume's
//    VolumeSnapshot; when it reports readyToUse, the copies its
//    VirtualMachineSnapshotContent lists (spec.volumeBackups) are recorded
//    in status.volumes, then followed as below. Phase Failed (KubeVirt's
//    failureDeadline passed) is final: state error, SnapshotFailed; so is
//    a copy KubeVirt left a claim-backed volume out of (PartialSnapshot).
//    One not made kKubeVirtRefusedAfter after it was asked for switches
//    the method to VolumeSnapshot (a Warning VirtualMachineSnapshotRefused).
//  - VolumeSnapshot, otherwise, as follows.
// A snapshot is taken once. The first reconcile that finds the Instance
// with its volumes records the copies to make in status.volumes (with
// startTime and the instance's uid), then creates the VolumeSnapshots
// (snapshot.storage.k8s.io/v1, named api::volumeSnapshotName(): NAME.VOLUME,
// spec.source.persistentVolumeClaimName the instance's claim,
// spec.volumeSnapshotClassName from the spec when set; labelled
// app.kubernetes.io/managed-by=kubec2 and compute.kubec2.io/snapshot=NAME;
// controller ownerReference to the Snapshot, so deleting it deletes the
// copies through the garbage collector, as EC2's DeleteSnapshot, and
// kubectl delete --cascade=orphan keeps them). From then on the Instance
// no longer matters: it may stop, change or terminate.
//
// States (status.state, EC2's snapshot states):
//  - pending: copies requested and not all ready, or waiting before the
//    first copy (InstanceLaunching, SnapshotClassNotFound, NameConflict,
//    SnapshotsNotSupported);
//  - completed: every copy readyToUse (completionTime, Event Completed);
//  - error, final: nothing was copied (InstanceNotFound,
//    InstanceTerminating, NoVolumes, VolumeNotFound), or a copy that
//    existed was deleted by someone else (VolumeSnapshotMissing: never
//    made again, since a new copy would be of another moment).
// A VolumeSnapshot reporting status.error (a missing default class, a
// claim gone, the driver's failure) keeps the Snapshot pending with Ready
// False SnapshotFailed and the error's message: the CSI snapshotter
// retries it, so it may still complete.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"
#include "reconcilers/common/plan.h"

namespace kubec2::reconcilers::snapshot {

namespace v1 = kubec2::api::v1alpha1;
using Time = std::chrono::system_clock::time_point;

struct SnapshotObservation {
  const v1::Snapshot* snapshot = nullptr;  // never null
  // The API server serves snapshot.storage.k8s.io/v1 volumesnapshots.
  bool volumeSnapshotsServed = true;
  // The Instance spec.instanceRef names (the cache, else a live read);
  // null when it does not exist. Read only before the copies are asked.
  const v1::Instance* instance = nullptr;
  // The VolumeSnapshots of this Snapshot's names that it controls, by name
  // (method VirtualMachineSnapshot: those its content lists, whoever owns
  // them: KubeVirt's content does).
  std::map<std::string, nlohmann::json> volumeSnapshots;
  // Names of its copies held by VolumeSnapshots it does not control.
  std::set<std::string> namesTaken;
  // Whether spec.volumeSnapshotClassName exists (nullopt: not looked up).
  std::optional<bool> classExists;
  // KubeVirt's snapshot.kubevirt.io/v1beta1 virtualmachinesnapshots are served.
  bool virtualMachineSnapshotsServed = false;
  // The VirtualMachineSnapshot of this Snapshot's name it controls, if any;
  // and whether one of that name exists that it does not control.
  std::optional<nlohmann::json> virtualMachineSnapshot;
  bool virtualMachineSnapshotNameTaken = false;
  // Its VirtualMachineSnapshotContent, read once it is readyToUse.
  std::optional<nlohmann::json> virtualMachineSnapshotContent;
  Time now{};
};

// How soon a Snapshot waiting for something not watched (a class, a name
// taken) is looked at again, and one waiting for its instance to launch.
inline constexpr std::chrono::seconds kRecheck{15};
inline constexpr std::chrono::seconds kRecheckLaunch{10};
// How long a VirtualMachineSnapshot asked for may stay unmade before the
// copies are taken with CSI VolumeSnapshots instead (KubeVirt refusing it,
// as with its snapshot feature off).
inline constexpr std::chrono::seconds kKubeVirtRefusedAfter{60};

Plan planSnapshot(const SnapshotObservation& o);

// Whether the copies are (to be) taken by a KubeVirt VirtualMachineSnapshot:
// status.method once chosen; before, whether `served` allows it and the
// spec leaves KubeVirt every volume and its class choice.
bool usesVirtualMachineSnapshot(const v1::Snapshot& snap, bool served);
// Whether the copies were asked for (recorded in status).
bool copiesAsked(const v1::Snapshot& snap);

// The copies a VirtualMachineSnapshotContent lists (spec.volumeBackups:
// volume, claim, VolumeSnapshot), in its order; entries missing one are
// skipped.
std::vector<v1::SnapshotVolume> copiesOfContent(const nlohmann::json& content);

// The VirtualMachineSnapshot copying the Snapshot's instance (its VM is
// named as the Instance).
nlohmann::json renderVirtualMachineSnapshot(const v1::Snapshot& snap);

// The VolumeSnapshot copying `claim` as the Snapshot's copy of `volume`.
nlohmann::json renderVolumeSnapshot(const v1::Snapshot& snap, const std::string& volume,
                                    const std::string& claim);

// The volumes a Snapshot of `instance` copies: those of the instance's
// last start (status.volumes, in its order) that spec.volumes names, or
// all of them without spec.volumes.
std::vector<v1::InstanceVolumeStatus> volumesToCopy(const v1::Snapshot& snap,
                                                    const v1::Instance& instance);

}  // namespace kubec2::reconcilers::snapshot
