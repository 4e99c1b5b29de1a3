// The CRD files a test control plane installs (ControlPlaneOptions::crds).
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace kube::testing {

// The compute API's CRDs, crds/compute.kubec2.io_*, in name order (not
// crds/kustomization.yaml, which lists them for kustomize).
inline std::vector<std::string> computeCrdFiles() {
  std::vector<std::string> out;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(KUBEC2_SOURCE_DIR) + "/crds"))
    if (e.path().filename().string().starts_with("compute.kubec2.io_"))
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// KubeVirt's real API schema (third_party/kubevirt/crds): every VM written
// is checked against it.
inline std::vector<std::string> kubevirtCrdFiles() {
  std::vector<std::string> out;
  for (const char* f :
       {"kubevirt.io_virtualmachines.json", "kubevirt.io_virtualmachineinstances.json"})
    out.push_back(std::string(KUBEC2_SOURCE_DIR) + "/third_party/kubevirt/crds/" + f);
  return out;
}

// Snapshot APIs: external-snapshotter's snapshot.storage.k8s.io/v1
// (third_party/external-snapshotter/crds: VolumeSnapshot, VolumeSnapshotClass,
// VolumeSnapshotContent) and KubeVirt's snapshot.kubevirt.io/v1beta1
// (third_party/kubevirt/crds: VirtualMachineSnapshot,
// VirtualMachineSnapshotContent, VirtualMachineRestore).
inline std::vector<std::string> snapshotCrdFiles() {
  std::vector<std::string> out;
  for (const char* f : {"snapshot.storage.k8s.io_volumesnapshotclasses.json",
                        "snapshot.storage.k8s.io_volumesnapshotcontents.json",
                        "snapshot.storage.k8s.io_volumesnapshots.json"})
    out.push_back(std::string(KUBEC2_SOURCE_DIR) + "/third_party/external-snapshotter/crds/" + f);
  for (const char* f : {"snapshot.kubevirt.io_virtualmachinesnapshots.json",
                        "snapshot.kubevirt.io_virtualmachinesnapshotcontents.json",
                        "snapshot.kubevirt.io_virtualmachinerestores.json"})
    out.push_back(std::string(KUBEC2_SOURCE_DIR) + "/third_party/kubevirt/crds/" + f);
  return out;
}

// CDI's DataVolume, cdi.kubevirt.io/v1beta1 (third_party/cdi/crds).
inline std::vector<std::string> cdiCrdFiles() {
  return {std::string(KUBEC2_SOURCE_DIR) +
          "/third_party/cdi/crds/cdi.kubevirt.io_datavolumes.json"};
}

}  // namespace kube::testing
