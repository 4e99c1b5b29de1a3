#include "reconcilers/elasticip/plan.h"

#include "api/elastic_ip.h"
#include "api/resources.h"
#include "api/well_known.h"
#include "reconcilers/common/conditions.h"
#include "reconcilers/common/observed.h"
#include "runtime/finalizers.h"
#include "runtime/object.h"
#include "runtime/strings.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers::elasticip {
namespace {

using nlohmann::json;

json labelsOf(const v1::ElasticIP& eip) {
  return {{api::kManagedByLabel, api::kManagedByValue}, {api::kElasticIPLabel, eip.metadata.name}};
}

json metadataOf(const v1::ElasticIP& eip, const std::string& name, json labels) {
  return {{"name", name},
          {"namespace", eip.metadata.namespace_},
          {"labels", std::move(labels)},
          {"ownerReferences",
           json::array({kube::controllerOwnerRef(api::kApiVersion, "ElasticIP", eip.metadata.name,
                                                 eip.metadata.uid)})}};
}

std::string protocolOf(const v1::ElasticIPPort& p) {
  return p.protocol.value_or("TCP");
}

bool isIPv6(const std::string& ip) {
  return ip.find(':') != std::string::npos;
}

// What the instance is to the address now.
enum class InstanceState { None, NotFound, Terminating, NotRunning, Running };

InstanceState stateOf(const ElasticIPObservation& o) {
  if (!o.elasticIP->spec.instanceRef) return InstanceState::None;
  if (o.instance == nullptr) return InstanceState::NotFound;
  if (o.instance->metadata.deletionTimestamp) return InstanceState::Terminating;
  const auto& st = o.instance->status;
  if (st && st->state.value_or("") == "running" && !st->privateIP.value_or("").empty())
    return InstanceState::Running;
  return InstanceState::NotRunning;
}

}  // namespace

std::string endpointSliceName(const std::string& elasticIP) {
  return elasticIP + ".eip";
}

json renderService(const v1::ElasticIP& eip) {
  json ports = json::array();
  for (const auto& p : eip.spec.ports)
    ports.push_back({{"name", api::elasticIPPortName(p)},
                     {"port", p.port},
                     {"protocol", protocolOf(p)},
                     {"targetPort", p.targetPort.value_or(p.port)}});
  const bool external = eip.spec.scheme.value_or("internal") == "internet-facing";
  json spec = {{"type", external ? "LoadBalancer" : "ClusterIP"}, {"ports", std::move(ports)}};
  if (eip.spec.address && !eip.spec.address->empty())
    spec[external ? "loadBalancerIP" : "clusterIP"] = *eip.spec.address;
  else if (!external && eip.status && eip.status->address && !eip.status->address->empty())
    spec["clusterIP"] = *eip.status->address;  // the address it was given: kept for good
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadataOf(eip, eip.metadata.name, labelsOf(eip))},
          {"spec", std::move(spec)}};
}

json renderEndpointSlice(const v1::ElasticIP& eip, const Endpoint* endpoint,
                         const std::string& addressType, DiscoveryVersion discovery) {
  json labels = labelsOf(eip);
  labels["kubernetes.io/service-name"] = eip.metadata.name;
  labels["endpointslice.kubernetes.io/managed-by"] = api::kElasticIPEndpointSliceManagedByValue;
  json ports = json::array();
  for (const auto& p : eip.spec.ports)
    ports.push_back({{"name", api::elasticIPPortName(p)},
                     {"port", p.targetPort.value_or(p.port)},
                     {"protocol", protocolOf(p)}});
  json endpoints = json::array();
  if (endpoint != nullptr)
    endpoints.push_back(endpointJson(*endpoint, eip.metadata.namespace_, discovery));
  return {{"apiVersion", discoveryApiVersion(discovery)},
          {"kind", "EndpointSlice"},
          {"metadata", metadataOf(eip, endpointSliceName(eip.metadata.name), std::move(labels))},
          {"addressType", addressType},
          {"endpoints", std::move(endpoints)},
          {"ports", std::move(ports)}};
}

