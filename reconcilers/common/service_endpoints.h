// What LoadBalancers and ElasticIPs share: Instances as endpoints of
// EndpointSlices that kubec2 writes (not the EndpointSlice controller: the
// Services have no selector), and where a Service's clients reach it.
// Pure functions of their arguments.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/resource.h"

namespace kubec2::reconcilers {

// discovery.k8s.io/v1 (Kubernetes 1.21 on) or v1beta1 (1.17 to 1.24):
// whichever the server serves, v1 preferred.
enum class DiscoveryVersion { V1, V1beta1 };

// How an endpoint shows in its EndpointSlice (discovery.k8s.io's conditions):
//   Ready        ready, serving, not terminating (gets new connections)
//   Terminating  draining: not ready, serving, terminating (open
//                connections finish, no new ones, as ELB drains)
//   NotReady     listed with every condition false, as the EndpointSlice
//                controller lists pods that are not ready; kube-proxy sends
//                it nothing
enum class EndpointCondition { Ready, Terminating, NotReady };

// One Instance as an endpoint.
struct Endpoint {
  std::string instance;    // the Instance's name
  std::string uid;         // the Instance's uid (targetRef)
  std::string ip;          // IPv4 or IPv6; a target without an address is left out
  std::string nodeName{};  // "" unknown
  std::string zone{};      // "" unknown
  EndpointCondition condition = EndpointCondition::NotReady;
};

// The endpoint's JSON in an EndpointSlice of `version` in namespace `ns`:
// addresses, conditions, targetRef (the Instance), and nodeName and zone
// (v1) or topology (v1beta1) when known.
nlohmann::json endpointJson(const Endpoint& e, const std::string& ns, DiscoveryVersion version);

// "discovery.k8s.io/v1" or "discovery.k8s.io/v1beta1".
const char* discoveryApiVersion(DiscoveryVersion version);
// The endpointslices resource of that version (api/resources.h).
const kube::Resource& endpointSlicesResource(DiscoveryVersion version);

// Where clients outside the cluster reach a Service of type LoadBalancer:
// status.loadBalancer.ingress[0].ip, else its .hostname, else "" (none
// assigned yet).
std::string externalAddressOf(const nlohmann::json& service);
// Where clients reach a Service: externalAddressOf(), else spec.clusterIP
// (not "None"), else "".
std::string addressOf(const nlohmann::json& service);

// The ports of the `observed` Service that the `rendered` one does not
// have, by name, port and protocol ("web 8080/TCP", "(unnamed) 9999/TCP"):
// a port of ours renumbered by hand, or one added by hand. Server-side
// apply merges its port list with such ports (and refuses two of one
// name), so a caller replaces the list whole with a merge patch first.
std::vector<std::string> foreignPorts(const nlohmann::json& rendered,
                                      const nlohmann::json& observed);

// The rendered Service's ports with the node ports the observed Service
// gave the same port and protocol (a merge patch without them makes the
// server allocate new ones, and clients of a node port would lose it).
nlohmann::json portsKeepingNodePorts(const nlohmann::json& rendered,
                                     const nlohmann::json& observed);

}  // namespace kubec2::reconcilers
