// A LoadBalancer as the Kubernetes objects that carry its traffic: a
// Service without a selector, EndpointSlices of its target groups' targets
// (kubec2 manages them, not the EndpointSlice controller) and, for an
// application load balancer, an Ingress of its HTTP rules
// (docs/load-balancers.md, "What the operator creates"). Pure: the caller
// observes the targets' health and the slices that exist; nothing here
// reads a clock or a client.
//
// Every object returned is complete for server-side apply (apiVersion,
// kind, metadata.name, .namespace, .labels, one controller ownerReference
// to the LoadBalancer, spec or the slice's top-level fields; never status)
// and carries app.kubernetes.io/managed-by=kubec2 and
// compute.kubec2.io/load-balancer=<the LoadBalancer's name>.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"
#include "reconcilers/common/service_endpoints.h"

namespace kubec2::reconcilers::loadbalancer {

namespace v1 = kubec2::api::v1alpha1;

// A target's endpoint (reconcilers/common/service_endpoints.h). Ready:
// healthy; Terminating: draining until its deregistration delay ends;
// NotReady: initial or unhealthy. Unused targets (instance not running)
// are not given: they have no endpoint.
using reconcilers::DiscoveryVersion;
using reconcilers::Endpoint;
using reconcilers::EndpointCondition;

struct TargetGroupEndpoints {
  std::string targetGroup;
  std::vector<Endpoint> endpoints;  // one per instance (a repeated instance: the first counts)
  // The group's slices as observed: slice name -> instance names in it.
  std::map<std::string, std::vector<std::string>> currentSlices{};
};

// A target group no longer in spec whose targets still drain: its slices
// stay, with the ports they had (kube-proxy pairs them with the Service's by
// name), until the last drain ends.
struct RetiredTargetGroup {
  TargetGroupEndpoints endpoints;
  nlohmann::json ports = nlohmann::json::array();  // the slices' "ports"; empty: no slice
};

struct RenderInput {
  const v1::LoadBalancer* loadBalancer = nullptr;    // spec with the webhook's defaults applied
  std::vector<TargetGroupEndpoints> targetGroups{};  // a target group absent here has no targets
  DiscoveryVersion discovery = DiscoveryVersion::V1;
  std::string ingressClass{};                             // the operator's --ingress-class
  std::vector<RetiredTargetGroup> retiredTargetGroups{};  // after the spec's groups
};

struct Rendered {
  nlohmann::json service;
  // Every slice that should exist, by target group in spec order (then the
  // retired groups, in the order given), then IPv4 before IPv6, then slice
  // number. A slice of the group's that is not here is to be deleted.
  std::vector<nlohmann::json> endpointSlices;
  std::optional<nlohmann::json> ingress;  // application load balancers with HTTP/HTTPS listeners
  // What the Ingress cannot express of ELB's rules, one sentence each
  // naming the listener port and rule priorities (for an Event and a
  // condition): a rule that a rule with a higher priority number and a
  // longer matching path on the same host overrides (ingress controllers
  // take the longest path, ELB the lowest priority number); a host and path
  // two listeners route to different target groups (one Ingress serves
  // every port); a listener's default target group that is not the
  // Ingress's default backend; a path pattern ending in a bare "*" (Ingress
  // prefixes match whole path segments).
  std::vector<std::string> warnings;
};

// The Service, EndpointSlices and Ingress of in.loadBalancer (which must
// not be null: std::invalid_argument otherwise).
//
// Service (v1, the LoadBalancer's name): type LoadBalancer for scheme
// internet-facing, ClusterIP for internal; no selector. One port per
// listener, in port order: name listener-<port>, the listener's port,
// protocol UDP for UDP listeners and TCP otherwise, targetPort the port of
// its defaultTargetGroup. Then, in spec.targetGroups order, one port per
// target group that a rule names but no listener has as default (an
// Ingress backend needs a Service port leading to it): name
// tg-<target group> (cut to 63 characters with a hash suffix when longer),
// TCP, the target group's port unless a Service port of that protocol has
// it, else the first free number above it; targetPort the group's port.
//
// EndpointSlices: per target group some Service port leads to, named
// <lb>-<target group>-<n> (IPv4) and <lb>-<target group>.ipv6-<n> (IPv6;
// the dot cannot occur in a target group name, so the two never collide),
// at most 100 endpoints each. A target stays in the slice it is in while
// that slice stays; new targets fill the lowest-numbered slices with room;
// empty slices go, but a group without targets keeps one empty IPv4 slice
// (number 0) so `kubectl get endpointslices` shows it. Ports: one per
// Service port leading to the group (same name, the group's port, the
// same protocol), as kube-proxy pairs them by name. A retired target group
// (RenderInput::retiredTargetGroups; none whose name is in spec) has its
// slices the same way, with the ports given.
//
// Ingress (networking.k8s.io/v1, the LoadBalancer's name): see Rendered
// and docs/load-balancers.md. Backends name the Service port when the name
// is a valid Ingress port name (an IANA service name: at most 15
// characters; the API server refuses longer ones) and give its number
// otherwise.
Rendered renderLoadBalancer(const RenderInput& in);

using reconcilers::addressOf;

// The Service port name that leads to a target group ("" when none): the
// lowest-port listener's listener-<port> when the group is a listener's
// default, else its tg-<name> port when a rule names it.
std::string servicePortName(const v1::LoadBalancerSpec& spec, const std::string& targetGroup);

// The deterministic EndpointSlice name for slice `number` of a target
// group (IPv4 when !ipv6); at most 253 characters (a longer one is cut and
// given a hash suffix).
std::string endpointSliceName(const std::string& loadBalancer, const std::string& targetGroup,
                              bool ipv6, std::size_t number);

}  // namespace kubec2::reconcilers::loadbalancer
