// Every label, annotation and finalizer kubec2 puts on objects, in one place
// (as Kubernetes' well_known_labels.go), so the webhook, the reconcilers and
// the tests name them the same way. Everything under compute.kubec2.io/ is
// the operator's: users' tags under that prefix are not copied to labels.
#pragma once

namespace kubec2::api {

// The API group of the six kinds, and the prefix of kubec2's own names.
inline constexpr const char* kGroup = "compute.kubec2.io";
inline constexpr const char* kApiVersion = "compute.kubec2.io/v1alpha1";
inline constexpr const char* kReservedPrefix = "compute.kubec2.io/";

// --- Labels -----------------------------------------------------------------

// On every object the operator creates for an Instance (VM, its template
// and so the VMI, its pod and KubeVirt's metrics; NetworkPolicy; volumes;
// the cloud-init Secret): the Instance's name.
inline constexpr const char* kInstanceLabel = "compute.kubec2.io/instance";
// On an Instance a ScalingGroup launched, and copied to its VM: the group's
// name. The group's selector (status.selector) is this label.
inline constexpr const char* kScalingGroupLabel = "compute.kubec2.io/scaling-group";
// app.kubernetes.io/managed-by=kubec2 on everything the operator creates
// (Kubernetes' recommended label); the operator's informers of
// NetworkPolicies select on it.
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "kubec2";
// On the Service, EndpointSlices and Ingress of a LoadBalancer: its name.
inline constexpr const char* kLoadBalancerLabel = "compute.kubec2.io/load-balancer";
// On a LoadBalancer's EndpointSlices: the target group whose targets the
// slice holds.
inline constexpr const char* kTargetGroupLabel = "compute.kubec2.io/target-group";
// The value of endpointslice.kubernetes.io/managed-by on a LoadBalancer's
// EndpointSlices: not the EndpointSlice controller's
// (endpointslice-controller.k8s.io), so that controller leaves them alone.
inline constexpr const char* kEndpointSliceManagedByValue = "loadbalancer.compute.kubec2.io";
// On the Service and EndpointSlice of an ElasticIP: its name.
inline constexpr const char* kElasticIPLabel = "compute.kubec2.io/elastic-ip";
// The value of endpointslice.kubernetes.io/managed-by on an ElasticIP's
// EndpointSlice (not the EndpointSlice controller's, nor a LoadBalancer's).
inline constexpr const char* kElasticIPEndpointSliceManagedByValue = "elasticip.compute.kubec2.io";
// On the VolumeSnapshots of a Snapshot: its name.
inline constexpr const char* kSnapshotLabel = "compute.kubec2.io/snapshot";
// On a Snapshot an Instance's snapshotSchedule took: "true" (with
// kInstanceLabel naming the instance). Only these count for its retention.
inline constexpr const char* kScheduleLabel = "compute.kubec2.io/schedule";
// On such a Snapshot: the uid of the Instance whose schedule took it, so an
// Instance of the same name created later neither counts nor trims it.
inline constexpr const char* kInstanceUidLabel = "compute.kubec2.io/instance-uid";
// On such a Snapshot: the scheduled time it was taken for (RFC 3339, UTC).
inline constexpr const char* kScheduledForAnnotation = "compute.kubec2.io/scheduled-for";
// On an Instance of a ScalingGroup's warm pool: "true". Warm instances are
// outside the group's capacity and service until the group takes them.
inline constexpr const char* kWarmPoolLabel = "compute.kubec2.io/warm-pool";

// --- Annotations ------------------------------------------------------------

// On every applied object: the fingerprint of the configuration applied
// (reconcilers/common/applied.h).
inline constexpr const char* kAppliedAnnotation = "compute.kubec2.io/applied";
// On the VM: the LaunchTemplate version number it was rendered from.
inline constexpr const char* kLaunchTemplateVersionAnnotation =
    "compute.kubec2.io/launch-template-version";
// On the VM and its template (so on the VMI): the launch-time inputs it was
// rendered from (instance type, volumes, fingerprints of the user data and
// key pair asked for): changes to them wait for the next start
// (docs/instances.md).
inline constexpr const char* kLaunchInputsAnnotation = "compute.kubec2.io/launch-inputs";
// On the VM: the DataVolumes kept when the instance terminates
// (deleteOnTermination false), recorded at launch.
inline constexpr const char* kKeptVolumesAnnotation =
    "compute.kubec2.io/volumes-kept-on-termination";
// On the NetworkPolicy: the security group rules not written in full
// ("web.ingress[1]: ports 1000-2000, only 1000-1099 written; ...").
inline constexpr const char* kTruncatedRulesAnnotation = "compute.kubec2.io/truncated-rules";
// On an Instance of a ScalingGroup: "true" keeps the group's scale-in from
// choosing it (EC2's instance scale-in protection); set by the user.
inline constexpr const char* kProtectedFromScaleInAnnotation =
    "compute.kubec2.io/protected-from-scale-in";
// On a warm-pool Instance: "true" once it has been running, so it is
// prepared (its user data ran) and may wait stopped or move into service.
inline constexpr const char* kWarmPoolPreparedAnnotation = "compute.kubec2.io/warm-pool-prepared";
// On a ScalingGroup: a refresh on request; each new value starts an
// instance refresh replacing every instance, matching or not.
inline constexpr const char* kInstanceRefreshAnnotation = "compute.kubec2.io/instance-refresh";

// On a LoadBalancer: the ingress class of its Ingress (spec.ingressClassName),
// overriding the operator's --ingress-class.
inline constexpr const char* kIngressClassAnnotation = "compute.kubec2.io/ingress-class";

// On an Instance a ScalingGroup took from its warm pool: when (RFC 3339).
// Its health check grace period counts from then, as it starts then.
inline constexpr const char* kLeftWarmPoolAnnotation = "compute.kubec2.io/left-warm-pool";

// On an Instance a ScalingGroup launched above its capacity on purpose:
// "rebalance" (AZRebalance launches before it terminates) or "replacement"
// (an instance refresh or lifetime replacement launching first). While such
// an instance is pending, the group does not scale in the surplus.
inline constexpr const char* kLaunchedForAnnotation = "compute.kubec2.io/launched-for";

// --- Finalizers -------------------------------------------------------------

// Keeps an Instance until its VM and its deleteOnTermination volumes are
// gone (and then for the terminated-instance retention).
inline constexpr const char* kInstanceFinalizer = "compute.kubec2.io/instance";

// Keeps a ScalingGroup until every instance it launched is gone, so no VM
// outlives its group (EC2's force delete; docs/scaling-groups.md).
inline constexpr const char* kScalingGroupFinalizer = "compute.kubec2.io/scaling-group";

// LaunchTemplates carry no label, annotation or finalizer of kubec2's; a
// LoadBalancer only the ingress-class annotation its user sets (its
// controller adds any finalizer here).

}  // namespace kubec2::api
