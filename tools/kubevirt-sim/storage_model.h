// The pure decisions of the simulator's storage side (a test tool): what
// KubeVirt's virt-controller, CDI's DataVolume controller, the CSI external
// snapshot-controller and a CSI driver would make of the objects they see,
// with no I/O and no clock (times come in as arguments), so they are
// table-tested in tests/unit/kubevirt_sim_test.cpp.
//
//  - virt-controller: the DataVolumes of a VM's spec.dataVolumeTemplates;
//    whether its DataVolumes let it start (printableStatus Provisioning,
//    DataVolumeError);
//  - CDI: the PersistentVolumeClaim of a DataVolume (size from the request,
//    the source claim's capacity or the VolumeSnapshot's restoreSize), and
//    the DataVolume status (Succeeded, or waiting for a clone source);
//  - snapshot-controller: the VolumeSnapshotClass (named or default), the
//    errors it writes to status.error, the VolumeSnapshotContent and the
//    VolumeSnapshot status;
//  - the CSI driver: readyToUse after --snapshot-delay-ms;
//  - KubeVirt's snapshot controller: a VirtualMachineSnapshot's content, its
//    VolumeSnapshots and their status.
//
// Phases, reasons and messages are upstream's (see README.md, "Storage", for
// where each was read).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubec2::sim {

using nlohmann::json;

// The CSI driver the simulator plays; its default VolumeSnapshotClass is
// third_party/external-snapshotter/examples' kubec2-sim-snapshots.
inline constexpr const char* kSimCsiDriver = "kubevirt-sim.kubec2.io";
inline constexpr const char* kDefaultSnapshotClassAnnotation =
    "snapshot.storage.kubernetes.io/is-default-class";
inline constexpr const char* kSnapshotApiGroup = "snapshot.storage.k8s.io";
inline constexpr const char* kCdiApiVersion = "cdi.kubevirt.io/v1beta1";

// Go's %q of a string (the quoting upstream's messages use): in double
// quotes, with \ and " escaped.
std::string goQuote(const std::string& s);
// A quantity in bytes ("10Gi" -> 10737418240); nullopt when malformed.
std::optional<std::int64_t> quantityBytes(const std::string& q);
// Bytes as Kubernetes writes a BinarySI quantity: 10737418240 -> "10Gi",
// 1500 -> "1500".
std::string formatBytes(std::int64_t bytes);

// ---- virt-controller: dataVolumeTemplates -> DataVolumes --------------------------

// The DataVolume virt-controller creates for `tmpl` (one item of the VM's
// spec.dataVolumeTemplates): the template's name, labels and annotations,
// its spec, and a controller ownerReference to the VM with
// blockOwnerDeletion.
json renderDataVolume(const json& vm, const json& tmpl);
// Names of the DataVolumes the VM's template volumes use
// (spec.template.spec.volumes[].dataVolume.name), in order.
std::vector<std::string> vmDataVolumeNames(const json& vm);

// What the VM's DataVolumes say about starting it, as KubeVirt reads them.
struct VmVolumesView {
  bool ready = true;          // every DataVolume exists and Succeeded: the VMI may be created
  bool provisioning = false;  // one exists and has not Succeeded (printableStatus Provisioning)
  std::string error;          // non-empty: printableStatus DataVolumeError, with KubeVirt's message
};
// `dvs[i]` is the DataVolume named `names[i]`, or null when absent.
VmVolumesView vmVolumesView(const std::vector<std::string>& names, const std::vector<json>& dvs);

// ---- CDI: DataVolume -> PersistentVolumeClaim ------------------------------------

enum class DvSourceKind { None, Pvc, Snapshot, Other };
struct DvSource {
  DvSourceKind kind = DvSourceKind::None;
  std::string namespace_;  // of a pvc or snapshot source (the DataVolume's when unset)
  std::string name;
};
DvSource dvSourceOf(const json& dv);

// What CDI sees of a clone source: a claim (Bound, status.capacity.storage)
// or a VolumeSnapshot (status.readyToUse, status.restoreSize).
struct SourceView {
  bool exists = false;
  bool ready = false;
  std::string size;  // capacity or restoreSize; empty when not known
};
SourceView claimSourceView(const json* claim);
SourceView snapshotSourceView(const json* snapshot);

