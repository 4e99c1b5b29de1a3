// An Instance's security groups as a Kubernetes NetworkPolicy. Pure.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

// "<instance>-sg".
std::string networkPolicyName(const std::string& instanceName);

// The networking.k8s.io/v1 NetworkPolicy for the Instance's security groups,
// named networkPolicyName(), selecting the VM's virt-launcher pod by the
// instance label: Ingress policy type (deny by default), one ingress rule
// per security group rule (protocol TCP/UDP/SCTP, or every protocol for
// `all`; ports fromPort..toPort — one port entry per port for a range, as
// endPort needs Kubernetes 1.22 — capped at the first 100 ports of a range,
// the rule then named in the compute.kubec2.io/truncated-rules annotation,
// as is a rule whose toPort is below its fromPort, left out; peers from
// CIDRs (ipBlock) and instance selectors (podSelector on the same labels
// the VMs carry); a rule without sources is left out, as NetworkPolicy
// would read it as "from anywhere"). nullopt when the launch has no
// securityGroups (no policy; the namespace's own apply); an empty list
// gives a policy allowing no ingress.
std::optional<nlohmann::json> renderNetworkPolicy(const v1::Instance& instance,
                                                  const v1::LaunchSpec& launch);

}  // namespace kubec2::reconcilers
