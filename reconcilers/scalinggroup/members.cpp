#include "reconcilers/scalinggroup/members.h"

#include <algorithm>
#include <charconv>

#include "api/well_known.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

const v1::Condition* conditionOf(const v1::Instance& instance, const std::string& type) {
  if (!instance.status || !instance.status->conditions) return nullptr;
  for (const auto& c : *instance.status->conditions)
    if (c.type == type) return &c;
  return nullptr;
}

// The number in a launchTemplateRef.version such as "3"; 0 for $Latest,
// $Default or anything else.
std::int64_t versionNumber(const std::optional<v1::LaunchTemplateRef>& ref) {
  if (!ref || !ref->version || ref->version->empty()) return 0;
  const std::string& s = *ref->version;
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < 0) return 0;
  return n;
}

bool flagSet(const std::map<std::string, std::string>& m, const char* key) {
  const auto it = m.find(key);
  return it != m.end() && it->second == "true";
}

// Whether the Instance reports its VMI failed (Ready False, reason Failed).
bool vmiFailed(const v1::Condition* ready) {
  return ready != nullptr && ready->status != "True" && ready->reason.value_or("") == "Failed";
}

// Why the instance is not serving, in words, for an instance that is not
// running and Ready: what makes it Unhealthy once it is checked.
std::string problemOf(const v1::Instance& instance, const std::string& state,
                      const v1::Condition* ready, std::chrono::seconds startWait) {
  if (vmiFailed(ready)) {
    const std::string message = ready->message.value_or("");
    return message.empty() ? "VMI failed" : "VMI failed: " + message;
  }
  if (state == "pending" || state.empty()) {
    std::string why = "did not start within " + std::to_string(startWait.count()) + " s";
    if (instance.status && instance.status->stateReason && instance.status->stateReason->message &&
        !instance.status->stateReason->message->empty())
      why += ": " + *instance.status->stateReason->message;
    return why;
  }
  if (state == "running") {
    const std::string reason = ready != nullptr ? ready->reason.value_or("") : "";
    return reason.empty() ? "running but not Ready" : "running but not Ready (" + reason + ")";
  }
  return "not running (" + state + ")";
}

}  // namespace

std::string_view toString(Lifecycle l) {
  switch (l) {
    case Lifecycle::Pending:
      return "Pending";
    case Lifecycle::InService:
      return "InService";
    case Lifecycle::Unhealthy:
      return "Unhealthy";
    case Lifecycle::Terminating:
      return "Terminating";
    case Lifecycle::Warm:
      return "Warm";
  }
  return "Unknown";
}

HealthSettings healthSettingsOf(const v1::ScalingGroupSpec& group) {
  HealthSettings s;
  if (group.healthCheck) {
    s.loadBalancerChecks = group.healthCheck->type.value_or("Instance") == "LoadBalancer";
    if (group.healthCheck->gracePeriodSeconds)
      s.gracePeriod = std::chrono::seconds(*group.healthCheck->gracePeriodSeconds);
  }
  if (group.suspendedProcesses) {
    const auto& p = *group.suspendedProcesses;
    s.suspended = std::find(p.begin(), p.end(), "HealthCheck") != p.end();
  }
  return s;
}

Member memberOf(const v1::Instance& instance, const HealthSettings& health,
                const api::TargetHealthIndex& targets, Time now) {
  Member m;
  m.instance = &instance;
  m.name = instance.metadata.name;
  m.uid = instance.metadata.uid;
  if (instance.status && instance.status->zone && !instance.status->zone->empty())
    m.zone = *instance.status->zone;
  else if (instance.spec.availabilityZone)
    m.zone = *instance.spec.availabilityZone;
  if (instance.status && instance.status->launchTemplateVersion)
    m.launchTemplateVersion = *instance.status->launchTemplateVersion;
  else
    m.launchTemplateVersion = versionNumber(instance.spec.launchTemplateRef);
  // An object not yet created (no timestamp) has just been: its grace
  // period runs.
  m.created = kube::parseRfc3339Utc(instance.metadata.creationTimestamp).value_or(now);
  m.graceFrom = m.created;

  const v1::Condition* ready = conditionOf(instance, "Ready");
  const bool readyTrue = ready != nullptr && ready->status == "True";
  if (readyTrue) {
    // Ready without a readable time: in service since creation at the latest.
    m.inServiceSince = ready->lastTransitionTime ? kube::parseRfc3339Utc(*ready->lastTransitionTime)
                                                 : std::nullopt;
    if (!m.inServiceSince) m.inServiceSince = m.created;
  }
  m.warm = flagSet(instance.metadata.labels, api::kWarmPoolLabel);
  m.protectedFromScaleIn =
      flagSet(instance.metadata.annotations, api::kProtectedFromScaleInAnnotation);

  if (instance.metadata.deletionTimestamp) {
    m.lifecycle = Lifecycle::Terminating;
    return m;
  }
  if (m.warm) {
    m.lifecycle = Lifecycle::Warm;
    return m;
  }

  const std::string state = instance.status ? instance.status->state.value_or("") : "";
  // Health checks apply once the grace period from creation is over, and
  // not while the HealthCheck process is suspended.
  // An instance taken from the warm pool starts then: its grace period
  // counts from that moment, not from its creation.
  Time graceFrom = m.created;
  if (const auto a = instance.metadata.annotations.find(api::kLeftWarmPoolAnnotation);
      a != instance.metadata.annotations.end())
    if (const auto t = kube::parseRfc3339Utc(a->second); t && *t > graceFrom) graceFrom = *t;
  m.graceFrom = graceFrom;
  const bool checked = !health.suspended && now - graceFrom >= health.gracePeriod;
  if (state == "running" && readyTrue) {
    if (checked && health.loadBalancerChecks) {
      if (const auto r = targets.of(m.name); r && r->state == "unhealthy") {
        const std::string why = !r->reason.empty() ? r->reason : r->description;
        m.lifecycle = Lifecycle::Unhealthy;
        m.unhealthyReason = "load balancer " + r->loadBalancer + " reports it unhealthy" +
                            (why.empty() ? std::string() : ": " + why);
        return m;
      }
    }
    m.lifecycle = Lifecycle::InService;
    return m;
  }
  // Still launching (pending, no state yet, or running but not Ready yet)
  // and nothing reported failed: EC2 does not health-check an instance
  // before it is in service, so a launch gets at least startTimeout
  // whatever the grace period (0 would replace instances still booting,
  // each replacement as young as the last: a launch-and-replace loop).
  const bool launching =
      !vmiFailed(ready) && (state == "pending" || state.empty() || state == "running");
  const auto wait =
      launching ? std::max(health.gracePeriod, health.startTimeout) : health.gracePeriod;
  if (!(checked && now - graceFrom >= wait)) {
    m.lifecycle = Lifecycle::Pending;
    return m;
  }
  m.lifecycle = Lifecycle::Unhealthy;
  m.unhealthyReason = problemOf(instance, state, ready, wait);
  return m;
}

}  // namespace kubec2::reconcilers
