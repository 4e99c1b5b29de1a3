#include "reconcilers/loadbalancer/plan.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "api/resources.h"
#include "api/well_known.h"
#include "reconcilers/common/conditions.h"
#include "reconcilers/common/observed.h"
#include "runtime/object.h"
#include "runtime/selector.h"
#include "runtime/strings.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers::loadbalancer {
namespace {

using nlohmann::json;

std::string timeText(Time t) {
  return kube::formatRfc3339(t);
}

std::int64_t deregistrationDelayOf(const v1::TargetGroup& g) {
  return g.deregistrationDelaySeconds.value_or(300);
}

// The group's check settings; a matcher the schema let through but the
// parser refuses (it cannot: same pattern) falls back to ELB's default.
CheckSettings settingsOf(const v1::TargetGroup& g, const std::string& type) {
  try {
    return checkSettingsOf(g, type);
  } catch (const std::invalid_argument&) {
    v1::TargetGroup plain = g;
    if (plain.healthCheck) plain.healthCheck->matcher.reset();
    return checkSettingsOf(plain, type);
  }
}

CheckResult judge(const RawCheck& c, const CheckSettings& s) {
  CheckResult r;
  r.at = c.at;
  r.detail = c.detail;
  switch (c.kind) {
    case RawCheck::Kind::Answered:
      r.httpStatus = c.httpStatus;
      if (s.protocol != "TCP" && !s.matcher.accepts(c.httpStatus))
        r.outcome = Outcome::ResponseCodeMismatch;
      break;
    case RawCheck::Kind::Connected:
      break;
    case RawCheck::Kind::Timeout:
      r.outcome = Outcome::Timeout;
      break;
    case RawCheck::Kind::Failed:
      r.outcome = Outcome::Failed;
      break;
  }
  return r;
}

const char* outcomeName(Outcome o) {
  switch (o) {
    case Outcome::Pass:
      return "pass";
    case Outcome::Timeout:
      return "timeout";
    case Outcome::ResponseCodeMismatch:
      return "response_code_mismatch";
    case Outcome::Failed:
      return "failed";
  }
  return "failed";
}

// A registration at a port the group no longer has is tracked as
// "<instance>:<port>" (plan.h).
std::string earlierPortKey(const std::string& instance, std::int64_t port) {
  return instance + ":" + std::to_string(port);
}
bool isEarlierPort(const std::string& key) {
  return key.find(':') != std::string::npos;
}
std::string instanceOf(const std::string& key) {
  return key.substr(0, key.find(':'));
}

TargetHealth drainingUntil(Time since, Time until) {
  TargetHealth h = registered(since);
  h.state = State::Draining;
  h.reason = "Target.DeregistrationInProgress";
  h.description = "Target deregistration is in progress";
  h.drainingUntil = until;
  return h;
}

TargetHealth notInUse(const TargetHealth& target, Time now) {
  TargetHealth t = notRunning(target, now);
  t.reason = "Target.NotInUse";
  t.description = "Target group is not configured to receive traffic from the load balancer";
  return t;
}

// --------------------------------------------------------------- rebuild

const json* labelOf(const json& obj, const char* key) {
  const json* labels = kube::jsonAt(&obj, {"metadata", "labels"});
  if (labels == nullptr || !labels->is_object() || !labels->contains(key)) return nullptr;
  return &(*labels)[key];
}

// What a new leader knows of the targets: the EndpointSlices it wrote (a
// ready endpoint was healthy, a terminating one draining, a listed one
// initial or unhealthy) and the status it wrote (reasons, since,
// drainingUntil, and the unused targets).
TrackedTargets rebuild(const LoadBalancerObservation& o) {
  TrackedTargets out;
  const auto& spec = o.loadBalancer->spec;
  std::map<std::string, const v1::TargetGroup*> groups;
  for (const auto& g : spec.targetGroups) groups[g.name] = &g;
  // A group no longer in spec (removed while its targets drain) has the
  // port its slices or status say, and ELB's default delay.
  auto groupOf = [&](const std::string& name) -> const v1::TargetGroup* {
    const auto it = groups.find(name);
    return it == groups.end() ? nullptr : it->second;
  };
  for (const json* slice : o.endpointSlices) {
    const json* tg = labelOf(*slice, api::kTargetGroupLabel);
    if (tg == nullptr || !tg->is_string()) continue;
    const std::string name = tg->get<std::string>();
    const v1::TargetGroup* group = groupOf(name);
    // The port the slice was written with: the group's then (a port
    // changed meanwhile is a new registration).
    std::int64_t port = group != nullptr ? group->port : 0;
    if (const json* ports = kube::jsonAt(slice, {"ports"});
        ports != nullptr && ports->is_array() && !ports->empty())
      port = (*ports)[0].value("port", port);
    const std::int64_t delay = group != nullptr ? deregistrationDelayOf(*group) : 300;
    auto& targets = out[name];
    for (const auto& e : slice->value("endpoints", json::array())) {
      const json ref = e.value("targetRef", json::object());
      const std::string instance = ref.value("name", "");
      const auto addresses = e.value("addresses", json::array());
      if (instance.empty() || addresses.empty() || !addresses[0].is_string()) continue;
      TrackedTarget t;
      t.uid = ref.value("uid", "");
      t.ip = addresses[0].get<std::string>();
      t.port = port;
      t.deregistrationDelaySeconds = delay;
      t.nodeName = e.value("nodeName", "");
      t.zone = e.value("zone", "");
      if (const auto topo = e.value("topology", json::object()); !topo.empty()) {
        if (t.nodeName.empty()) t.nodeName = topo.value("kubernetes.io/hostname", "");
        if (t.zone.empty()) t.zone = topo.value("topology.kubernetes.io/zone", "");
      }
      const json c = e.value("conditions", json::object());
      t.health = registered(o.now);
      if (c.value("terminating", false) && c.value("serving", false)) {
        t.health = drainingUntil(o.now, o.now + std::chrono::seconds(delay));
      } else if (c.value("ready", false)) {
        t.health.state = State::Healthy;
        t.health.reason.clear();
        t.health.description.clear();
      }
      targets[instance] = std::move(t);
    }
  }
  if (!o.loadBalancer->status || !o.loadBalancer->status->targetGroups) return out;
  for (const auto& gs : *o.loadBalancer->status->targetGroups) {
    if (!gs.targets) continue;
    const v1::TargetGroup* group = groupOf(gs.name);
    const std::int64_t delay = group != nullptr ? deregistrationDelayOf(*group) : 300;
    auto& targets = out[gs.name];
    for (const auto& ts : *gs.targets) {
      auto it = targets.find(ts.instance);
      // When the state began, as status says (o.now when it does not).
      Time since = o.now;
      bool sinceSaid = false;
      if (auto said = ts.since ? kube::parseRfc3339Utc(*ts.since) : std::nullopt) {
        since = *said;
        sinceSaid = true;
      }
      // When the drain ends: as status says, else a whole delay from now.
      Time until = o.now + std::chrono::seconds(delay);
      if (auto said = ts.drainingUntil ? kube::parseRfc3339Utc(*ts.drainingUntil) : std::nullopt)
        until = *said;
      const std::int64_t current = it != targets.end()
                                       ? it->second.port
                                       : (group != nullptr ? group->port : ts.port.value_or(0));
      const bool earlierPort = ts.port && *ts.port != current;
      if (it == targets.end() || earlierPort) {
        // Not in a slice: unused (no endpoint), draining at a port the
        // group no longer has (status only) or in a group removed from
        // spec whose slice is gone, or an endpoint the slices lost (the
        // next reconcile registers it again if it runs).
        TrackedTarget t;
        t.ip = ts.ip.value_or("");
        t.port = ts.port.value_or(current);
        t.deregistrationDelaySeconds = delay;
        if (ts.state == "draining") {
          t.health = drainingUntil(since, until);
          targets[earlierPort ? earlierPortKey(ts.instance, t.port) : ts.instance] = std::move(t);
        } else if (ts.state == "unused" && !earlierPort) {
          t.ip.clear();
          t.health = notRunning(registered(o.now), since);
          if (ts.reason) t.health.reason = *ts.reason;
          if (ts.description) t.health.description = *ts.description;
          targets[ts.instance] = std::move(t);
        }
        continue;
      }
      TargetHealth& h = it->second.health;
      if (sinceSaid) h.since = since;
      if (ts.state == "unhealthy" && h.state == State::Initial) {
        h.state = State::Unhealthy;
        h.reason = ts.reason.value_or("Target.FailedHealthChecks");
        h.description = ts.description.value_or("");
      } else if (ts.state == "draining" && h.state != State::Healthy) {
        // Servers before 1.22's EndpointSliceTerminatingCondition drop
        // serving and terminating: the slice shows a draining target as
        // not ready, and only status says it drains, and until when.
        if (!ts.drainingUntil && h.drainingUntil) until = *h.drainingUntil;
        h = drainingUntil(h.since, until);
      }
    }
  }
  std::erase_if(out, [](const auto& kv) { return kv.second.empty(); });
  return out;
}

// --------------------------------------------------------------- events

// The order of targets in status (and of changes in a summary Event):
// draining first (a terminating Instance reads its drainingUntil there),
// then the ones a user looks for, healthy last.
int eventOrder(State s) {
  switch (s) {
    case State::Draining:
      return 0;
    case State::Unhealthy:
      return 1;
    case State::Initial:
      return 2;
    case State::Unused:
      return 3;
    case State::Healthy:
      return 4;
  }
  return 5;
}

struct Change {
  std::string targetGroup;
  std::string instance;
  std::optional<State> from;  // nullopt: newly registered
  std::optional<State> to;    // nullopt: removed
  std::string description;
};

std::string sentenceOf(const Change& c) {
  const std::string who = "target " + c.instance + " of target group " + c.targetGroup;
  if (!c.to) return who + " deregistered";
  if (!c.from) return who + " registered (" + std::string(toString(*c.to)) + ")";
  std::string s =
      who + " " + std::string(toString(*c.from)) + " -> " + std::string(toString(*c.to));
  if (!c.description.empty()) s += ": " + c.description;
  return s;
}

// One Event per change; many changes in one reconcile (a group's targets
// registered at once, a network fault) are one Event listing the first
// few, so a large group cannot flood the Events.
constexpr std::size_t kEventsPerReconcile = 5;

void recordChanges(std::vector<Change> changes, Plan& plan) {
  if (changes.empty()) return;
  auto reasonOf = [](const Change& c) -> std::pair<bool, std::string> {
    if (!c.to) return {false, "TargetDeregistered"};
    if (!c.from) return {false, "TargetRegistered"};
    switch (*c.to) {
      case State::Healthy:
        return {false, "TargetHealthy"};
      case State::Unhealthy:
        return {true, "TargetUnhealthy"};
      case State::Draining:
        return {false, "TargetDraining"};
      case State::Unused:
        return {true, "TargetUnused"};
      case State::Initial:
        return {false, "TargetRegistered"};
    }
    return {false, "TargetHealthChanged"};
  };
  if (changes.size() <= kEventsPerReconcile) {
    for (const auto& c : changes) {
      auto [warning, reason] = reasonOf(c);
      plan.add(RecordEvent{warning, reason, sentenceOf(c), {}});
    }
    return;
  }
  std::stable_sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return eventOrder(a.to.value_or(State::Unused)) < eventOrder(b.to.value_or(State::Unused));
  });
  std::map<std::string, int> byState;
  bool anyUnhealthy = false;
  for (const auto& c : changes) {
    ++byState[c.to ? std::string(toString(*c.to)) : "deregistered"];
    anyUnhealthy = anyUnhealthy || (c.to && *c.to == State::Unhealthy);
  }
  std::vector<std::string> counts, first;
  for (const auto& [state, n] : byState) counts.push_back(std::to_string(n) + " " + state);
  for (std::size_t i = 0; i < 3; ++i) first.push_back(sentenceOf(changes[i]));
  plan.add(RecordEvent{anyUnhealthy,
                       "TargetHealthChanged",
                       std::to_string(changes.size()) + " targets changed (" + kube::join(counts) +
                           "): " + kube::join(first, "; ") + "; ...",
                       {}});
}