// The request the DataVolume names (spec.storage or spec.pvc
// resources.requests.storage); empty when none.
std::string requestedSize(const json& dv);

struct DvDecision {
  // Create the claim (claim.metadata, claim.spec) now; else wait (status says why).
  bool createClaim = false;
  json claim;
  // The DataVolume status while it waits (null when the claim is created:
  // the status follows the claim, dataVolumeSucceeded).
  json waitingStatus;
};
// CDI's decision for a DataVolume with no claim yet: a pvc or snapshot source
// that is missing, or not ready (a snapshot not readyToUse, a claim not
// Bound), leaves it CloneScheduled with CDI's condition reasons; else the
// claim is rendered: name and namespace of the DataVolume, its labels, a
// controller ownerReference to it, spec from spec.pvc or spec.storage
// (accessModes ReadWriteOnce by default), the request (else the source's
// size), spec.dataSource = the VolumeSnapshot of a snapshot source.
DvDecision decideDataVolume(const json& dv, const SourceView& source);

// The status of a DataVolume whose claim is Bound, as CDI writes it on
// success: phase Succeeded, progress 100.0%, claimName, conditions Bound
// (True, Bound, "PVC <name> Bound"), Ready True, Running False (Completed,
// "Import Complete" or "Clone Complete").
json dataVolumeSucceeded(const json& dv);
// The claim status the simulator writes (there is no PV provisioner): phase
// Bound, accessModes and capacity = the request.
json boundClaimStatus(const json& claim);

// ---- snapshot-controller and the CSI driver ---------------------------------------

struct SnapshotDecision {
  std::string error;             // status.error.message to write (readyToUse false); empty: go on
  json snapshotClass;            // the class chosen (null with an error)
  bool setDefaultClass = false;  // write spec.volumeSnapshotClassName (the default was chosen)
  std::string restoreSize;       // the claim's capacity (else its request)
};
// The snapshot-controller's checks for a dynamic VolumeSnapshot
// (spec.source.persistentVolumeClaimName), in its order: without a class
// name, the default class (annotation is-default-class "true", driver
// kubevirt-sim.kubec2.io, exactly one) needs the claim and its volume first;
// with one, the claim is checked, then the class, then the claim's binding.
// `claim` is null when absent.
SnapshotDecision decideSnapshot(const json& snapshot, const std::vector<json>& classes,
                                const json* claim);
// Is this the dynamic kind the simulator plays (a claim source, not a
// pre-provisioned content)?
bool isDynamicSnapshot(const json& snapshot);

// snapcontent-<snapshot uid>, as the snapshot-controller names it.
std::string contentNameFor(const std::string& snapshotUid);
// The VolumeSnapshotContent: cluster-scoped, spec.volumeSnapshotRef (kind,
// apiVersion, namespace, name, uid), driver, deletionPolicy and
// volumeSnapshotClassName from the class, source.volumeHandle = the claim's
// volume (`volumeHandle`).
json renderContent(const json& snapshot, const json& snapshotClass,
                   const std::string& volumeHandle);
// Its status as the CSI sidecar writes it: readyToUse, restoreSize (bytes),
// snapshotHandle, creationTime (Unix nanoseconds).
json contentStatus(bool ready, const std::string& restoreSize, const std::string& snapshotHandle,
                   std::int64_t creationUnixNanos);
// The VolumeSnapshot status: boundVolumeSnapshotContentName, creationTime,
// readyToUse, restoreSize, and no error.
json snapshotStatus(const std::string& contentName, const std::string& creationTime, bool ready,
                    const std::string& restoreSize);
json snapshotErrorStatus(const std::string& message, const std::string& time);

// ---- KubeVirt's snapshot controller (snapshot.kubevirt.io/v1beta1) ----------------

