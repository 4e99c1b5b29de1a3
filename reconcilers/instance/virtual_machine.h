// The KubeVirt VirtualMachine an Instance becomes, as a server-side apply
// configuration: only the fields the operator owns, so what KubeVirt and
// users set elsewhere is left alone. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconcilers/instance/instance_types.h"
#include "reconcilers/launchtemplate/launch.h"

namespace kubec2::reconcilers {

// What a start of the instance uses, as EC2's launch-time fields: the
// instance type, the volumes, and which user data and key pair were asked
// for (fingerprints of the spec's fields, not of their contents). Recorded
// on the VM (annotation compute.kubec2.io/launch-inputs) when it is
// rendered for a start, and on its template (so KubeVirt copies it to the
// VMI); while the instance runs, the VM keeps being rendered from the
// inputs its VMI started with, so a change waits for the next start (the
// API's promise) and status shows the inputs in force.
struct LaunchInputs {
  InstanceTypeInfo type;
  std::optional<v1::InstanceVolumes> volumes;
  std::string userData;  // fingerprint of spec.userData as resolved; "" when none
  std::string keyPair;   // fingerprint of spec.keyPair as resolved; "" when none

  // From a resolved launch and its resolved instance type.
  static LaunchInputs of(const v1::LaunchSpec& launch, const InstanceTypeInfo& type);
  nlohmann::json toJson() const;
  // nullopt when `j` is not what toJson() writes.
  static std::optional<LaunchInputs> fromJson(const nlohmann::json& j);
  // The inputs recorded on a VM or a VMI (from the VM's template), if any.
  static std::optional<LaunchInputs> onVm(const nlohmann::json* vmOrVmi);
  // The API fields that differ ("instanceType", "volumes", "userData", "keyPair").
  std::vector<std::string> differences(const LaunchInputs& other) const;
  bool operator==(const LaunchInputs&) const = default;
};

struct VmInputs {
  const v1::Instance* instance = nullptr;    // name, namespace, uid, labels, desiredState
  const LaunchResolution* launch = nullptr;  // image, tags, zone, template version
  LaunchInputs inputs;                       // type and volumes rendered
  std::optional<nlohmann::json> cloudInit;   // the "cloudinit" volume, when there is one
  // The VolumeSnapshot a volume restored from a Snapshot starts from, by
  // DataVolume name, where it is not api::volumeSnapshotName() (copies
  // KubeVirt's VirtualMachineSnapshot made are named by KubeVirt).
  std::map<std::string, std::string> restoredFrom;
};

// The kubevirt.io/v1 VirtualMachine, named as the Instance, in its
// namespace, with a controller ownerReference to it, labels (labels.h),
// annotations (launch template version, launch inputs, volumes kept on
// termination), runStrategy Always or Halted from spec.desiredState, and a
// template with: CPU (cores = vCPU) and memory (guest and the memory
// request, MiB), a virtio root disk from a containerDisk or a
// dataVolumeTemplate (volumes.h: http, registry, pvc clone), one
// dataVolumeTemplate per extra volume, the cloud-init volume, a masquerade
// interface on the pod network, and node affinity
// topology.kubernetes.io/zone In [availabilityZone] when set. Every field
// must exist in KubeVirt's schema (third_party/kubevirt/crds). Throws
// std::invalid_argument when instance or launch is missing or the launch
// has no image (planInstance never calls it so).
nlohmann::json renderVirtualMachine(const VmInputs& in);

// The VM's "cloudinit" volume as launched, if it has one.
const nlohmann::json* launchedCloudInit(const nlohmann::json* vm);

}  // namespace kubec2::reconcilers