// --------------------------------------------------------------- status

v1::TargetHealth statusOf(const std::string& name, const TrackedTarget& t) {
  v1::TargetHealth h;
  h.instance = instanceOf(name);
  if (!t.ip.empty()) h.ip = t.ip;
  h.port = t.port;
  h.state = std::string(toString(t.health.state));
  if (!t.health.reason.empty()) h.reason = t.health.reason;
  if (!t.health.description.empty()) h.description = t.health.description;
  if (t.health.since != Time{}) h.since = timeText(t.health.since);
  if (t.health.drainingUntil) h.drainingUntil = timeText(*t.health.drainingUntil);
  return h;
}

const json* findByName(const std::vector<const json*>& objects, const std::string& name) {
  for (const json* o : objects)
    if (const json* n = kube::jsonAt(o, {"metadata", "name"}); n && *n == name) return o;
  return nullptr;
}

// "a, b, c and 2 more": at most kNamesInMessage names.
std::string boundedList(const std::vector<std::string>& names) {
  if (names.size() <= kNamesInMessage) return kube::join(names);
  std::vector<std::string> head(names.begin(),
                                names.begin() + static_cast<std::ptrdiff_t>(kNamesInMessage));
  return kube::join(head) + " and " + std::to_string(names.size() - kNamesInMessage) + " more";
}

