// What LoadBalancers report of their targets' health (status.targetGroups
// [].targets[], as ELB's DescribeTargetHealth), as a ScalingGroup with
// healthCheck.type LoadBalancer reads it: a status the group reads and does
// not own, written by the LoadBalancer controller. The group and the load
// balancer meet only here, so neither reconciler includes the other.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/v1alpha1/types.h"

namespace kubec2::api {

struct TargetHealthReport {
  std::string state;        // initial, healthy, unhealthy, draining or unused
  std::string reason;       // ELB's reason code, such as Target.FailedHealthChecks
  std::string description;  // the reason in words
  std::string loadBalancer;
  std::string targetGroup;
};

// A health check port given as text (healthCheck.port): its number when
// the text is a decimal port, 1 to 65535, as ELB takes "8080"; nullopt
// otherwise ("traffic-port", and text the webhook refuses).
std::optional<std::int64_t> healthCheckPortNumber(std::string_view text);

class TargetHealthIndex {
 public:
  // Adds every target of every target group of `lb`'s status.
  void add(const v1alpha1::LoadBalancer& lb);
  // The report that counts for an instance over every load balancer and
  // target group, as EC2 Auto Scaling's ELB health check reads them: an
  // unhealthy report wins (the instance fails if any target group fails
  // it), then initial, healthy, draining, unused. nullopt when no load
  // balancer lists the instance.
  std::optional<TargetHealthReport> of(const std::string& instance) const;
  // Whether some load balancer reports the instance unhealthy.
  bool unhealthy(const std::string& instance) const;
  bool empty() const { return byInstance_.empty(); }

 private:
  std::map<std::string, TargetHealthReport> byInstance_;
};

}  // namespace kubec2::api
