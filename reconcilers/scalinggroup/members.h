// A ScalingGroup's instances as the group sees them: where each is in its
// life (EC2 Auto Scaling's lifecycle states), its zone, its launch template
// version and what protects it. Pure.
//
// Health, as EC2's health checks (docs/scaling-groups.md):
//  - an instance being deleted is Terminating;
//  - a warm-pool instance (label compute.kubec2.io/warm-pool) is Warm;
//  - otherwise it is InService when running and Ready (and, for
//    healthCheck.type LoadBalancer, no LoadBalancer of the group reports
//    it unhealthy); Pending while it launches within the grace period;
//  - after healthCheck.gracePeriodSeconds from its creation it is Unhealthy
//    when it is not running (stopped behind the group's back), when its VMI
//    failed, when it runs but is not Ready, or when a LoadBalancer reports
//    it unhealthy (type LoadBalancer); an instance still launching
//    (pending, no state yet, or running but not Ready yet, nothing failed)
//    waits at least HealthSettings::startTimeout (a VM that never boots is
//    replaced then),
//    since EC2 never health-checks an instance before it is in service and
//    a grace period of 0 would otherwise replace every launch at once;
//  - with the HealthCheck process suspended nothing is Unhealthy: what
//    would be is Pending.
// The load balancers' verdict is a health check like the others: within
// the grace period, or while HealthCheck is suspended, it is not read, and
// a running, Ready instance is InService (as EC2 ignores ELB health then;
// were it Pending, deregistering it would drop the report that made it so,
// and the instance would flap in and out of service).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/target_health.h"
#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;
using Time = std::chrono::system_clock::time_point;

enum class Lifecycle { Pending, InService, Unhealthy, Terminating, Warm };
std::string_view toString(Lifecycle l);

struct Member {
  const v1::Instance* instance = nullptr;  // the cached object; never null
  std::string name;
  std::string uid;
  // status.zone, else spec.availabilityZone (pinned by the group at launch), else "".
  std::string zone;
  // status.launchTemplateVersion, else the number in spec.launchTemplateRef.version; 0 unknown.
  std::int64_t launchTemplateVersion = 0;
  Time created{};  // metadata.creationTimestamp; `now` when absent (not yet created)
  // Where its grace period and start timeout count from: `created`, or when
  // it left the warm pool (it starts then).
  Time graceFrom{};
  // When it last came into service: its Ready condition's lastTransitionTime
  // (`created` when that is absent) while Ready is True; nullopt otherwise.
  std::optional<Time> inServiceSince;
  bool warm = false;                  // in the warm pool
  bool protectedFromScaleIn = false;  // annotation compute.kubec2.io/protected-from-scale-in=true
  Lifecycle lifecycle = Lifecycle::Pending;
  std::string unhealthyReason;  // Unhealthy: why, in words ("did not start within 300 s")
};

// The default of the shortest time an instance still launching gets
// before it counts as failing to start, whatever the grace period
// (--instance-start-timeout-seconds): EC2's console default grace period.
inline constexpr std::chrono::seconds kDefaultInstanceStartTimeout{300};

struct HealthSettings {
  bool loadBalancerChecks = false;  // healthCheck.type LoadBalancer
  std::chrono::seconds gracePeriod{300};
  bool suspended = false;  // the HealthCheck process is suspended
  // An instance still launching is Pending at least this long.
  std::chrono::seconds startTimeout = kDefaultInstanceStartTimeout;
};

// The settings of `group` (defaults applied: type Instance, 300 s).
HealthSettings healthSettingsOf(const v1::ScalingGroupSpec& group);

// One instance as a member. `targets` is what the group's LoadBalancers
// report (api/target_health.h), used only with loadBalancerChecks.
Member memberOf(const v1::Instance& instance, const HealthSettings& health,
                const api::TargetHealthIndex& targets, Time now);

}  // namespace kubec2::reconcilers