const v1::ScalingGroup* findScalingGroup(const LoadBalancerObservation& o,
                                         const std::string& name) {
  for (const v1::ScalingGroup* g : o.scalingGroups)
    if (g != nullptr && g->metadata.name == name) return g;
  return nullptr;
}

bool addToLoadBalancerSuspended(const v1::ScalingGroup& g) {
  const auto& s = g.spec.suspendedProcesses;
  return s && std::find(s->begin(), s->end(), "AddToLoadBalancer") != s->end();
}

}  // namespace

std::map<std::string, SelectedTarget> selectTargets(
    const v1::TargetGroup& group, const std::vector<const v1::Instance*>& instances) {
  std::map<std::string, SelectedTarget> out;
  const auto& t = group.targets;
  std::optional<kube::LabelSelector> selector;
  if (t.instanceSelector) {
    try {
      selector = kube::LabelSelector::fromJson(t.instanceSelector->toJson());
    } catch (const std::invalid_argument&) {
      return out;  // the webhook refuses such a selector; select nothing
    }
  }
  std::set<std::string> named;
  if (t.instanceRefs)
    for (const auto& r : *t.instanceRefs) named.insert(r.name);
  for (const v1::Instance* i : instances) {
    const auto& m = i->metadata;
    if (m.deletionTimestamp) continue;
    bool selected = false;
    if (t.scalingGroupRef) {
      const kube::OwnerReference* owner = m.controllerRef();
      const auto warm = m.labels.find(api::kWarmPoolLabel);
      selected = owner != nullptr && owner->kind == "ScalingGroup" &&
                 owner->name == t.scalingGroupRef->name &&
                 (warm == m.labels.end() || warm->second != "true");
    } else if (selector) {
      selected = selector->matches(m.labels);
    } else {
      selected = named.contains(m.name);
    }
    if (!selected) continue;
    const bool running = i->status && i->status->state.value_or("") == "running" &&
                         !i->status->privateIP.value_or("").empty();
    out[m.name] = SelectedTarget{i, running};
  }
  return out;
}

