#include "reconcilers/common/service_endpoints.h"

#include <set>

#include "api/resources.h"
#include "api/well_known.h"
#include "runtime/object.h"

namespace kubec2::reconcilers {

using nlohmann::json;

namespace {

// A Service port as the operator identifies it.
struct PortKey {
  std::string name;
  std::int64_t port = 0;
  std::string protocol;
  auto operator<=>(const PortKey&) const = default;
};

std::vector<PortKey> portsOf(const json& service) {
  std::vector<PortKey> out;
  const json* ports = kube::jsonAt(&service, {"spec", "ports"});
  if (ports == nullptr || !ports->is_array()) return out;
  for (const auto& p : *ports)
    out.push_back({p.value("name", ""), p.value("port", std::int64_t{0}),
                   p.value("protocol", std::string("TCP"))});
  return out;
}

}  // namespace

json endpointJson(const Endpoint& e, const std::string& ns, DiscoveryVersion version) {
  const bool ready = e.condition == EndpointCondition::Ready;
  const bool serving = e.condition != EndpointCondition::NotReady;
  const bool terminating = e.condition == EndpointCondition::Terminating;
  json out = {
      {"addresses", json::array({e.ip})},
      {"conditions", {{"ready", ready}, {"serving", serving}, {"terminating", terminating}}},
      {"targetRef",
       {{"kind", "Instance"},
        {"apiVersion", api::kApiVersion},
        {"namespace", ns},
        {"name", e.instance},
        {"uid", e.uid}}}};
  if (version == DiscoveryVersion::V1) {
    if (!e.nodeName.empty()) out["nodeName"] = e.nodeName;
    if (!e.zone.empty()) out["zone"] = e.zone;
  } else {
    json topology = json::object();
    if (!e.nodeName.empty()) topology["kubernetes.io/hostname"] = e.nodeName;
    if (!e.zone.empty()) topology["topology.kubernetes.io/zone"] = e.zone;
    if (!topology.empty()) out["topology"] = std::move(topology);
  }
  return out;
}

const char* discoveryApiVersion(DiscoveryVersion version) {
  return version == DiscoveryVersion::V1 ? "discovery.k8s.io/v1" : "discovery.k8s.io/v1beta1";
}

const kube::Resource& endpointSlicesResource(DiscoveryVersion version) {
  return version == DiscoveryVersion::V1 ? api::kEndpointSlicesV1 : api::kEndpointSlicesV1beta1;
}

std::string externalAddressOf(const json& service) {
  const json* ingress = nullptr;
  if (auto s = service.find("status"); s != service.end() && s->is_object())
    if (auto lb = s->find("loadBalancer"); lb != s->end() && lb->is_object())
      if (auto in = lb->find("ingress"); in != lb->end() && in->is_array() && !in->empty())
        ingress = &(*in)[0];
  if (ingress && ingress->is_object()) {
    for (const char* field : {"ip", "hostname"})
      if (auto v = ingress->find(field);
          v != ingress->end() && v->is_string() && !v->get<std::string>().empty())
        return v->get<std::string>();
  }
  return "";
}

std::string addressOf(const json& service) {
  if (std::string external = externalAddressOf(service); !external.empty()) return external;
  if (auto spec = service.find("spec"); spec != service.end() && spec->is_object())
    if (auto ip = spec->find("clusterIP"); ip != spec->end() && ip->is_string()) {
      const std::string value = ip->get<std::string>();
      if (value != "None") return value;
    }
  return "";
}

// The observed ports the rendered Service does not have: one of ours at
// another number or protocol, or another name (added by hand).
std::vector<std::string> foreignPorts(const json& rendered, const json& observed) {
  const auto want = portsOf(rendered);
  const std::set<PortKey> wanted(want.begin(), want.end());
  std::vector<std::string> out;
  for (const auto& p : portsOf(observed))
    if (!wanted.contains(p))
      out.push_back((p.name.empty() ? std::string("(unnamed)") : p.name) + " " +
                    std::to_string(p.port) + "/" + p.protocol);
  return out;
}

// The rendered ports with the node ports the observed Service gave the
// same port and protocol (a merge patch without them makes the server
// allocate new ones, and clients of a node port would lose it).
json portsKeepingNodePorts(const json& rendered, const json& observed) {
  json ports = rendered["spec"]["ports"];
  const json* old = kube::jsonAt(&observed, {"spec", "ports"});
  if (old == nullptr || !old->is_array()) return ports;
  for (auto& p : ports)
    for (const auto& o : *old)
      if (o.value("port", std::int64_t{0}) == p.value("port", std::int64_t{0}) &&
          o.value("protocol", std::string("TCP")) == p.value("protocol", std::string("TCP")) &&
          o.contains("nodePort"))
        p["nodePort"] = o["nodePort"];
  return ports;
}

}  // namespace kubec2::reconcilers