Plan planElasticIP(const ElasticIPObservation& o) {
  const v1::ElasticIP& eip = *o.elasticIP;
  const std::string& ns = eip.metadata.namespace_;
  const std::string& name = eip.metadata.name;
  const std::string instanceName = eip.spec.instanceRef ? eip.spec.instanceRef->name : "";
  const InstanceState state = stateOf(o);
  Plan plan;
  // Being released: the garbage collector deletes the Service and the
  // slice (or, with --cascade=orphan, leaves them): nothing to write.
  if (eip.metadata.deletionTimestamp) return plan;

  // ------------------------------------------------ objects
  std::optional<Endpoint> endpoint;
  if (state == InstanceState::Running) {
    const auto& st = *o.instance->status;
    endpoint = Endpoint{instanceName,         o.instance->metadata.uid,
                        *st.privateIP,        st.nodeName.value_or(""),
                        st.zone.value_or(""), EndpointCondition::Ready};
  }
  // The address family: the Service's (ipFamilies[0], else its fixed
  // address); an instance of the other family cannot be its endpoint
  // (kube-proxy pairs a Service only with slices of its family).
  std::string serviceFamily;
  if (const json* f = kube::jsonAt(o.service, {"spec", "ipFamilies"});
      f != nullptr && f->is_array() && !f->empty() && (*f)[0].is_string())
    serviceFamily = (*f)[0].get<std::string>();
  else if (eip.spec.address && !eip.spec.address->empty())
    serviceFamily = isIPv6(*eip.spec.address) ? "IPv6" : "IPv4";
  const std::string instanceFamily = endpoint && isIPv6(endpoint->ip) ? "IPv6" : "IPv4";
  const bool familyMismatch = endpoint && !serviceFamily.empty() && serviceFamily != instanceFamily;
  if (familyMismatch) endpoint.reset();
  // The slice's type: the Service's family, else the instance's, else
  // the type it has (an empty slice keeps it: addressType is immutable).
  std::string addressType = !serviceFamily.empty() ? serviceFamily : endpoint ? instanceFamily : "";
  if (addressType.empty())
    if (const json* t = kube::jsonAt(o.endpointSlice, {"addressType"}); t && t->is_string())
      addressType = t->get<std::string>();
  if (addressType.empty()) addressType = "IPv4";

  const kube::Resource& sliceResource = endpointSlicesResource(o.discovery);
  if (o.serviceNameTaken) {
    // The slice would feed a Service that is not ours.
    if (o.endpointSlice != nullptr)
      plan.add(DeleteObject{sliceResource, ns, endpointSliceName(name), uidOf(o.endpointSlice)});
  } else {
    json slice =
        renderEndpointSlice(eip, endpoint ? &*endpoint : nullptr, addressType, o.discovery);
    stamp(slice);
    const json* type = kube::jsonAt(o.endpointSlice, {"addressType"});
    if (type != nullptr && *type != slice["addressType"]) {
      plan.add(DeleteObject{sliceResource, ns, endpointSliceName(name), uidOf(o.endpointSlice)});
      plan.add(ApplyObject{sliceResource, slice, ""});
    } else if (decideApply(slice, o.endpointSlice, o.endpointSliceApplied).apply()) {
      plan.add(ApplyObject{sliceResource, slice, resourceVersionOf(o.endpointSlice)});
    }
  }
  // The Service last (after the status): a Service the server refuses
  // must not hold up a move of the address, nor the status that says so.
  std::vector<Action> last;
  bool serviceApplyPlanned = false;
  json service = renderService(eip);
  stamp(service);
  if (!o.serviceNameTaken) {
    const ApplyDecision need = decideApply(service, o.service, o.serviceApplied);
    serviceApplyPlanned = need.apply();
    // What an apply cannot take back: a selector (the EndpointSlice
    // controller would add the selected pods beside the one instance) and
    // ports someone else added or renumbered (server-side apply merges
    // its list with them). Replaced whole by a merge patch, then applied.
    std::vector<std::string> foreign, pointers;
    // A cache still at the version our last write was decided on has not
    // seen that write yet: what it shows is not somebody else's change.
    const bool cacheBehind = o.serviceApplied != nullptr &&
                             !o.serviceApplied->decidedFrom.empty() &&
                             resourceVersionOf(o.service) == o.serviceApplied->decidedFrom;
    if (o.service != nullptr && !cacheBehind) {
      if (const json* sel = kube::jsonAt(o.service, {"spec", "selector"});
          sel != nullptr && sel->is_object() && !sel->empty()) {
        foreign.push_back("a selector");
        pointers.push_back("/spec/selector");
      }
      // Ports of ours renumbered or added by hand, not a change of
      // spec.ports (ApplyNeed::Change): that apply removes our old ports.
      if (auto ports = foreignPorts(service, *o.service);
          !ports.empty() && (need.need == ApplyNeed::Restore || need.need == ApplyNeed::Recheck)) {
        foreign.push_back("ports kubec2 did not write (" + kube::join(ports) + ")");
        pointers.push_back("/spec/ports");
      }
    }
    if (!foreign.empty()) {
      std::string message = "Service " + name + " had " + kube::join(foreign, " and ") +
                            "; restored to the ElasticIP's (one address, one instance)";
      if (pointers.front() == "/spec/selector")
        message +=
            ". EndpointSlices the EndpointSlice controller made for the selector stay "
            "(Kubernetes does not remove them): kubectl delete endpointslices -n " +
            ns + " -l kubernetes.io/service-name=" + name +
            ",endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io";
      last.push_back(RecordEvent{true, "ServiceRestored", message,
                                 ChangeAttribution{api::kServices, ns, name, pointers}});
      last.push_back(MergePatchObject{
          api::kServices,
          ns,
          name,
          resourceVersionOf(o.service),
          {{"spec",
            {{"selector", nullptr}, {"ports", portsKeepingNodePorts(service, *o.service)}}}}});
      last.push_back(ApplyObject{api::kServices, service, resourceVersionOf(o.service)});
      serviceApplyPlanned = true;
    } else if (need.apply()) {
      last.push_back(ApplyObject{api::kServices, service, resourceVersionOf(o.service)});
    }
  }

  // ------------------------------------------------ status
  const v1::ElasticIPStatus old = eip.status.value_or(v1::ElasticIPStatus{});
  v1::ElasticIPStatus st;
  st.conditions = old.conditions;
  st.observedGeneration = eip.metadata.generation;
  st.serviceName = name;
  // An internet-facing address is the external one: its cluster IP is
  // not what EC2's users would call the address.
  const bool external = eip.spec.scheme.value_or("internal") == "internet-facing";
  // Without its Service (deleted by someone else, being re-created), the
  // address it had is still its own: kept, and asked for again.
  const std::string address = o.service == nullptr ? old.address.value_or("")
                              : external           ? externalAddressOf(*o.service)
                                                   : addressOf(*o.service);
  if (!address.empty()) st.address = address;
  const bool associated = !o.serviceNameTaken &&
                          (state == InstanceState::Running || state == InstanceState::NotRunning);
  st.association = associated ? "associated" : "unassociated";
  if (associated) {
    st.instance = instanceName;
    const bool same = old.association.value_or("") == "associated" &&
                      old.instance.value_or("") == instanceName && old.associatedAt;
    st.associatedAt = same ? *old.associatedAt : kube::formatRfc3339(o.now);
    if (endpoint) st.privateIP = endpoint->ip;
  }

  const std::string now = kube::formatRfc3339(o.now);
  const std::int64_t gen = eip.metadata.generation;
  std::vector<RecordEvent> events;
  if (o.serviceNameTaken) {
    const std::string message =
        "a Service " + name +
        " exists in this namespace that this ElasticIP does not own; kubec2 does not take it "
        "over: rename the ElasticIP or delete that Service";
    if (conditionChanged(old.conditions, "Ready", "NameConflict", message))
      events.push_back(RecordEvent{true, "NameConflict", message, {}});
    setCondition(st.conditions,
                 condition(old.conditions, "Ready", "False", "NameConflict", message, gen, now));
    plan.requeueWithin(kRecheckNameTaken);
  } else if ((o.service == nullptr || serviceApplyPlanned) &&
             findCondition(old.conditions, "Ready") != nullptr &&
             findCondition(old.conditions, "Ready")->reason == "WriteFailed") {
    // The API server refused a write (the Service, most likely): the
    // executor's report (its answer) stays while the Service is still to
    // be written, rather than turn True and back at every retry.
  } else if (o.service == nullptr && !address.empty()) {
    const bool pinned = !external || (eip.spec.address && !eip.spec.address->empty());
    const std::string message =
        "the Service " + name + " was deleted by someone else: re-created" +
        (pinned ? ", asking for its address " + address + " again"
                : "; the cloud may assign another external address than " + address +
                      " (spec.address pins one where the load balancer implementation allows)");
    if (conditionChanged(old.conditions, "Ready", "ServiceRecreated", message))
      events.push_back(RecordEvent{true, "ServiceRecreated", message, {}});
    setCondition(st.conditions, condition(old.conditions, "Ready", "False", "ServiceRecreated",
                                          message, gen, now));
  } else if (o.service == nullptr) {
    setCondition(st.conditions, condition(old.conditions, "Ready", "False", "Provisioning",
                                          "the Service " + name + " is being created", gen, now));
  } else if (address.empty()) {
    setCondition(st.conditions,
                 condition(old.conditions, "Ready", "False", "AddressPending",
                           "the Service " + name +
                               " has no external address yet: the cluster's load balancer "
                               "implementation assigns it",
                           gen, now));
  } else {
    setCondition(st.conditions,
                 condition(old.conditions, "Ready", "True", "Allocated",
                           "the address " + address + " is held by Service " + name, gen, now));
  }

  std::string status = "False", reason, message;
  switch (state) {
    case InstanceState::None:
      reason = "NotRequested";
      message = "no spec.instanceRef: the address is not associated with an instance";
      break;
    case InstanceState::NotFound:
      reason = "InstanceNotFound";
      message = "Instance " + instanceName +
                " does not exist in this namespace (terminated, or not created yet): the "
                "address stays allocated and is associated when it exists";
      break;
    case InstanceState::Terminating:
      reason = "InstanceTerminating";
      message = "Instance " + instanceName +
                " is terminating: the address stays allocated and is no longer associated";
      break;
    case InstanceState::NotRunning:
      status = "True";
      reason = "InstanceNotRunning";
      message = "associated with Instance " + instanceName + ", which is " +
                (o.instance->status ? o.instance->status->state.value_or("pending") : "pending") +
                ": traffic reaches it when it runs";
      break;
    case InstanceState::Running:
      status = "True";
      reason = "InstanceRunning";
      message = o.service != nullptr
                    ? "traffic to " + (address.empty() ? std::string("the address") : address) +
                          " goes to Instance " + instanceName + " at " +
                          *o.instance->status->privateIP
                    : "associated with Instance " + instanceName + " at " +
                          *o.instance->status->privateIP +
                          "; no traffic until the Service exists (see Ready)";
      break;
  }
  if (familyMismatch) {
    status = "False";
    reason = "AddressFamilyMismatch";
    message = "Instance " + instanceName + "'s address " + *o.instance->status->privateIP +
              " is not " + serviceFamily + ", the family of the Service " + name +
              ": it gets no traffic";
  }
  if (o.serviceNameTaken) {
    status = "False";
    reason = "NameConflict";
    message = "not associated while the Service name is taken (see Ready)";
  }
  setCondition(st.conditions,
               condition(old.conditions, "Associated", status, reason, message, gen, now));

  // Association changes, said once.
  const bool wasAssociated = old.association.value_or("") == "associated";
  const std::string oldInstance = wasAssociated ? old.instance.value_or("") : "";
  if (associated && oldInstance != instanceName)
    events.push_back(RecordEvent{
        false,
        "Associated",
        "associated with Instance " + instanceName +
            (oldInstance.empty() ? std::string() : " (moved from Instance " + oldInstance + ")"),
        {}});
  else if (!associated && !oldInstance.empty())
    events.push_back(RecordEvent{
        false, "Disassociated", "disassociated from Instance " + oldInstance + ": " + message, {}});

  if (!(st == old)) plan.add(PatchStatus{st.toJson()});
  for (auto& e : events) plan.add(std::move(e));
  for (auto& a : last) plan.add(std::move(a));
  return plan;
}

}  // namespace kubec2::reconcilers::elasticip
