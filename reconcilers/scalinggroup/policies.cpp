#include "reconcilers/scalinggroup/policies.h"

#include <algorithm>

#include "reconcilers/scaling/combine.h"
#include "reconcilers/scaling/decision.h"
#include "reconcilers/scaling/step_scaling.h"
#include "reconcilers/scaling/target_tracking.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers {
namespace {

namespace sc = kubec2::reconcilers::scaling;

bool enabled(const v1::ScalingPolicy& p) {
  return p.enabled.value_or(true);
}

bool needsMetrics(const v1::ScalingPolicy& p) {
  return p.targetTracking || p.stepScaling;
}

// A reading's reason as the policies' NoData cause.
sc::NoData causeOf(const std::string& reason) {
  if (reason == "PrometheusUnreachable" || reason == "PrometheusTLSError" ||
      reason == "PrometheusStopped")
    return sc::NoData::Unreachable;
  if (reason == "PrometheusTimeout") return sc::NoData::Timeout;
  if (reason == "PrometheusHttpError") return sc::NoData::HttpError;
  if (reason == "PrometheusGarbage" || reason == "PrometheusTooLarge") return sc::NoData::Garbage;
  if (reason == "NotANumber") return sc::NoData::NotANumber;
  return sc::NoData::NoSeries;  // NoSeries, NoInServiceInstances, TooManySeries
}

// kubec2's target tracking waits are tuned in seconds for a 15 s
// evaluation interval (the replay harness's, docs/scaling-policies.md); a
// shorter interval (tests, the demo) shrinks them in proportion, so a demo
// at 2 s plays production's behaviour 7.5 times faster.
constexpr std::chrono::seconds kTunedInterval{15};
sc::TargetTrackingTuning scaled(sc::TargetTrackingTuning t, std::chrono::seconds interval) {
  if (interval >= kTunedInterval) return t;
  auto scale = [&](sc::Seconds s) { return sc::Seconds(s.count() * interval.count() / 15); };
  t.scaleOutAfter = scale(t.scaleOutAfter);
  t.scaleInAfter = scale(t.scaleInAfter);
  t.trendWindow = scale(t.trendWindow);
  t.trendRecentWindow = scale(t.trendRecentWindow);
  return t;
}

const v1::ScalingPolicyStatus* statusOf(const v1::ScalingGroup& g, const std::string& name) {
  if (!g.status || !g.status->policies) return nullptr;
  for (const auto& s : *g.status->policies)
    if (s.name == name) return &s;
  return nullptr;
}

std::optional<Time> lastEvaluation(const v1::ScalingGroup& g) {
  std::optional<Time> out;
  if (!g.status || !g.status->policies) return out;
  for (const auto& s : *g.status->policies)
    if (s.lastEvaluationTime)
      if (auto t = kube::parseRfc3339Utc(*s.lastEvaluationTime); t && (!out || *t > *out)) out = *t;
  return out;
}

}  // namespace

std::chrono::seconds warmupOf(const v1::ScalingPolicy& policy, const v1::ScalingGroupSpec& group) {
  std::optional<std::int64_t> s;
  if (policy.targetTracking) s = policy.targetTracking->estimatedInstanceWarmupSeconds;
  if (policy.stepScaling) s = policy.stepScaling->estimatedInstanceWarmupSeconds;
  if (!s) s = group.defaultInstanceWarmupSeconds;
  if (!s) s = group.defaultCooldownSeconds;
  return std::chrono::seconds(s.value_or(300));
}

