#include "reconcilers/scalinggroup/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "api/well_known.h"
#include "reconcilers/common/conditions.h"
#include "reconcilers/launchtemplate/launch.h"
#include "reconcilers/scalinggroup/capacity.h"
#include "reconcilers/scalinggroup/replacement.h"
#include "reconcilers/scalinggroup/warm_pool.h"
#include "runtime/finalizers.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxActivities = 50;  // status.activities, as the API says

// Instances launched above the capacity in force on purpose (a rebalance or
// a replacement launching first): the scale-in step leaves them be while
// they come into service.
constexpr const char* kLaunchedForAnnotation = api::kLaunchedForAnnotation;

bool suspended(const v1::ScalingGroupSpec& spec, std::string_view process) {
  if (!spec.suspendedProcesses) return false;
  const auto& ps = *spec.suspendedProcesses;
  return std::find(ps.begin(), ps.end(), process) != ps.end();
}

bool current(const Member& m) {
  return m.lifecycle == Lifecycle::Pending || m.lifecycle == Lifecycle::InService ||
         m.lifecycle == Lifecycle::Unhealthy;
}

std::string launchedFor(const Member& m) {
  const auto& a = m.instance->metadata.annotations;
  const auto it = a.find(kLaunchedForAnnotation);
  return it == a.end() ? "" : it->second;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// "us-east-1a: 2, us-east-1b: 1", or "" when no zone is set.
std::string zoneSummary(const std::vector<std::string>& zones) {
  std::map<std::string, int> n;
  for (const auto& z : zones)
    if (!z.empty()) ++n[z];
  std::string out;
  for (const auto& [z, c] : n) out += (out.empty() ? "" : ", ") + z + ": " + std::to_string(c);
  return out;
}

// The version number the group launches from now, or the problem.
LaunchResolution resolveGroupLaunch(const v1::ScalingGroup& g, const v1::LaunchTemplate* lt) {
  v1::Instance probe;
  probe.metadata.name = g.metadata.name;
  probe.metadata.namespace_ = g.metadata.namespace_;
  probe.spec.launchTemplateRef = g.spec.launchTemplateRef;
  return resolveLaunch(probe, lt);
}

struct Builder {
  const ScalingGroupObservation& o;
  const v1::ScalingGroup& g;
  std::string now;
  ScalingGroupDecision d;
  std::vector<std::string> terminatedNames;  // planned for termination, by name

  void activity(std::string kind, std::string cause, std::int64_t from, std::int64_t to,
                std::string message = "") {
    d.activities.push_back({std::move(kind), std::move(cause), from, to, std::move(message)});
  }

  void launch(std::int64_t version, const std::string& zone, bool warm, const char* purpose) {
    json inst = instanceToLaunch(g, version, zone, warm);
    if (purpose != nullptr) inst["metadata"]["annotations"][kLaunchedForAnnotation] = purpose;
    d.plan.add(CreateObject{v1::Instance::resource(), std::move(inst)});
    ++d.creations;
  }

  void terminate(const Member& m) {
    if (std::find(terminatedNames.begin(), terminatedNames.end(), m.name) != terminatedNames.end())
      return;
    terminatedNames.push_back(m.name);
    d.plan.add(DeleteObject{v1::Instance::resource(), g.metadata.namespace_, m.name, m.uid});
    d.deletionUids.push_back(m.uid);
  }

  // An Instance the group keeps but changes (warm pool moves): a server-side
  // apply of the group's own fields.
  void reshape(const Member& m, bool warm, std::optional<std::string> desiredState, bool prepared) {
    json patch = {{"apiVersion", api::kApiVersion},
                  {"kind", "Instance"},
                  {"metadata",
                   {{"name", m.name},
                    {"namespace", g.metadata.namespace_},
                    {"labels", {{api::kWarmPoolLabel, warm ? "true" : "false"}}}}}};
    if (prepared) patch["metadata"]["annotations"][api::kWarmPoolPreparedAnnotation] = "true";
    if (!warm) patch["metadata"]["annotations"][api::kLeftWarmPoolAnnotation] = now;
    if (desiredState) patch["spec"]["desiredState"] = *desiredState;
    d.plan.add(ApplyObject{v1::Instance::resource(), std::move(patch),
                           m.instance->metadata.resourceVersion});
  }
};

// What a refresh remembers between reconciles, kept in status.
RefreshMemory refreshMemoryOf(const v1::ScalingGroupStatus& s) {
  RefreshMemory m;
  m.requestToken = s.instanceRefreshRequest.value_or("");
  if (s.instanceRefresh) {
    m.skipMatching = s.instanceRefresh->skipMatching.value_or(true);
    m.checkpointPercentage = s.instanceRefresh->checkpointPercentage.value_or(0);
    if (s.instanceRefresh->checkpointTime)
      m.checkpointTime = kube::parseRfc3339Utc(*s.instanceRefresh->checkpointTime);
  }
  return m;
}

void keepRefreshMemory(v1::ScalingGroupStatus& s, const RefreshMemory& m) {
  if (m.requestToken.empty())
    s.instanceRefreshRequest.reset();
  else
    s.instanceRefreshRequest = m.requestToken;
  if (!s.instanceRefresh) return;
  s.instanceRefresh->skipMatching = m.skipMatching;
  s.instanceRefresh->checkpointPercentage = m.checkpointPercentage;
  if (m.checkpointTime)
    s.instanceRefresh->checkpointTime = kube::formatRfc3339(*m.checkpointTime);
  else
    s.instanceRefresh->checkpointTime.reset();
}

const Member* byName(const std::vector<Member>& members, const std::string& name) {
  for (const auto& m : members)
    if (m.name == name) return &m;
  return nullptr;
}

v1::ScalingActivity toStatus(const Activity& a, const std::string& now) {
  v1::ScalingActivity s;
  s.time = now;
  s.cause = a.cause;
  s.from = a.from;
  s.to = a.to;
  s.result = "InProgress";
  if (!a.message.empty()) s.message = a.message;
  return s;
}

// The group is being deleted: every instance terminates (termination
// protection lifted first, as EC2's force delete), then the finalizer goes.
ScalingGroupDecision planDeletion(const ScalingGroupObservation& o) {
  const auto& g = *o.group;
  Builder b{o, g, kube::formatRfc3339(o.now), {}, {}};
  if (!kube::hasFinalizer(g.metadata, api::kScalingGroupFinalizer)) return std::move(b.d);
  std::int64_t left = 0;
  std::vector<std::string> terminating;
  for (const auto* inst : o.instances) {
    ++left;
    if (inst->metadata.deletionTimestamp) continue;
    if (!o.expectationsSatisfied) continue;
    if (inst->spec.disableApiTermination.value_or(false)) {
      json lift = {
          {"apiVersion", api::kApiVersion},
          {"kind", "Instance"},
          {"metadata", {{"name", inst->metadata.name}, {"namespace", g.metadata.namespace_}}},
          {"spec", {{"disableApiTermination", false}}}};
      b.d.plan.add(
          ApplyObject{v1::Instance::resource(), std::move(lift), inst->metadata.resourceVersion});
    }
    b.d.plan.add(DeleteObject{v1::Instance::resource(), g.metadata.namespace_, inst->metadata.name,
                              inst->metadata.uid});
    b.d.deletionUids.push_back(inst->metadata.uid);
    terminating.push_back(inst->metadata.name);
  }
  if (!terminating.empty()) {
    const auto desired = g.status && g.status->desiredCapacity ? *g.status->desiredCapacity : 0;
    b.activity("Terminate", "group deleted: terminating every instance", desired, 0,
               "terminating " + joinNames(terminating));
    b.d.plan.add(RecordEvent{false, "Terminating",
                             "Group deleted: terminating " + std::to_string(terminating.size()) +
                                 " instance(s): " + joinNames(terminating),
                             std::nullopt});
  }
  if (left == 0) b.d.plan.add(RemoveFinalizer{api::kScalingGroupFinalizer});
  return std::move(b.d);
}

}  // namespace