LoadBalancerDecision planLoadBalancer(const LoadBalancerObservation& o) {
  const v1::LoadBalancer& lb = *o.loadBalancer;
  const std::string type = lb.spec.type.value_or("application");
  LoadBalancerDecision d;
  const TrackedTargets previous = o.tracked != nullptr ? *o.tracked : rebuild(o);
  std::vector<Change> changes;
  std::optional<Time> nextDrainEnd;

  RenderInput in;
  in.loadBalancer = &lb;
  in.discovery = o.discovery;
  in.ingressClass = o.ingressClass;

  std::set<std::string> usedByListeners;
  for (const auto& l : lb.spec.listeners) {
    usedByListeners.insert(l.defaultTargetGroup);
    if (l.rules)
      for (const auto& rule : *l.rules) usedByListeners.insert(rule.targetGroup);
  }

  // (target group, target) whose change is already in `changes`.
  std::set<std::pair<std::string, std::string>> announced;
  // The changes from `before` to `now` of a group's targets, its counts,
  // and the endpoints of its slices.
  auto summarize = [&](const std::string& group, const std::map<std::string, TrackedTarget>& before,
                       const std::map<std::string, TrackedTarget>& now) {
    TargetGroupEndpoints eps;
    eps.targetGroup = group;
    TargetCounts counts;
    for (const auto& [name, t] : now) {
      const auto b = before.find(name);
      if (announced.contains({group, name})) {
        // recorded where it arose
      } else if (b == before.end()) {
        changes.push_back({group, name, std::nullopt, t.health.state, t.health.description});
      } else if (b->second.health.state != t.health.state) {
        changes.push_back(
            {group, name, b->second.health.state, t.health.state, t.health.description});
      }
      Endpoint e{name, t.uid, t.ip, t.nodeName, t.zone, EndpointCondition::NotReady};
      switch (t.health.state) {
        case State::Initial:
          ++counts.initial;
          break;
        case State::Healthy:
          ++counts.healthy;
          e.condition = EndpointCondition::Ready;
          break;
        case State::Unhealthy:
          ++counts.unhealthy;
          break;
        case State::Draining:
          ++counts.draining;
          e.condition = EndpointCondition::Terminating;
          if (t.health.drainingUntil && (!nextDrainEnd || *t.health.drainingUntil < *nextDrainEnd))
            nextDrainEnd = *t.health.drainingUntil;
          break;
        case State::Unused:
          ++counts.unused;
          break;
      }
      // A registration at a port the group no longer has is in status
      // only: a slice has one ports list, the group's.
      if (t.health.state != State::Unused && !t.ip.empty() && !isEarlierPort(name))
        eps.endpoints.push_back(std::move(e));
    }
    for (const auto& [name, b] : before)
      if (!now.contains(name)) changes.push_back({group, name, b.health.state, {}, ""});
    for (const json* slice : o.endpointSlices) {
      const json* tg = labelOf(*slice, api::kTargetGroupLabel);
      if (tg == nullptr || *tg != group) continue;
      auto& members =
          eps.currentSlices[kube::jsonAt(slice, {"metadata", "name"})->get<std::string>()];
      for (const auto& e : slice->value("endpoints", json::array()))
        if (const json* n = kube::jsonAt(&e, {"targetRef", "name"}); n && n->is_string())
          members.push_back(n->get<std::string>());
    }
    d.counts[group] = counts;
    return eps;
  };

  std::vector<std::string> groupsMissing, instancesMissing, heldBack, retiredGroups;
  for (const auto& group : lb.spec.targetGroups) {
    const bool inUse = usedByListeners.contains(group.name);
    // AddToLoadBalancer suspended on the group's ScalingGroup: no new
    // target from it (those registered stay and are checked as before).
    bool holdNew = false;
    if (const auto& ref = group.targets.scalingGroupRef) {
      const v1::ScalingGroup* sg = findScalingGroup(o, ref->name);
      if (sg == nullptr)
        groupsMissing.push_back(ref->name + " (target group " + group.name + ")");
      else
        holdNew = addToLoadBalancerSuspended(*sg);
    } else if (!group.targets.instanceSelector && group.targets.instanceRefs) {
      for (const auto& r : *group.targets.instanceRefs)
        if (std::none_of(o.instances.begin(), o.instances.end(),
                         [&](const v1::Instance* i) { return i->metadata.name == r.name; }))
          instancesMissing.push_back(r.name + " (target group " + group.name + ")");
    }
    const CheckSettings settings = settingsOf(group, type);
    const std::chrono::seconds delay(deregistrationDelayOf(group));
    const auto selected = selectTargets(group, o.instances);
    static const std::map<std::string, TrackedTarget> kNone;
    const auto pit = previous.find(group.name);
    const auto& before = pit == previous.end() ? kNone : pit->second;
    auto& now = d.tracked[group.name];

    for (const auto& [name, sel] : selected) {
      const auto& inst = *sel.instance;
      TrackedTarget t;
      t.uid = inst.metadata.uid;
      t.port = group.port;
      t.deregistrationDelaySeconds = delay.count();
      if (inst.status) {
        t.ip = sel.running ? inst.status->privateIP.value_or("") : "";
        t.nodeName = inst.status->nodeName.value_or("");
        t.zone = inst.status->zone.value_or("");
      }
      const auto b = before.find(name);
      const bool known = b != before.end();
      if (!known && holdNew) {
        heldBack.push_back(name);
        continue;
      }
      // ELB's registration is instance:port: at a new port the target is
      // registered anew, and the registration at the old port leaves
      // (a healthy one drains, a draining one drains on).
      const bool portChanged = known && b->second.port != t.port;
      if (portChanged) {
        const TargetHealth& was = b->second.health;
        std::optional<TargetHealth> leaving =
            was.state == State::Draining ? std::optional(was) : deregistered(was, o.now, delay);
        if (leaving && !drainingOver(*leaving, o.now)) {
          const std::string key = earlierPortKey(name, b->second.port);
          TrackedTarget old = b->second;
          old.health = *leaving;
          if (was.state != State::Draining)
            changes.push_back({group.name, key, was.state, State::Draining, leaving->description});
          announced.insert({group.name, key});
          now[key] = std::move(old);
        }
      }
      if (!inUse) {
        // ELB: unused, Target.NotInUse: no listener forwards to the group,
        // so it is neither checked nor given traffic.
        t.health = known && b->second.health.state == State::Unused &&
                           b->second.health.reason == "Target.NotInUse"
                       ? b->second.health
                       : notInUse(known ? b->second.health : registered(o.now), o.now);
      } else if (!sel.running) {
        t.health = known && b->second.health.state == State::Unused &&
                           b->second.health.reason == "Target.InvalidState"
                       ? b->second.health
                       : notRunning(known ? b->second.health : registered(o.now), o.now);
      } else if (known && !portChanged && b->second.health.state != State::Unused &&
                 b->second.health.state != State::Draining && b->second.ip == t.ip &&
                 (b->second.uid.empty() || b->second.uid == t.uid)) {
        t.health = b->second.health;
      } else {
        // New, running again, at a new address or port, or back while
        // draining: registered afresh, as ELB registers a target again.
        t.health = registered(o.now);
      }
      now[name] = std::move(t);
    }
    for (const auto& [name, b] : before) {
      if (selected.contains(name) || now.contains(name)) continue;
      if (isEarlierPort(name)) {
        // Back at that port: the new registration replaces it (above).
        const auto current = now.find(instanceOf(name));
        if (current != now.end() && current->second.port == b.port) continue;
      }
      if (b.health.state == State::Draining) {
        if (!drainingOver(b.health, o.now)) now[name] = b;
        continue;
      }
      if (auto drained = deregistered(b.health, o.now, delay)) {
        TrackedTarget t = b;
        t.health = *drained;
        now[name] = std::move(t);
      }
    }
    for (const auto& c : o.checks) {
      if (c.targetGroup != group.name) continue;
      auto it = now.find(c.instance);
      if (it == now.end() || it->second.ip != c.ip || it->second.ip.empty()) continue;
      const CheckResult judged = judge(c, settings);
      ++d.outcomes[group.name][outcomeName(judged.outcome)];
      it->second.health = afterCheck(it->second.health, judged, settings);
    }

    TargetGroupEndpoints eps = summarize(group.name, before, now);
    for (const Endpoint& e : eps.endpoints)
      if (e.condition != EndpointCondition::Terminating)
        d.checks.push_back({group.name, e.instance, e.ip, settings});
    in.targetGroups.push_back(std::move(eps));
  }

  // Target groups removed from spec (a rename removes one): their targets
  // leave as they do when deselected, each draining for the delay its group
  // last had; the group's slices and status entry stay while one drains.
  for (const auto& [name, before] : previous) {
    if (std::any_of(lb.spec.targetGroups.begin(), lb.spec.targetGroups.end(),
                    // (A structured binding, captured by name: clang 14 cannot.)
                    [&removed = name](const v1::TargetGroup& g) { return g.name == removed; }))
      continue;
    std::map<std::string, TrackedTarget> now;
    for (const auto& [key, b] : before) {
      if (b.health.state == State::Draining) {
        if (!drainingOver(b.health, o.now)) now[key] = b;
      } else if (auto drained = deregistered(b.health, o.now,
                                             std::chrono::seconds(b.deregistrationDelaySeconds))) {
        TrackedTarget t = b;
        t.health = *drained;
        now[key] = std::move(t);
      }
    }
    RetiredTargetGroup retired{summarize(name, before, now)};
    if (now.empty()) {  // its slices go (not rendered), and its status entry
      d.counts.erase(name);
      continue;
    }
    for (const json* slice : o.endpointSlices) {
      const json* tg = labelOf(*slice, api::kTargetGroupLabel);
      const json* ports = kube::jsonAt(slice, {"ports"});
      if (tg != nullptr && *tg == name && ports != nullptr && ports->is_array() &&
          !ports->empty()) {
        retired.ports = *ports;
        break;
      }
    }
    in.retiredTargetGroups.push_back(std::move(retired));
    retiredGroups.push_back(name);
    d.tracked[name] = std::move(now);
  }
  recordChanges(std::move(changes), d.plan);

  // ------------------------------------------------ objects
  Rendered r = renderLoadBalancer(in);
  // The endpoints and the status first, the Service and the Ingress last:
  // the executor stops at the first write refused, and a Service the
  // server refuses (a port changed by hand that server-side apply cannot
  // merge) must not freeze which instances take traffic.
  std::vector<Action> last;
  stamp(r.service);
  const ApplyDecision serviceNeed = decideApply(r.service, o.service, o.serviceApplied);
  // Ports written by someone else: server-side apply merges its list with
  // theirs (a port of ours renumbered by hand stays beside ours, and two
  // ports of one name are refused), so the list is replaced whole first.
  // Not on a change of our own (ApplyNeed::Change): the apply removes the
  // ports we wrote; were it refused, serviceRefused says so next time.
  const std::vector<std::string> foreign =
      o.service != nullptr ? foreignPorts(r.service, *o.service) : std::vector<std::string>{};
  if (o.serviceNameTaken) {
    // Not ours to write: see serviceNameTaken.
  } else if (!foreign.empty() && (o.serviceRefused || serviceNeed.need == ApplyNeed::Restore ||
                                  serviceNeed.need == ApplyNeed::Recheck)) {
    last.push_back(RecordEvent{
        true, "ServiceRestored",
        "Service " + lb.metadata.name + " had ports kubec2 did not write (" + boundedList(foreign) +
            "); its ports were restored to the listeners'",
        ChangeAttribution{
            api::kServices, lb.metadata.namespace_, lb.metadata.name, {"/spec/ports"}}});
    last.push_back(
        MergePatchObject{api::kServices,
                         lb.metadata.namespace_,
                         lb.metadata.name,
                         resourceVersionOf(o.service),
                         {{"spec", {{"ports", portsKeepingNodePorts(r.service, *o.service)}}}}});
    last.push_back(ApplyObject{api::kServices, r.service, resourceVersionOf(o.service)});
  } else if (serviceNeed.apply() || o.serviceRefused) {
    last.push_back(ApplyObject{api::kServices, r.service, resourceVersionOf(o.service)});
  }
  const kube::Resource& sliceResource = endpointSlicesResource(o.discovery);
  std::set<std::string> wantedSlices;
  // Slices name their Service (kubernetes.io/service-name): none may feed
  // a Service that is not the load balancer's.
  if (o.serviceNameTaken) r.endpointSlices.clear();
  for (auto& slice : r.endpointSlices) {
    const std::string name = slice["metadata"]["name"].get<std::string>();
    wantedSlices.insert(name);
    stamp(slice);
    const json* observed = findByName(o.endpointSlices, name);
    const auto rec = o.sliceApplied.find(name);
    if (decideApply(slice, observed, rec == o.sliceApplied.end() ? nullptr : &rec->second).apply())
      d.plan.add(ApplyObject{sliceResource, slice, resourceVersionOf(observed)});
  }
  for (const json* slice : o.endpointSlices) {
    const std::string name = kube::jsonAt(slice, {"metadata", "name"})->get<std::string>();
    if (!wantedSlices.contains(name))
      d.plan.add(DeleteObject{sliceResource, lb.metadata.namespace_, name, uidOf(slice)});
  }
  if (o.ingressNameTaken) {
    // Not ours to write or delete: see ingressNameTaken.
  } else if (r.ingress && o.ingressServed && !o.serviceNameTaken) {
    // (Its backends are the Service of the load balancer's name: while that
    // name is someone else's Service, the Ingress would route to it.)
    stamp(*r.ingress);
    if (decideApply(*r.ingress, o.ingress, o.ingressApplied).apply())
      last.push_back(ApplyObject{api::kIngresses, *r.ingress, resourceVersionOf(o.ingress)});
  } else if (o.ingress != nullptr) {
    last.push_back(
        DeleteObject{api::kIngresses, lb.metadata.namespace_, lb.metadata.name, uidOf(o.ingress)});
  }

  // ------------------------------------------------ status
  const v1::LoadBalancerStatus old = lb.status.value_or(v1::LoadBalancerStatus{});
  v1::LoadBalancerStatus st;
  st.conditions = old.conditions;
  st.observedGeneration = lb.metadata.generation;
  const std::string address = o.service != nullptr ? addressOf(*o.service) : "";
  if (!address.empty()) st.address = address;
  std::int64_t healthy = 0;
  std::vector<v1::TargetGroupStatus> groups;
  std::vector<std::string> withoutHealthy;
  auto statusOfGroup = [&](const std::string& group) {
    const auto& targets = d.tracked[group];
    const TargetCounts& c = d.counts[group];
    v1::TargetGroupStatus gs;
    gs.name = group;
    gs.healthyCount = c.healthy;
    gs.unhealthyCount = c.unhealthy;
    gs.initialCount = c.initial;
    gs.drainingCount = c.draining;
    gs.targetCount = static_cast<std::int64_t>(targets.size());
    if (std::string port = servicePortName(lb.spec, group); !port.empty())
      gs.servicePort = std::move(port);
    std::vector<std::pair<std::string, const TrackedTarget*>> order;
    for (const auto& [name, t] : targets) order.emplace_back(name, &t);
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return eventOrder(a.second->health.state) < eventOrder(b.second->health.state);
    });
    if (order.size() > kStatusTargetsPerGroup) order.resize(kStatusTargetsPerGroup);
    if (!order.empty()) {
      gs.targets = std::vector<v1::TargetHealth>{};
      for (const auto& [name, t] : order) gs.targets->push_back(statusOf(name, *t));
    }
    healthy += c.healthy;
    if (c.healthy == 0 && usedByListeners.contains(group)) withoutHealthy.push_back(group);
    groups.push_back(std::move(gs));
  };
  for (const auto& group : lb.spec.targetGroups) statusOfGroup(group.name);
  // A removed group's entry stays while its targets drain: an Instance
  // deleted meanwhile reads its drainingUntil there (deregistration.h).
  for (const auto& name : retiredGroups) statusOfGroup(name);
  st.healthyTargets = healthy;
  st.targetGroups = std::move(groups);

  const std::string nowText = timeText(o.now);
  const std::int64_t gen = lb.metadata.generation;
  std::vector<RecordEvent> conflicts;
  auto nameTaken = [&](const std::string& kind) {
    return "a " + kind + " " + lb.metadata.name +
           " exists in this namespace that this LoadBalancer does not own; kubec2 does not "
           "take it over: rename the LoadBalancer or delete that " +
           kind;
  };
  if (o.serviceNameTaken) {
    const std::string message = nameTaken("Service");
    if (conditionChanged(old.conditions, "Ready", "NameConflict", message))
      conflicts.push_back(RecordEvent{true, "NameConflict", message, {}});
    setCondition(st.conditions, condition(old.conditions, "Ready", "False", "NameConflict", message,
                                          gen, nowText));
  } else if (o.service == nullptr)
    setCondition(st.conditions,
                 condition(old.conditions, "Ready", "False", "Provisioning",
                           "the Service " + lb.metadata.name + " is being created", gen, nowText));
  else
    setCondition(st.conditions,
                 condition(old.conditions, "Ready", "True", "Active",
                           "Service " + lb.metadata.name + " at " +
                               (address.empty() ? std::string("(no address yet)") : address) +
                               ", " + std::to_string(healthy) + " healthy targets",
                           gen, nowText));
  if (withoutHealthy.empty())
    setCondition(st.conditions,
                 condition(old.conditions, "HealthyTargets", "True", "TargetsHealthy",
                           "every target group in use has a healthy target", gen, nowText));
  else
    setCondition(st.conditions,
                 condition(old.conditions, "HealthyTargets", "False", "NoHealthyTargets",
                           "no healthy target in target group" +
                               std::string(withoutHealthy.size() > 1 ? "s " : " ") +
                               kube::join(withoutHealthy) + ": their listeners refuse connections",
                           gen, nowText));
  if (type == "application" && (o.ingressNameTaken || o.serviceNameTaken)) {
    const std::string message =
        o.ingressNameTaken ? nameTaken("Ingress")
                           : "not written while the Service name is taken (see Ready): its "
                             "backends would be that Service";
    if (conditionChanged(old.conditions, "IngressSynced", "NameConflict", message))
      conflicts.push_back(RecordEvent{true, "NameConflict", message, {}});
    setCondition(st.conditions, condition(old.conditions, "IngressSynced", "False", "NameConflict",
                                          message, gen, nowText));
  } else if (type == "application" && !o.ingressServed)
    setCondition(st.conditions,
                 condition(old.conditions, "IngressSynced", "False", "IngressNotServed",
                           "the API server does not serve networking.k8s.io/v1 Ingress: the "
                           "listeners' host and path rules are not in force",
                           gen, nowText));
  else if (!r.warnings.empty())
    setCondition(st.conditions, condition(old.conditions, "IngressSynced", "False", "RulesDiffer",
                                          kube::join(r.warnings, "; "), gen, nowText));
  else
    removeCondition(st.conditions, "IngressSynced");

  // Names that resolve to nothing: said, not guessed at.
  std::vector<std::string> notFound;
  if (!groupsMissing.empty())
    notFound.push_back("ScalingGroup " + boundedList(groupsMissing) + " not found");
  if (!instancesMissing.empty())
    notFound.push_back("Instance " + boundedList(instancesMissing) + " not found");
  std::vector<RecordEvent> warnings;
  if (!notFound.empty()) {
    const std::string reason = !groupsMissing.empty() ? "ScalingGroupNotFound" : "InstanceNotFound";
    const std::string message = kube::join(notFound, "; ");
    if (conditionChanged(old.conditions, "TargetsResolved", reason, message))
      warnings.push_back(RecordEvent{true, "TargetsNotFound", message, {}});
    setCondition(st.conditions, condition(old.conditions, "TargetsResolved", "False", reason,
                                          message, gen, nowText));
  } else if (!heldBack.empty()) {
    setCondition(st.conditions,
                 condition(old.conditions, "TargetsResolved", "True", "AddToLoadBalancerSuspended",
                           "AddToLoadBalancer is suspended: instances not registered: " +
                               boundedList(heldBack),
                           gen, nowText));
  } else {
    setCondition(
        st.conditions,
        condition(old.conditions, "TargetsResolved", "True", "TargetsFound",
                  "every scalingGroupRef and instanceRefs names an existing object", gen, nowText));
  }
  std::vector<std::string> certificatesMissing;
  bool anyHttps = false;
  if (type == "application")
    for (const auto& l : lb.spec.listeners) {
      if (l.protocol != "HTTPS" || !l.certificate) continue;
      anyHttps = true;
      const auto c = o.certificates.find(l.certificate->name);
      if (c == o.certificates.end() || c->second == CertificateCheck::Found) continue;
      certificatesMissing.push_back(
          "listener " + std::to_string(l.port) + ": Secret " + l.certificate->name +
          (c->second == CertificateCheck::NotFound ? " not found" : " lacks tls.crt or tls.key"));
    }
  if (!certificatesMissing.empty()) {
    const std::string message =
        kube::join(certificatesMissing, "; ") +
        " (the ingress controller serves its default certificate for these hosts)";
    if (conditionChanged(old.conditions, "CertificatesFound", "CertificateNotFound", message))
      warnings.push_back(RecordEvent{true, "CertificateNotFound", message, {}});
    setCondition(st.conditions, condition(old.conditions, "CertificatesFound", "False",
                                          "CertificateNotFound", message, gen, nowText));
  } else if (anyHttps) {
    setCondition(
        st.conditions,
        condition(old.conditions, "CertificatesFound", "True", "CertificatesFound",
                  "every HTTPS listener's Secret holds tls.crt and tls.key", gen, nowText));
  } else {
    removeCondition(st.conditions, "CertificatesFound");
  }
  if (!notFound.empty() || !certificatesMissing.empty() || o.serviceNameTaken || o.ingressNameTaken)
    d.plan.requeueWithin(kRecheckMissing);

  if (!(st == old)) d.plan.add(PatchStatus{st.toJson()});
  for (auto& w : warnings) d.plan.add(std::move(w));
  for (auto& w : conflicts) d.plan.add(std::move(w));
  for (auto& a : last) d.plan.add(std::move(a));
  const bool warningsNew = !r.warnings.empty() && [&] {
    const v1::Condition* c = findCondition(old.conditions, "IngressSynced");
    return c == nullptr || c->reason != "RulesDiffer" || c->message != kube::join(r.warnings, "; ");
  }();
  if (warningsNew)
    d.plan.add(RecordEvent{true, "IngressRulesDiffer", kube::join(r.warnings, "; "), {}});

  if (nextDrainEnd)
    d.plan.requeueWithin(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(*nextDrainEnd - o.now, Time::duration::zero())));
  return d;
}

}  // namespace kubec2::reconcilers::loadbalancer
