// The resources of other APIs kubec2 reads and writes, named once. The four
// kinds of compute.kubec2.io have theirs as Kind::resource() (generated).
#pragma once

#include "runtime/resource.h"

namespace kubec2::api {

// KubeVirt (third_party/kubevirt; ../shared/kubevirt/README.md).
inline const kube::Resource kVirtualMachines{"kubevirt.io", "v1", "virtualmachines", true,
                                             "VirtualMachine"};
inline const kube::Resource kVirtualMachineInstances{"kubevirt.io", "v1", "virtualmachineinstances",
                                                     true, "VirtualMachineInstance"};
// CDI: the volumes of dataVolumeTemplates.
inline const kube::Resource kDataVolumes{"cdi.kubevirt.io", "v1beta1", "datavolumes", true,
                                         "DataVolume"};
// Kubernetes.
inline const kube::Resource kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies", true,
                                             "NetworkPolicy"};
inline const kube::Resource kSecrets{"", "v1", "secrets", true, "Secret"};
inline const kube::Resource kConfigMaps{"", "v1", "configmaps", true, "ConfigMap"};
inline const kube::Resource kNodes{"", "v1", "nodes", false, "Node"};
inline const kube::Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims", true,
                                                    "PersistentVolumeClaim"};
// A LoadBalancer's objects. EndpointSlices are discovery.k8s.io/v1 from
// Kubernetes 1.21; older servers (the test control plane is 1.20) serve
// only v1beta1, whose shape differs in nodeName and zone (render.h).
inline const kube::Resource kServices{"", "v1", "services", true, "Service"};
inline const kube::Resource kEndpointSlicesV1{"discovery.k8s.io", "v1", "endpointslices", true,
                                              "EndpointSlice"};
inline const kube::Resource kEndpointSlicesV1beta1{"discovery.k8s.io", "v1beta1", "endpointslices",
                                                   true, "EndpointSlice"};
inline const kube::Resource kIngresses{"networking.k8s.io", "v1", "ingresses", true, "Ingress"};
// CSI snapshots (kubernetes-csi/external-snapshotter; third_party/external-snapshotter).
inline const kube::Resource kVolumeSnapshots{"snapshot.storage.k8s.io", "v1", "volumesnapshots",
                                             true, "VolumeSnapshot"};
inline const kube::Resource kVolumeSnapshotClasses{
    "snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", false, "VolumeSnapshotClass"};
// KubeVirt's VM snapshots (third_party/kubevirt/crds).
inline const kube::Resource kVirtualMachineSnapshots{
    "snapshot.kubevirt.io", "v1beta1", "virtualmachinesnapshots", true, "VirtualMachineSnapshot"};
inline const kube::Resource kVirtualMachineSnapshotContents{"snapshot.kubevirt.io", "v1beta1",
                                                            "virtualmachinesnapshotcontents", true,
                                                            "VirtualMachineSnapshotContent"};

}  // namespace kubec2::api