inline constexpr const char* kVmSnapshotApiVersion = "snapshot.kubevirt.io/v1beta1";
// The simulator's own mark of a VirtualMachineSnapshot's deletionPolicy
// retain on its content (KubeVirt reads the policy from the snapshot, kept
// by a finalizer the simulator does not add).
inline constexpr const char* kRetainAnnotation = "kubevirt-sim.kubec2.io/retain";

// vmsnapshot-content-<uid> and vmsnapshot-<uid>-volume-<volume>, as KubeVirt
// names them.
std::string vmSnapshotContentName(const std::string& vmSnapshotUid);
std::string vmVolumeSnapshotName(const std::string& vmSnapshotUid, const std::string& volume);

struct VolumeClaim {
  std::string volume;  // the VM volume's name
  std::string claim;   // persistentVolumeClaim.claimName, or the dataVolume's name
};
// The VM's template volumes backed by a claim (persistentVolumeClaim or
// dataVolume), in order; and every volume's name.
std::vector<VolumeClaim> vmClaimVolumes(const json& vm);
std::vector<std::string> vmVolumeNames(const json& vm);

// KubeVirt's choice of VolumeSnapshotClass for a claim: the classes of the
// claim's driver (here always kubevirt-sim.kubec2.io: no StorageClass
// exists); one is it, of several the one annotated is-default-class. Empty
// when none (the volume is then left out of the snapshot); `error` set for
// several and no default ("<n> matching VolumeSnapshotClasses for <sc>").
struct VmSnapshotClassChoice {
  std::string name;
  std::string error;
};
VmSnapshotClassChoice vmSnapshotClass(const std::vector<json>& classes,
                                      const std::string& storageClass);

// The VirtualMachineSnapshotContent: same namespace, spec.virtualMachineSnapshotName,
// spec.source.virtualMachine (the VM's name, namespace, uid, labels,
// annotations and spec), spec.volumeBackups[] {volumeName,
// persistentVolumeClaim {metadata (name, namespace, labels, annotations),
// spec}, volumeSnapshotName}. `claims[i]` is the claim of `volumes[i]`.
json renderVmSnapshotContent(const json& vmSnapshot, const json& vm,
                             const std::vector<VolumeClaim>& volumes,
                             const std::vector<json>& claims);
// The VolumeSnapshot of one backup: labels snapshot.kubevirt.io/source-vm-name
// and -namespace, a controller ownerReference to the content, the claim as
// source, the class.
json renderVmVolumeSnapshot(const json& content, const json& backup,
                            const std::string& snapshotClass);

// The content's status from its VolumeSnapshots (`snapshots[i]` for
// volumeBackups[i], null when absent): volumeSnapshotStatus[], readyToUse
// (all ready), creationTime (kept from `current`, else `now` once all are
// cut), error ("VolumeSnapshot <name> error: <message>", or "VolumeSnapshots
// (<names>) missing" for ones deleted after the cut).
json vmSnapshotContentStatus(const json& content, const std::vector<json>& snapshots,
                             const json& current, const std::string& now);

struct VmSnapshotView {
  bool sourceExists = false;
  std::string sourceUid;
  bool online = false;  // the VM has a VMI (no guest agent is simulated)
  bool locked = false;  // the source is taken (content being made)
  json content;         // null until made
  bool deadlineExceeded = false;
  std::vector<std::string> includedVolumes, excludedVolumes;
};
// status as KubeVirt's updateSnapshotStatus writes it: phase InProgress ->
// Succeeded (content creationTime set) or Failed (failureDeadline passed),
// readyToUse, creationTime, virtualMachineSnapshotContentName, sourceUID,
// error, conditions Progressing and Ready (reasons as KubeVirt's: "Source
// does not exist", "Source locked and operation in progress", "Operation
// complete", "Ready", "Not ready", ...), Failure on the deadline,
// indications (Online, NoGuestAgent) while in progress, snapshotVolumes.
// Conditions have no times here (see withTransitionTimes).
json vmSnapshotStatus(const json& current, const VmSnapshotView& v);
// spec.failureDeadline as a Go duration ("5m0s", "90s", "1h"); default 5m.
std::optional<std::chrono::milliseconds> parseGoDuration(const std::string& s);

}  // namespace kubec2::sim
