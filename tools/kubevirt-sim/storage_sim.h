// The simulator's storage side (a TEST TOOL, like the rest of
// tools/kubevirt-sim): on a control plane without CDI, without the CSI
// snapshot-controller and without a CSI driver, it plays them, each only
// when its API is served (main.cpp checks discovery and says which):
//
//  - CDI (cdi.kubevirt.io/v1beta1 datavolumes): a PersistentVolumeClaim per
//    DataVolume, reported Bound at once (there is no PV and no provisioner),
//    and the DataVolume's status; a clone source (pvc, VolumeSnapshot) that
//    is missing or not ready keeps it CloneScheduled until it is. The VM
//    side (virt-controller creating a VM's dataVolumeTemplates and waiting
//    for them) is syncVmDataVolumes, called from the VM reconcile.
//  - the snapshot-controller and a CSI driver (snapshot.storage.k8s.io/v1):
//    a VolumeSnapshotContent per dynamic VolumeSnapshot, the snapshot's
//    status (or status.error, with upstream's messages), readyToUse after
//    --snapshot-delay-ms, and the content deleted with its snapshot when its
//    deletionPolicy is Delete.
//  - KubeVirt's snapshot controller (snapshot.kubevirt.io/v1beta1, with the
//    above): a VirtualMachineSnapshot gets a VirtualMachineSnapshotContent
//    and a VolumeSnapshot per claim-backed volume, and KubeVirt's status;
//    deleting it deletes them (deletionPolicy delete, the default).
//
// Pure decisions are in storage_model.h. API errors throw; the runtime's
// controllers retry the key with backoff.
#pragma once

#include <chrono>
#include <string>

#include "api/resources.h"
#include "runtime/client.h"
#include "runtime/clock.h"
#include "runtime/controller.h"
#include "runtime/informer.h"
#include "runtime/manager.h"
#include "runtime/object.h"
#include "tools/kubevirt-sim/storage_model.h"

namespace kubec2::sim {

using api::kDataVolumes;
using api::kPersistentVolumeClaims;
inline const kube::Resource kVolumeSnapshots{"snapshot.storage.k8s.io", "v1", "volumesnapshots",
                                             true, "VolumeSnapshot"};
inline const kube::Resource kVolumeSnapshotClasses{
    "snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", false, "VolumeSnapshotClass"};
inline const kube::Resource kVolumeSnapshotContents{
    "snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", false, "VolumeSnapshotContent"};
inline const kube::Resource kVirtualMachineSnapshots{
    "snapshot.kubevirt.io", "v1beta1", "virtualmachinesnapshots", true, "VirtualMachineSnapshot"};
inline const kube::Resource kVirtualMachineSnapshotContents{"snapshot.kubevirt.io", "v1beta1",
                                                            "virtualmachinesnapshotcontents", true,
                                                            "VirtualMachineSnapshotContent"};

struct StorageOptions {
  std::string namespace_;  // empty: all
  bool cdi = false;        // play CDI (DataVolumes served)
  bool snapshots = false;  // play the snapshot-controller and a CSI driver (VolumeSnapshots served)
  // Play KubeVirt's snapshot controller (VirtualMachineSnapshots served; needs `snapshots`).
  bool vmSnapshots = false;
  std::chrono::milliseconds snapshotDelay{0};  // cut -> readyToUse
  int workers = 4;
  const kube::Clock* clock = nullptr;  // nullptr: the system clock
};

class StorageSim {
 public:
  // Registers the informers and controllers of what is played with `mgr`.
  StorageSim(kube::Manager& mgr, StorageOptions opts);

  bool playsCdi() const { return opts_.cdi; }
  bool playsSnapshots() const { return opts_.snapshots; }
  // The DataVolume informer (null without CDI): the VM controller watches it.
  kube::Informer<kube::RawObject>* dataVolumes() { return dvs_; }

  // virt-controller's part for one VM: creates its templated DataVolumes
  // that do not exist yet (AlreadyExists is fine), and says whether its
  // DataVolumes let the VMI be created.
  VmVolumesView syncVmDataVolumes(const nlohmann::json& vm);

  kube::Result reconcileDataVolume(const kube::Request& req);
  kube::Result reconcileSnapshot(const kube::Request& req);
  kube::Result reconcileContent(const kube::Request& req);
  kube::Result reconcileVmSnapshot(const kube::Request& req);
  kube::Result reconcileVmSnapshotContent(const kube::Request& req);

 private:
  std::string now() const;
  bool inScope(const std::string& ns) const {
    return opts_.namespace_.empty() || ns == opts_.namespace_;
  }
  std::optional<nlohmann::json> getObject(kube::Informer<kube::RawObject>* inf,
                                          const kube::Resource& r, const std::string& ns,
                                          const std::string& name);
  void writeDataVolumeStatus(const kube::RawObject& dv, nlohmann::json desired);
  void writeSnapshotStatus(const nlohmann::json& vs, const nlohmann::json& desired);

  StorageOptions opts_;
  const kube::Clock& clock_;
  kube::Client& client_;
  kube::Informer<kube::RawObject>* dvs_ = nullptr;
  kube::Informer<kube::RawObject>* pvcs_ = nullptr;
  kube::Informer<kube::RawObject>* vss_ = nullptr;
  kube::Informer<kube::RawObject>* classes_ = nullptr;
  kube::Informer<kube::RawObject>* contents_ = nullptr;
  kube::Informer<kube::RawObject>* vms_ = nullptr;
  kube::Informer<kube::RawObject>* vmis_ = nullptr;
  kube::Informer<kube::RawObject>* vmSnapshots_ = nullptr;
  kube::Informer<kube::RawObject>* vmContents_ = nullptr;
};

}  // namespace kubec2::sim
