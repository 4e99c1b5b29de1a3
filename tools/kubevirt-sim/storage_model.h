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
//  - the CSI driver: readyToUse after --snapshot-delay-ms.
//
// Phases, reasons and messages are upstream's (see README.md, "Storage", for
// where each was read).
#pragma once

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

}  // namespace kubec2::sim
