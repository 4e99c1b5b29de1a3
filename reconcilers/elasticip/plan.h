// An ElasticIP's reconcile as a pure function (docs/elastic-ips.md): the
// Service that holds the address, the one EndpointSlice whose single
// endpoint is the associated instance, the status and the Events. The
// controller (controllers/elasticip/) observes, calls planElasticIP and
// executes the plan.
//
// What the operator writes, all owned by the ElasticIP (controller
// ownerReference: deleting it releases the address, through the garbage
// collector) and labelled app.kubernetes.io/managed-by=kubec2 and
// compute.kubec2.io/elastic-ip=<name>:
//  - Service <name>: no selector; type ClusterIP (scheme internal) or
//    LoadBalancer (internet-facing); spec.clusterIP (internal) or
//    spec.loadBalancerIP (internet-facing) when spec.address is set, and
//    for internal without it the cluster IP it was given (status.address),
//    so a Service deleted by someone else comes back at the same address;
//    one port per spec.ports entry (name: the entry's, else the protocol in
//    lower case and the port, as tcp-22; targetPort: the entry's, else the
//    port). A selector or ports someone else added are removed (a merge
//    patch guarded by resourceVersion, then the apply; a Warning Event
//    ServiceRestored names who changed them): a selector would let the
//    EndpointSlice controller add pods beside the one instance.
//  - EndpointSlice <name>.eip (the dot cannot occur in a LoadBalancer's
//    slice names' last part, nor in a Service name, so no other kubec2
//    slice has it): kubernetes.io/service-name=<name>,
//    endpointslice.kubernetes.io/managed-by=elasticip.compute.kubec2.io;
//    one port per Service port (same name and protocol, the target port:
//    kube-proxy pairs them by name); at most one endpoint, the associated
//    instance while it runs with an address of the Service's family
//    (ready), none otherwise (Associated False AddressFamilyMismatch for
//    an instance of the other family). Its addressType is the Service's
//    family (spec.ipFamilies[0], else spec.address's), else the
//    instance's, else the slice's own; a slice of the other type is
//    deleted first (addressType is immutable).
//
// Association (status.association): the Instance named by
// spec.instanceRef exists in the namespace (from the cache) and is not
// being deleted. A stopped instance keeps it (as in EC2); a terminating
// or deleted one loses it at once, and the address stays allocated. A
// change of spec.instanceRef replaces the slice's endpoint in one write,
// so no moment has both instances in it.
//
// Order: the slice, the status and Events, then the Service, so that a
// Service the server refuses never holds up a move nor the status. An
// ElasticIP being deleted gets an empty plan: the garbage collector
// releases the address (kubectl delete --cascade=orphan keeps it).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"
#include "reconcilers/common/applied.h"
#include "reconcilers/common/plan.h"
#include "reconcilers/common/service_endpoints.h"

namespace kubec2::reconcilers::elasticip {

namespace v1 = kubec2::api::v1alpha1;
using Time = std::chrono::system_clock::time_point;

struct ElasticIPObservation {
  const v1::ElasticIP* elasticIP = nullptr;  // never null
  // The Instance spec.instanceRef names, from the cache; null when there is
  // no instanceRef or no such Instance.
  const v1::Instance* instance = nullptr;
  // The Service of the ElasticIP's name that it controls (null: none), and
  // the record of the operator's last apply of it.
  const nlohmann::json* service = nullptr;
  const AppliedRecord* serviceApplied = nullptr;
  // A Service of the ElasticIP's name exists that it does not control (a
  // user's, a LoadBalancer's, or an older ElasticIP's not yet collected):
  // kubec2 never takes it over.
  bool serviceNameTaken = false;
  // Its EndpointSlice (controlled by it; null: none) and the last apply.
  const nlohmann::json* endpointSlice = nullptr;
  const AppliedRecord* endpointSliceApplied = nullptr;
  DiscoveryVersion discovery = DiscoveryVersion::V1;
  Time now{};
};

// A Service of the ElasticIP's name that it does not control is checked
// again this often (it is not watched).
inline constexpr std::chrono::seconds kRecheckNameTaken{30};

// Conditions (docs/elastic-ips.md, "What a user sees"):
//  - Ready: True (Allocated) once the Service exists with an address;
//    False Provisioning (being created), ServiceRecreated (deleted by
//    someone else: re-created asking for its address again; a Warning
//    Event), AddressPending (internet-facing, no external address assigned
//    yet) or NameConflict (see serviceNameTaken: nothing is written, one
//    Warning Event). A Service the API server refuses (a spec.address
//    another Service holds, or outside the Service IP range) is reported
//    by the executor: Ready False WriteFailed with the server's answer and
//    a Warning Event; the plan keeps that condition while the Service
//    does not exist.
//  - Associated: True InstanceRunning (traffic reaches it) or
//    InstanceNotRunning (associated; it has no address until it runs);
//    False NotRequested (no instanceRef), InstanceNotFound,
//    InstanceTerminating or NameConflict.
// Events (Normal): Associated when the address moves to an instance (or
// to another one), Disassociated when it leaves one (the reason said).
Plan planElasticIP(const ElasticIPObservation& o);

// The Service and the EndpointSlice the plan applies (without the applied
// stamp), for tests and the plan. `endpoint` is the associated instance
// when it runs with an address, else null. The Service's fixed address
// comes from spec.address, else (internal) status.address.
nlohmann::json renderService(const v1::ElasticIP& eip);
// `addressType` is IPv4 or IPv6 (the Service's family).
nlohmann::json renderEndpointSlice(const v1::ElasticIP& eip, const Endpoint* endpoint,
                                   const std::string& addressType, DiscoveryVersion discovery);
// <name>.eip
std::string endpointSliceName(const std::string& elasticIP);

}  // namespace kubec2::reconcilers::elasticip
