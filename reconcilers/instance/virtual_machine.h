// The KubeVirt objects an Instance becomes, as server-side apply
// configurations: only the fields the operator owns, so what KubeVirt and
// users set elsewhere is left alone. Pure functions of their inputs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconcilers/instance/instance_types.h"
#include "reconcilers/instance/launch.h"

namespace kubec2::reconcilers {

// Labels the operator puts on VMs, their VMIs (so virt-launcher pods and
// KubeVirt's metrics carry them) and NetworkPolicies.
inline constexpr const char* kInstanceLabel = "compute.kubec2.io/instance";
inline constexpr const char* kScalingGroupLabel = "compute.kubec2.io/scaling-group";
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";  // = kubec2
// On the VM: the LaunchTemplate version number it was rendered from.
inline constexpr const char* kLaunchTemplateVersionAnnotation =
    "compute.kubec2.io/launch-template-version";
// On the NetworkPolicy: the security group rules not written in full
// ("web.ingress[1]: ports 1000-2000, only 1000-1099 written; ..."), for the
// reconciler to report.
inline constexpr const char* kTruncatedRulesAnnotation = "compute.kubec2.io/truncated-rules";

struct VmInputs {
  const v1::Instance* instance = nullptr;  // name, namespace, uid, labels, desiredState
  const LaunchResolution* launch = nullptr;
  InstanceTypeInfo type;
  std::vector<std::string> sshPublicKeys;  // from the key pair Secret, in key order
  std::optional<std::string> userData;     // inline or from its Secret, as the user wrote it
};

// The cloud-init user data: the user's #cloud-config with the SSH keys
// merged into ssh_authorized_keys (kept when the user's data is a shell
// script or another format cloud-init reads: then the keys go in a
// multipart MIME message with the user's part unchanged). Empty optional
// when there is neither user data nor a key.
std::optional<std::string> renderCloudInit(const std::optional<std::string>& userData,
                                           const std::vector<std::string>& sshPublicKeys);

// The kubevirt.io/v1 VirtualMachine, named as the Instance, in its
// namespace, with a controller ownerReference to it, labels (kubec2 labels:
// instance, scaling group when the Instance carries that label,
// managed-by; plus each tag whose key and value are valid label key and
// value), runStrategy Always or Halted from spec.desiredState, and a
// template with: CPU (cores = vCPU) and memory (guest and the memory
// request, MiB), a virtio root disk from a containerDisk or a
// dataVolumeTemplate (http, registry, pvc clone; size from volumes.root,
// default 10Gi for http/registry), one dataVolumeTemplate per extra volume
// (blank source, size, storage class), cloudInitNoCloud user data, a
// masquerade interface on the pod network, and node affinity
// topology.kubernetes.io/zone In [availabilityZone] when set. Every field
// must exist in KubeVirt's schema (third_party/kubevirt/crds).
nlohmann::json renderVirtualMachine(const VmInputs& in);

// The networking.k8s.io/v1 NetworkPolicy for the Instance's security groups,
// named "<instance>-sg", selecting the VM's virt-launcher pod by the
// instance label: Ingress policy type (deny by default), one ingress rule
// per security group rule (protocol TCP/UDP/SCTP, or every protocol for
// `all`; ports fromPort..toPort — one port entry per port for a range, as
// endPort needs Kubernetes 1.22 — capped at the first 100 ports of a range,
// the rule then named in the kTruncatedRulesAnnotation annotation, as is a
// rule whose toPort is below its fromPort, left out; peers from CIDRs
// (ipBlock) and instance selectors (podSelector on the same labels the VMs
// carry); a rule without sources is left out, as NetworkPolicy would read
// it as "from anywhere"). nullopt when
// the launch has no securityGroups (no policy; the namespace's own apply);
// an empty list gives a policy allowing no ingress.
std::optional<nlohmann::json> renderNetworkPolicy(const v1::Instance& instance,
                                                  const v1::LaunchSpec& launch);

}  // namespace kubec2::reconcilers
