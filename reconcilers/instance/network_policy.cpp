#include "reconcilers/instance/network_policy.h"

#include <algorithm>

#include "api/well_known.h"
#include "reconcilers/instance/labels.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

// Ports written per rule: endPort needs Kubernetes 1.22, so a range is one
// entry per port, and a long range is cut here.
constexpr std::int64_t kMaxPortsPerRule = 100;

}  // namespace

std::string networkPolicyName(const std::string& instanceName) {
  return instanceName + "-sg";
}

// instanceSelector sources become podSelector peers with the selector as
// the user wrote it. Pods of VMs carry the VM template's labels (KubeVirt
// copies them to the VMI and its virt-launcher pod): the Instance's
// metadata.labels, its tags that are valid labels and the kubec2 labels
// (vmLabels), so a selector matches instances by their labels, as the API
// describes, and, as with any podSelector, any other pod of the namespace
// with those labels.
std::optional<json> renderNetworkPolicy(const v1::Instance& instance,
                                        const v1::LaunchSpec& launch) {
  if (!launch.securityGroups) return std::nullopt;
  const std::string& name = instance.metadata.name;

  json ingress = json::array();
  std::vector<std::string> truncated;
  for (const v1::SecurityGroup& group : *launch.securityGroups) {
    if (!group.ingress) continue;
    for (std::size_t i = 0; i < group.ingress->size(); ++i) {
      const v1::SecurityGroupRule& rule = (*group.ingress)[i];
      const std::string ruleName = group.name + ".ingress[" + std::to_string(i) + "]";
      // A NetworkPolicy rule without `from` allows every source: a rule
      // without sources must allow nothing, so it is left out.
      json from = json::array();
      for (const v1::SecurityGroupSource& s : rule.sources) {
        if (s.cidr)
          from.push_back({{"ipBlock", {{"cidr", *s.cidr}}}});
        else if (s.instanceSelector)
          from.push_back({{"podSelector", s.instanceSelector->toJson()}});
      }
      if (from.empty()) continue;
      json r = {{"from", std::move(from)}};

      const std::string protocol = rule.protocol.value_or("tcp");
      if (protocol != "all") {
        std::string upper = protocol;
        std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
          return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        });
        json ports = json::array();
        if (!rule.fromPort) {
          ports.push_back({{"protocol", upper}});  // every port of the protocol
        } else {
          const std::int64_t first = *rule.fromPort;
          const std::int64_t last = rule.toPort.value_or(first);
          if (last < first) {
            truncated.push_back(ruleName + ": toPort " + std::to_string(last) + " below fromPort " +
                                std::to_string(first) + ", not written");
            continue;
          }
          const std::int64_t written = std::min(last, first + kMaxPortsPerRule - 1);
          for (std::int64_t p = first; p <= written; ++p)
            ports.push_back({{"protocol", upper}, {"port", p}});
          if (written < last)
            truncated.push_back(ruleName + ": ports " + std::to_string(first) + "-" +
                                std::to_string(last) + ", only " + std::to_string(first) + "-" +
                                std::to_string(written) + " written");
        }
        r["ports"] = std::move(ports);
      }
      ingress.push_back(std::move(r));
    }
  }

  json metadata = {{"name", networkPolicyName(name)},
                   {"namespace", instance.metadata.namespace_},
                   {"labels", instanceLabels(instance)},
                   {"ownerReferences", json::array({instanceOwnerReference(instance)})}};
  if (!truncated.empty()) {
    std::string value;
    for (const std::string& t : truncated) value += (value.empty() ? "" : "; ") + t;
    metadata["annotations"] = {{api::kTruncatedRulesAnnotation, value}};
  }
  return json{{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "NetworkPolicy"},
              {"metadata", std::move(metadata)},
              {"spec",
               {{"podSelector", {{"matchLabels", {{api::kInstanceLabel, name}}}}},
                {"policyTypes", json::array({"Ingress"})},
                {"ingress", std::move(ingress)}}}};
}

}  // namespace kubec2::reconcilers