PoliciesOutcome decidePolicies(const PoliciesInput& in) {
  const auto& g = *in.group;
  PoliciesOutcome out;
  std::vector<const v1::ScalingPolicy*> policies;
  if (g.spec.scalingPolicies)  // pointers into the spec itself, not a copy
    for (const auto& p : *g.spec.scalingPolicies)
      if (enabled(p) && (p.targetTracking || p.stepScaling)) policies.push_back(&p);
  std::vector<const v1::ScalingPolicy*> predictive;
  if (g.spec.scalingPolicies)
    for (const auto& p : *g.spec.scalingPolicies)
      if (enabled(p) && p.predictive) predictive.push_back(&p);
  if (policies.empty() && predictive.empty()) return out;
  out.any = true;

  // The status as it was, for the policies still declared.
  for (const auto* p : policies) {
    if (const auto* s = statusOf(g, p->name))
      out.statuses.push_back(*s);
    else
      out.statuses.push_back(v1::ScalingPolicyStatus{.name = p->name});
  }
  // Predictive policies are decided and replayed (reconcilers/scaling/
  // predictive.h) but not yet fed from Prometheus: they say so instead of
  // being silently ignored.
  std::vector<v1::ScalingPolicyStatus> predictiveStatuses;
  for (const auto* p : predictive) {
    v1::ScalingPolicyStatus st{.name = p->name};
    st.message =
        "predictive policies are not fed from Prometheus yet (docs/scaling-policies.md): this "
        "policy does not act";
    predictiveStatuses.push_back(std::move(st));
  }
  auto withPredictive = [&] {
    out.statuses.insert(out.statuses.end(), predictiveStatuses.begin(), predictiveStatuses.end());
  };
  if (policies.empty()) {
    withPredictive();
    out.scalingActive = ConditionValue{"False", "PredictiveNotSupported",
                                       "predictive policies are not fed from Prometheus yet"};
    return out;
  }
  const v1::Condition* before = nullptr;
  if (g.status && g.status->conditions)
    for (const auto& c : *g.status->conditions)
      if (c.type == "ScalingActive") before = &c;
  auto keepCondition = [&](ConditionValue fallback) {
    if (before)
      return ConditionValue{before->status, before->reason.value_or(""),
                            before->message.value_or("")};
    return fallback;
  };

  // EC2's AlarmNotification process: suspended, no policy acts (the
  // capacity stays where it is; spec, kubectl scale and scheduled actions
  // still move it).
  if (g.spec.suspendedProcesses) {
    const auto& ps = *g.spec.suspendedProcesses;
    if (std::find(ps.begin(), ps.end(), "AlarmNotification") != ps.end()) {
      out.scalingActive = ConditionValue{
          "False", "AlarmNotificationSuspended",
          "the AlarmNotification process is suspended (spec.suspendedProcesses): scaling policies "
          "do not act"};
      withPredictive();
      return out;
    }
  }
  bool anyNeedsMetrics = false;
  for (const auto* p : policies) anyNeedsMetrics = anyNeedsMetrics || needsMetrics(*p);
  if (anyNeedsMetrics && !in.prometheusConfigured) {
    for (auto& s : out.statuses)
      s.message = "the operator has no --prometheus-url: this policy cannot read its metric";
    out.scalingActive = ConditionValue{
        "False", "PrometheusNotConfigured",
        "the operator runs without --prometheus-url: scaling policies cannot read their metrics "
        "and do not act"};
    withPredictive();
    return out;
  }
  // status.policies[].lastEvaluationTime holds the evaluation's time to
  // the second: a reading is new when its second is later.
  const auto last = lastEvaluation(g);
  const Time evaluatedAt =
      in.readings ? std::chrono::floor<std::chrono::seconds>(in.readings->evaluatedAt) : Time{};
  if (!in.readings || (last && evaluatedAt <= *last)) {
    out.scalingActive = keepCondition(
        {"Unknown", "AwaitingMetrics", "the scaling policies have not read their metrics yet"});
    withPredictive();
    return out;
  }
  out.evaluated = true;
  const Time now = in.now;

  std::vector<sc::Decision> decisions;
  sc::GroupState state;
  state.desired = in.desired;
  state.minSize = in.minSize;
  state.maxSize = in.maxSize;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const auto& p = *policies[i];
    auto& st = out.statuses[i];
    const auto warmup = std::max(warmupOf(p, g.spec), in.metricWindow);
    sc::GroupState gs = state;
    for (const auto& m : *in.members) {
      if (m.lifecycle == Lifecycle::InService && m.inServiceSince &&
          *m.inServiceSince + warmup <= now)
        ++gs.inService;
      else if (m.lifecycle == Lifecycle::InService || m.lifecycle == Lifecycle::Pending)
        ++gs.warming;
    }
    if (i == 0) state = gs;
    sc::Metric metric;
    const auto r = in.readings->byPolicy.find(p.name);
    if (r == in.readings->byPolicy.end())
      metric = sc::Metric::missing(sc::NoData::NoSeries, "no reading was taken for this policy");
    else if (r->second.value)
      metric = sc::Metric::of({{in.readings->evaluatedAt, *r->second.value}});
    else if (r->second.reason == "NoInServiceInstances" && gs.inService == 0)
      // Nothing to measure yet (every instance still launching or warming
      // up): not a fault; the policy holds and says so.
      metric = sc::Metric::of({{in.readings->evaluatedAt, 0.0}});
    else
      metric = sc::Metric::missing(causeOf(r->second.reason), r->second.message);
    metric = sc::checked(std::move(metric), now, in.evaluationInterval * 3);
    const auto memory = st.memory ? sc::PolicyMemory::fromJson(*st.memory) : sc::PolicyMemory{};
    sc::Decision d;
    if (p.targetTracking) {
      d = sc::decideTargetTracking(p.name, *p.targetTracking, metric, gs, memory, now,
                                   scaled(sc::kKubec2TargetTracking, in.evaluationInterval));
    } else {
      // EC2's Cooldown: the policy's, else the group's default, else 300 s.
      const auto cooldown = sc::Seconds(
          p.stepScaling->cooldownSeconds.value_or(g.spec.defaultCooldownSeconds.value_or(300)));
      d = sc::decideStepScaling(p.name, *p.stepScaling, metric, gs, memory, now, cooldown);
    }
    st.lastEvaluationTime = kube::formatRfc3339(evaluatedAt);
    if (d.metricValue)
      st.metricValue = *d.metricValue;
    else
      st.metricValue.reset();
    if (d.wanted)
      st.desiredCapacity = *d.wanted;
    else
      st.desiredCapacity.reset();
    if (d.alarmBreached) st.alarmBreached = *d.alarmBreached;
    if (d.status.active)
      st.message.reset();
    else
      st.message = d.status.message;
    st.memory = d.memory.toJson();
    decisions.push_back(std::move(d));
  }
  const auto combined = sc::combine(decisions, state);
  out.scalingActive = ConditionValue{combined.scalingActive.active ? "True" : "False",
                                     combined.scalingActive.reason, combined.scalingActive.message};
  if (combined.maxSize != in.maxSize) out.maxSize = combined.maxSize;
  if (combined.changed) {
    out.desired = combined.desired;
    out.cause = combined.cause;
    for (std::size_t i = 0; i < policies.size(); ++i)
      if (policies[i]->name == combined.policy)
        out.statuses[i].lastScaleTime = kube::formatRfc3339(now);
  }
  withPredictive();
  return out;
}

}  // namespace kubec2::reconcilers