std::string selectorOf(const v1::ScalingGroup& group) {
  // Warm pool instances carry the group's label too (they are the group's),
  // but are not in its capacity or service: the selector leaves them out.
  // (Set-based: kubectl scale and HPA convert it to a LabelSelector, which
  // has no "!=".)
  return std::string(api::kScalingGroupLabel) + "=" + group.metadata.name + "," +
         api::kWarmPoolLabel + " notin (true)";
}

json instanceToLaunch(const v1::ScalingGroup& group, std::int64_t version, const std::string& zone,
                      bool warm) {
  json inst = {
      {"apiVersion", api::kApiVersion},
      {"kind", "Instance"},
      {"metadata",
       {{"generateName", group.metadata.name + "-"},
        {"namespace", group.metadata.namespace_},
        {"labels",
         {{api::kScalingGroupLabel, group.metadata.name},
          {api::kManagedByLabel, api::kManagedByValue}}}}},
      {"spec",
       {{"launchTemplateRef",
         {{"name", group.spec.launchTemplateRef.name}, {"version", std::to_string(version)}}}}}};
  if (warm) inst["metadata"]["labels"][api::kWarmPoolLabel] = "true";
  if (!zone.empty()) inst["spec"]["availabilityZone"] = zone;
  inst["metadata"]["ownerReferences"] = json::array({kube::controllerOwnerRef(
      api::kApiVersion, "ScalingGroup", group.metadata.name, group.metadata.uid)});
  return inst;
}

