// The API resources the tests of the operator binary read and write, named
// once (group, version, plural, namespaced, kind) as the API server serves
// them: the compute API (crds/), KubeVirt's (third_party/kubevirt/crds) and
// Kubernetes' own at the test control plane's version.
#pragma once

#include "runtime/resource.h"

namespace kube::testing {

inline const Resource kInstances{"compute.kubec2.io", "v1alpha1", "instances", true, "Instance"};
inline const Resource kGroups{"compute.kubec2.io", "v1alpha1", "scalinggroups", true,
                              "ScalingGroup"};
inline const Resource kTemplates{"compute.kubec2.io", "v1alpha1", "launchtemplates", true,
                                 "LaunchTemplate"};
inline const Resource kLoadBalancers{"compute.kubec2.io", "v1alpha1", "loadbalancers", true,
                                     "LoadBalancer"};
inline const Resource kElasticIPs{"compute.kubec2.io", "v1alpha1", "elasticips", true, "ElasticIP"};
inline const Resource kSnapshots{"compute.kubec2.io", "v1alpha1", "snapshots", true, "Snapshot"};
inline const Resource kVolumeSnapshots{"snapshot.storage.k8s.io", "v1", "volumesnapshots", true,
                                       "VolumeSnapshot"};
inline const Resource kDataVolumes{"cdi.kubevirt.io", "v1beta1", "datavolumes", true, "DataVolume"};
inline const Resource kVMs{"kubevirt.io", "v1", "virtualmachines", true, "VirtualMachine"};
inline const Resource kEvents{"", "v1", "events", true, "Event"};
inline const Resource kSecrets{"", "v1", "secrets", true, "Secret"};
inline const Resource kServices{"", "v1", "services", true, "Service"};
inline const Resource kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};
inline const Resource kValidating{"admissionregistration.k8s.io", "v1",
                                  "validatingwebhookconfigurations", false,
                                  "ValidatingWebhookConfiguration"};
inline const Resource kMutating{"admissionregistration.k8s.io", "v1",
                                "mutatingwebhookconfigurations", false,
                                "MutatingWebhookConfiguration"};

}  // namespace kube::testing