ScalingGroupDecision planScalingGroup(const ScalingGroupObservation& o) {
  const auto& g = *o.group;
  if (g.metadata.deletionTimestamp) return planDeletion(o);

  Builder b{o, g, kube::formatRfc3339(o.now), {}, {}};
  auto& plan = b.d.plan;
  if (!kube::hasFinalizer(g.metadata, api::kScalingGroupFinalizer))
    plan.add(AddFinalizer{api::kScalingGroupFinalizer});

  const auto& spec = g.spec;
  const auto before = g.status.value_or(v1::ScalingGroupStatus{});
  auto status = before;
  const std::int64_t generation = g.metadata.generation;

  // 1. The capacity in force.
  const auto cap = decideCapacity(g, o.now, suspended(spec, "ScheduledActions"));
  for (const auto& c : cap.changes)
    b.activity(c.cause.rfind("scheduled action", 0) == 0 ? "ScheduledAction" : "CapacityChange",
               c.cause, c.from, c.to);
  // 1b. The scaling policies move the capacity in force from there, once
  // per evaluation of their metrics (reconcilers/scalinggroup/policies.h).
  auto health = healthSettingsOf(spec);
  health.startTimeout = o.instanceStartTimeout;
  const api::TargetHealthIndex noTargets;
  std::vector<Member> members;
  members.reserve(o.instances.size());
  for (const auto* inst : o.instances)
    members.push_back(memberOf(*inst, health, o.targets ? *o.targets : noTargets, o.now));
  PoliciesInput pin;
  pin.group = &g;
  pin.members = &members;
  pin.desired = cap.desiredCapacity;
  pin.minSize = cap.minSize;
  pin.maxSize = cap.maxSize;
  pin.readings = o.policyReadings;
  pin.prometheusConfigured = o.prometheusConfigured;
  pin.evaluationInterval = o.evaluationInterval;
  pin.metricWindow = o.metricWindow;
  pin.now = o.now;
  pin.latest = o.latestPolicies;
  pin.persistEvery = o.evaluationInterval * kPolicyStatusEvaluations;
  const auto scaling = decidePolicies(pin);
  b.d.latestPolicies = scaling.latest;
  std::int64_t desired = cap.desiredCapacity;
  const std::int64_t maxSizeInForce = scaling.maxSize.value_or(cap.maxSize);
  if (scaling.desired && *scaling.desired != desired) {
    b.activity("ScalingPolicy", scaling.cause, desired, *scaling.desired);
    desired = *scaling.desired;
  }
  if (cap.nextWakeUp)
    plan.requeueWithin(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(*cap.nextWakeUp - o.now, Time::duration(std::chrono::seconds(1)))));

  // The launch template version new instances launch from.
  const auto launch = resolveGroupLaunch(g, o.launchTemplate);
  const std::int64_t version = launch.templateVersion.value_or(0);
  const bool canLaunch = launch.ok() && version > 0 && !suspended(spec, "Launch");

  // 2. Zones.
  const ZonePlan zones = zonesFor(spec, o.nodes);

  std::int64_t currentCount = 0;
  for (const auto& m : members) currentCount += current(m) ? 1 : 0;
  std::vector<std::string> launchedZones;
  std::int64_t notLaunched = 0;  // wanted but no available zone

  // Replacement in progress (refresh or lifetime): its own step decides its
  // launches above the capacity and its terminations.
  const bool refreshConfigured = spec.instanceRefresh.has_value();
  const bool refreshSuspended = suspended(spec, "InstanceRefresh");
  std::optional<RefreshDecision> refresh;
  if (refreshConfigured ||
      (before.instanceRefresh && before.instanceRefresh->status == "InProgress"))
    refresh = decideRefresh(
        g, members, version,
        before.launchTemplateVersion ? std::optional(*before.launchTemplateVersion) : std::nullopt,
        refreshMemoryOf(before), desired, refreshSuspended, o.now);

  if (o.expectationsSatisfied) {
    // Health: terminate the unhealthy, a bounded number at a time, first.
    std::int64_t removed = 0;
    if (!suspended(spec, "ReplaceUnhealthy") && !suspended(spec, "Terminate")) {
      const std::int64_t atOnce = std::max<std::int64_t>(1, (desired + 9) / 10);
      for (const auto& m : members) {
        if (m.lifecycle != Lifecycle::Unhealthy || removed >= atOnce) continue;
        b.terminate(m);
        ++removed;
        b.activity("ReplaceUnhealthy",
                   "replacing unhealthy instance " + m.name + ": " + m.unhealthyReason, desired,
                   desired);
      }
    }
    std::int64_t remaining = currentCount - removed;

    // Launches made above the capacity on purpose and not in service yet.
    std::int64_t heldSurplus = 0;
    for (const auto& m : members)
      if (m.lifecycle == Lifecycle::Pending && !launchedFor(m).empty()) ++heldSurplus;
    const bool replacing = refresh && refresh->inProgress && !refreshSuspended;

    // Warm pool decisions need the scale-out and scale-in sizes.
    std::int64_t scaleOut = remaining < desired ? desired - remaining : 0;
    std::vector<std::string> scaleIn;
    if (remaining - heldSurplus > desired && !suspended(spec, "Terminate") && !replacing) {
      std::vector<Member> candidates;
      for (const auto& m : members)
        if (std::find(b.terminatedNames.begin(), b.terminatedNames.end(), m.name) ==
            b.terminatedNames.end())
          candidates.push_back(m);
      const auto policies = spec.terminationPolicies.value_or(std::vector<std::string>{"Default"});
      scaleIn =
          scaleInOrder(candidates, policies, version, zones, remaining - heldSurplus - desired);
    }
    const auto pool = spec.warmPool ? decideWarmPool(g, members, desired, cap.maxSize, version,
                                                     canLaunch ? scaleOut : 0, scaleIn)
                                    : WarmPoolDecision{};

    // Scale-in.
    if (!scaleIn.empty()) {
      std::vector<std::string> pooled, gone;
      for (const auto& name : scaleIn) {
        const Member* m = byName(members, name);
        if (std::find(pool.toPool.begin(), pool.toPool.end(), name) != pool.toPool.end()) {
          const bool stopped = spec.warmPool->poolState.value_or("Stopped") == "Stopped";
          b.reshape(*m, true, stopped ? std::optional<std::string>("stopped") : std::nullopt, true);
          pooled.push_back(name);
        } else {
          b.terminate(*m);
          gone.push_back(name);
        }
      }
      std::string message;
      if (!gone.empty()) message = "terminating " + joinNames(gone);
      if (!pooled.empty())
        message += (message.empty() ? "" : "; ") + std::string("returning to the warm pool ") +
                   joinNames(pooled);
      b.activity("Terminate",
                 "scaling in from " + std::to_string(remaining) + " to " +
                     std::to_string(remaining - static_cast<std::int64_t>(scaleIn.size())) +
                     " instances (capacity in force " + std::to_string(desired) + ")",
                 remaining, remaining - static_cast<std::int64_t>(scaleIn.size()), message);
      remaining -= static_cast<std::int64_t>(scaleIn.size());
    }

    // Scale-out: the warm pool first, then launches into the emptiest zones.
    if (scaleOut > 0 && canLaunch) {
      std::vector<std::string> taken;
      // Prepared instances in the zones with the fewest of the group's first.
      std::map<std::string, std::int64_t> inZone;
      for (const auto& m : members)
        if (current(m)) ++inZone[m.zone];
      std::vector<std::string> candidates = pool.intoService;
      std::stable_sort(candidates.begin(), candidates.end(),
                       [&](const std::string& x, const std::string& y) {
                         return inZone[byName(members, x)->zone] < inZone[byName(members, y)->zone];
                       });
      for (const auto& name : candidates) {
        if (static_cast<std::int64_t>(taken.size()) >= scaleOut) break;
        b.reshape(*byName(members, name), false, std::string("running"), false);
        taken.push_back(name);
      }
      const std::int64_t toLaunch = scaleOut - static_cast<std::int64_t>(taken.size());
      std::vector<Member> stay;
      for (const auto& m : members)
        if (std::find(b.terminatedNames.begin(), b.terminatedNames.end(), m.name) ==
            b.terminatedNames.end())
          stay.push_back(m);
      launchedZones = launchZones(zones, stay, toLaunch);
      notLaunched = toLaunch - static_cast<std::int64_t>(launchedZones.size());
      for (const auto& z : launchedZones) b.launch(version, z, false, nullptr);
      std::string message;
      if (!launchedZones.empty()) {
        message = "launching " + std::to_string(launchedZones.size()) + " instance(s)";
        const auto zs = zoneSummary(launchedZones);
        if (!zs.empty()) message += " (" + zs + ")";
        message += " from " + spec.launchTemplateRef.name + " version " + std::to_string(version);
      }
      if (!taken.empty())
        message += (message.empty() ? "" : "; ") + std::string("taking from the warm pool ") +
                   joinNames(taken);
      if (!message.empty())
        b.activity(
            "Launch",
            "scaling out from " + std::to_string(remaining) + " to " +
                std::to_string(remaining +
                               static_cast<std::int64_t>(launchedZones.size() + taken.size())) +
                " instances (capacity in force " + std::to_string(desired) + ")",
            remaining, remaining + static_cast<std::int64_t>(launchedZones.size() + taken.size()),
            message);
      remaining += static_cast<std::int64_t>(launchedZones.size() + taken.size());
    }

    // Scaling done for now (a replacement may hold instances above the capacity).
    const bool steady =
        remaining >= desired && scaleIn.empty() && removed == 0 && launchedZones.empty();
    bool allInService = true;
    for (const auto& m : members)
      if (current(m) && m.lifecycle != Lifecycle::InService) allInService = false;

    // Replacement: instance refresh, else maximum lifetime.
    if (steady && canLaunch && replacing) {
      for (const auto& name : refresh->step.terminate)
        if (const Member* m = byName(members, name)) b.terminate(*m);
      // extraLaunches is the room above the capacity, not a count to launch
      // at every reconcile: successors launched by an earlier step and still
      // pending already hold part of it. (The step's terminations are
      // refilled by the scale-out above at the next reconcile.)
      const std::int64_t launches =
          std::max<std::int64_t>(0, refresh->step.extraLaunches - (remaining - desired));
      for (std::int64_t i = 0; i < launches; ++i) {
        auto z = launchZones(zones, members, 1);
        b.launch(version, z.empty() ? "" : z.front(), false, "replacement");
      }
      for (const auto& a : refresh->activities) b.activity("InstanceRefresh", a, desired, desired);
      if (refresh->step.wakeUp)
        plan.requeueWithin(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max(*refresh->step.wakeUp - o.now, Time::duration(std::chrono::seconds(1)))));
    } else if (steady && canLaunch && !refreshSuspended) {
      const auto old = pastLifetime(spec, members, o.now);
      if (!old.empty()) {
        const std::int64_t minHealthy =
            spec.instanceRefresh ? spec.instanceRefresh->minHealthyPercentage.value_or(90) : 90;
        const auto step =
            rollingStep(members, old, desired, minHealthy, 100, health.gracePeriod, o.now);
        for (const auto& name : step.terminate)
          if (const Member* m = byName(members, name)) {
            b.terminate(*m);
            b.activity("MaxInstanceLifetime",
                       "replacing " + name + ": past the maximum instance lifetime of " +
                           std::to_string(spec.maxInstanceLifetimeSeconds.value_or(0)) + " s",
                       desired, desired);
          }
        if (step.wakeUp)
          plan.requeueWithin(std::chrono::duration_cast<std::chrono::milliseconds>(
              std::max(*step.wakeUp - o.now, Time::duration(std::chrono::seconds(1)))));
      }
    }

    // AZRebalance: launch first, the surplus goes from the fullest zone once
    // the new instance is in service (the scale-in step above).
    if (steady && remaining == desired && allInService && canLaunch && b.terminatedNames.empty() &&
        b.d.creations == 0 && heldSurplus == 0 && !suspended(spec, "AZRebalance") && !replacing) {
      if (const auto r = rebalanceStep(zones, members)) {
        b.launch(version, r->launchInto, false, "rebalance");
        b.activity("AZRebalance",
                   "rebalancing zones: launching in " + r->launchInto +
                       ", then terminating one in " + r->terminateFrom,
                   desired, desired);
      }
    }

    // The warm pool's upkeep.
    if (spec.warmPool && canLaunch) {
      for (const auto& name : pool.terminate)
        if (const Member* m = byName(members, name)) b.terminate(*m);
      // The pool spread over the zones as the group is, so that an instance
      // taken from it does not unbalance the group.
      std::vector<Member> pooled;
      for (const auto& m : members)
        if (m.lifecycle == Lifecycle::Warm) {
          pooled.push_back(m);
          pooled.back().lifecycle = Lifecycle::InService;  // counted by launchZones
        }
      const auto warmZones = launchZones(zones, pooled, pool.launches);
      for (std::int64_t i = 0; i < pool.launches; ++i)
        b.launch(version,
                 i < static_cast<std::int64_t>(warmZones.size())
                     ? warmZones[static_cast<std::size_t>(i)]
                     : "",
                 true, nullptr);
      for (const auto& name : pool.prepare) {
        const bool stopped = spec.warmPool->poolState.value_or("Stopped") == "Stopped";
        b.reshape(*byName(members, name), true,
                  stopped ? std::optional<std::string>("stopped") : std::nullopt, true);
      }
    }
  } else {
    // Creations or deletions of the last reconcile are not in the cache yet.
    plan.requeueWithin(std::chrono::seconds(5));
  }

  // 5. Status.
  std::int64_t inService = 0, pending = 0, unhealthy = 0, terminating = 0, warm = 0;
  std::map<std::string, v1::ScalingGroupZoneCount> byZone;
  for (const auto& z : zones.eligible) byZone[z] = {z, 0, 0};
  for (const auto& m : members) {
    switch (m.lifecycle) {
      case Lifecycle::InService:
        ++inService;
        break;
      case Lifecycle::Pending:
        ++pending;
        break;
      case Lifecycle::Unhealthy:
        ++unhealthy;
        break;
      case Lifecycle::Terminating:
        ++terminating;
        break;
      case Lifecycle::Warm:
        ++warm;
        break;
    }
    if (current(m) && !m.zone.empty()) {
      auto& zc = byZone[m.zone];
      zc.zone = m.zone;
      ++zc.count;
      zc.inServiceCount = zc.inServiceCount.value_or(0) + (m.lifecycle == Lifecycle::InService);
    }
  }
  status.desiredCapacity = desired;
  status.minSize = cap.minSize;
  status.maxSize = maxSizeInForce;
  if (scaling.statuses.empty())
    status.policies.reset();
  else
    status.policies = scaling.statuses;
  status.requested = cap.requested;
  status.currentCapacity = currentCount;
  status.inServiceCount = inService;
  status.pendingCount = pending;
  status.unhealthyCount = unhealthy;
  status.terminatingCount = terminating;
  status.warmPoolCount = warm;
  status.zones.reset();
  if (!byZone.empty()) {
    status.zones.emplace();
    for (auto& [z, c] : byZone) {
      if (!c.inServiceCount) c.inServiceCount = 0;
      status.zones->push_back(c);
    }
  }
  status.selector = selectorOf(g);
  if (launch.ok() && version > 0) status.launchTemplateVersion = version;
  if (cap.scheduledActions.empty())
    status.scheduledActions.reset();
  else
    status.scheduledActions = cap.scheduledActions;
  if (refresh) {
    status.instanceRefresh = refresh->status;
    keepRefreshMemory(status, refresh->memory);
  } else if (const auto a = g.metadata.annotations.find(api::kInstanceRefreshAnnotation);
             a != g.metadata.annotations.end()) {
    // Without spec.instanceRefresh a request is not acted on, but seen.
    status.instanceRefreshRequest = a->second;
  }
  if (!cap.changes.empty() || scaling.desired) status.lastScaleTime = b.now;
  status.observedGeneration = generation;

  // Activities: new ones first; earlier ones in progress end when the group
  // has settled (every current instance in service at the capacity in force).
  std::vector<v1::ScalingActivity> acts;
  for (auto it = b.d.activities.rbegin(); it != b.d.activities.rend(); ++it)
    acts.push_back(toStatus(*it, b.now));
  const bool settled = b.d.activities.empty() && o.expectationsSatisfied &&
                       currentCount == desired && inService == desired && terminating == 0;
  for (auto a : before.activities.value_or(std::vector<v1::ScalingActivity>{})) {
    if (settled && a.result == "InProgress") {
      a.result = "Successful";
      a.endTime = b.now;
    }
    acts.push_back(std::move(a));
  }
  if (acts.size() > kMaxActivities) acts.resize(kMaxActivities);
  if (acts.empty())
    status.activities.reset();
  else
    status.activities = std::move(acts);

  // Conditions.
  auto& conds = status.conditions;
  if (!launch.ok()) {
    setCondition(conds, condition(before.conditions, "Ready", "False", launch.problemReason,
                                  launch.problemMessage + "; the group keeps its instances and "
                                                          "launches none until this is fixed",
                                  generation, b.now));
  } else if (notLaunched > 0) {
    setCondition(
        conds, condition(before.conditions, "Ready", "False", "NoZoneAvailable",
                         std::to_string(notLaunched) +
                             " instance(s) cannot launch: no eligible zone has a schedulable node",
                         generation, b.now));
  } else if (inService == desired && currentCount == desired) {
    setCondition(conds, condition(before.conditions, "Ready", "True", "InService",
                                  std::to_string(inService) + " of " + std::to_string(desired) +
                                      " instances in service",
                                  generation, b.now));
  } else {
    setCondition(conds, condition(before.conditions, "Ready", "False", "Scaling",
                                  std::to_string(inService) + " of " + std::to_string(desired) +
                                      " instances in service, " + std::to_string(pending) +
                                      " pending, " + std::to_string(unhealthy) + " unhealthy, " +
                                      std::to_string(terminating) + " terminating",
                                  generation, b.now));
  }
  setCondition(conds, condition(before.conditions, "CapacityInRange",
                                cap.inRange ? "True" : "False", cap.inRange ? "InRange" : "Clamped",
                                cap.inRange ? "spec.desiredCapacity is within the bounds in force"
                                            : cap.rangeMessage,
                                generation, b.now));
  if (!zones.unavailable.empty()) {
    setCondition(
        conds,
        condition(before.conditions, "ZonesAvailable", "False", "NoSchedulableNode",
                  "no schedulable node in " + joinNames(zones.unavailable) +
                      ": launches skip such a zone until a node there is Ready and uncordoned",
                  generation, b.now));
  } else {
    setCondition(conds,
                 condition(before.conditions, "ZonesAvailable", "True", "Available",
                           zones.eligible.empty() ? "instances launch without a zone"
                                                  : "every eligible zone has a schedulable node",
                           generation, b.now));
  }
  if (scaling.scalingActive) {
    const auto& sa = *scaling.scalingActive;
    setCondition(conds, condition(before.conditions, "ScalingActive", sa.status, sa.reason,
                                  sa.message, generation, b.now));
  } else if (conds) {
    std::erase_if(*conds, [](const v1::Condition& c) { return c.type == "ScalingActive"; });
  }
  if (refresh) {
    setCondition(conds, condition(before.conditions, "InstanceRefreshing",
                                  refresh->inProgress ? "True" : "False",
                                  refresh->status ? refresh->status->status : "None",
                                  refresh->conditionMessage.empty() ? "no instance refresh"
                                                                    : refresh->conditionMessage,
                                  generation, b.now));
  } else {
    setCondition(conds, condition(before.conditions, "InstanceRefreshing", "False", "None",
                                  "no instance refresh", generation, b.now));
  }
  for (const auto& p : cap.problems)
    b.activity("Problem", p, desired, desired);  // named in Events below, not in status

  if (!(status == before)) {
    // Only the counts moved (instances coming into service one by one):
    // written at most once per kStatusCountsInterval, the last counts
    // always written (the plan comes back when the interval is over).
    auto countsOf = [](v1::ScalingGroupStatus s) {
      s.currentCapacity.reset();
      s.inServiceCount.reset();
      s.pendingCount.reset();
      s.unhealthyCount.reset();
      s.terminatingCount.reset();
      s.warmPoolCount.reset();
      s.zones.reset();
      // Ready's message carries the counts too.
      if (s.conditions)
        for (auto& c : *s.conditions)
          if (c.type == "Ready") c.message.reset();
      return s;
    };
    const bool countsOnly = countsOf(status) == countsOf(before);
    const auto since = o.lastStatusWrite ? o.now - *o.lastStatusWrite : Time::duration::max();
    if (countsOnly && since < kStatusCountsInterval)
      plan.requeueWithin(
          std::chrono::duration_cast<std::chrono::milliseconds>(kStatusCountsInterval - since));
    else
      plan.add(PatchStatus{status.toJson()});
  }

  // Events: one per activity; Warnings on a problem's first appearance.
  for (const auto& a : b.d.activities) {
    if (a.kind == "Problem") {
      plan.add(RecordEvent{true, "ScheduledActionInvalid", a.cause, std::nullopt});
      continue;
    }
    std::string msg = a.cause;
    if (!a.message.empty()) msg += ": " + a.message;
    plan.add(RecordEvent{false, a.kind, msg, std::nullopt});
  }
  auto newProblem = [&](const std::string& type) {
    const auto* was = findCondition(before.conditions, type);
    const auto* is = findCondition(status.conditions, type);
    return is && is->status == "False" && (!was || was->reason != is->reason);
  };
  if (newProblem("Ready") && (!launch.ok() || notLaunched > 0)) {
    const auto* c = findCondition(status.conditions, "Ready");
    plan.add(RecordEvent{true, c->reason.value_or(""), c->message.value_or(""), std::nullopt});
  }
  if (newProblem("ZonesAvailable")) {
    const auto* c = findCondition(status.conditions, "ZonesAvailable");
    plan.add(RecordEvent{true, "ZoneUnavailable", c->message.value_or(""), std::nullopt});
  }
  // ScalingActive: one Event when the policies stop being able to act (a
  // new reason), one when they can again; not one per evaluation.
  {
    const auto* was = findCondition(before.conditions, "ScalingActive");
    const auto* is = findCondition(status.conditions, "ScalingActive");
    if (is && is->status == "False" && (!was || was->reason != is->reason))
      plan.add(RecordEvent{true, is->reason.value_or("ScalingInactive"), is->message.value_or(""),
                           std::nullopt});
    if (is && is->status == "True" && was && was->status == "False")
      plan.add(RecordEvent{false, "ScalingActive",
                           "the scaling policies read their metrics again and act", std::nullopt});
  }
  if (newProblem("CapacityInRange")) {
    const auto* c = findCondition(status.conditions, "CapacityInRange");
    plan.add(RecordEvent{true, "CapacityClamped", c->message.value_or(""), std::nullopt});
  }
  std::erase_if(b.d.activities, [](const Activity& a) { return a.kind == "Problem"; });

  // Pending members come into service (or fail) by the grace period, or,
  // still launching, by the start timeout: look again then. With load
  // balancer checks, so do members in service: their load balancers'
  // verdict counts from the grace period's end, and a target already
  // unhealthy then changes no status to wake the group.
  for (const auto& m : members) {
    const bool launching = m.lifecycle == Lifecycle::Pending;
    if (!launching &&
        !(m.lifecycle == Lifecycle::InService && health.loadBalancerChecks && !health.suspended))
      continue;
    for (const auto wait :
         {health.gracePeriod, std::max(health.gracePeriod, health.startTimeout)}) {
      if (!launching && wait != health.gracePeriod) continue;
      const auto due = m.graceFrom + wait + std::chrono::seconds(1);
      if (due > o.now)
        plan.requeueWithin(std::chrono::duration_cast<std::chrono::milliseconds>(due - o.now));
    }
  }
  return std::move(b.d);
}

}  // namespace kubec2::reconcilers
