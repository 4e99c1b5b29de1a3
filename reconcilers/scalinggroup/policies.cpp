#include "reconcilers/scalinggroup/policies.h"

#include <algorithm>
#include <limits>

#include "reconcilers/scaling/combine.h"
#include "reconcilers/scaling/decision.h"
#include "reconcilers/scaling/predictive.h"
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
  return p.targetTracking || p.stepScaling || p.predictive;
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
  if (reason == "RequestCountMetricNotConfigured") return sc::NoData::RequestCountNotConfigured;
  return sc::NoData::NoSeries;  // NoSeries, NoInServiceInstances, TooManySeries
}

// kubec2's target tracking waits are tuned in seconds for a 15 s
// evaluation interval (the replay harness's, docs/scaling-policies.md); a
// shorter interval (tests, the demo) shrinks them in proportion, so a demo
// at 2 s plays production's behaviour 7.5 times faster.
constexpr std::chrono::seconds kTunedInterval{15};
sc::TargetTrackingTuning scaled(sc::TargetTrackingTuning t, std::chrono::seconds interval) {
  t.interval = interval;  // the gap rule counts the controller's own intervals
  if (interval >= kTunedInterval) return t;
  auto scale = [&](sc::Seconds s) { return sc::Seconds(s.count() * interval.count() / 15); };
  t.scaleOutAfter = scale(t.scaleOutAfter);
  t.scaleInAfter = scale(t.scaleInAfter);
  t.trendWindow = scale(t.trendWindow);
  t.trendRecentWindow = scale(t.trendRecentWindow);
  return t;
}

using Statuses = std::vector<v1::ScalingPolicyStatus>;

const v1::ScalingPolicyStatus* statusOf(const Statuses* statuses, const std::string& name) {
  if (statuses == nullptr) return nullptr;
  for (const auto& s : *statuses)
    if (s.name == name) return &s;
  return nullptr;
}

std::optional<Time> lastEvaluation(const Statuses* statuses) {
  std::optional<Time> out;
  if (statuses == nullptr) return out;
  for (const auto& s : *statuses)
    if (s.lastEvaluationTime)
      if (auto t = kube::parseRfc3339Utc(*s.lastEvaluationTime); t && (!out || *t > *out)) out = *t;
  return out;
}

// Whether status.policies must be written for a user to see what changed:
// a policy added or removed, or a change in what it wants, its alarm, its
// message, its last scale or its forecast. The metric value, the
// evaluation time and the memory alone are not (they change every pass).
bool materiallyDifferent(const Statuses& now, const Statuses* written) {
  if (written == nullptr) return !now.empty();
  if (now.size() != written->size()) return true;
  for (std::size_t i = 0; i < now.size(); ++i) {
    const auto& a = now[i];
    const auto& b = (*written)[i];
    if (a.name != b.name || a.desiredCapacity != b.desiredCapacity ||
        a.alarmBreached != b.alarmBreached || a.message != b.message ||
        a.lastScaleTime != b.lastScaleTime || a.forecast != b.forecast)
      return true;
  }
  return false;
}

// The load one instance carries at the policy's targetValue, in the load's
// unit (predictive.h), or why it is not known.
struct PerInstance {
  double load = 0;
  std::string problem;  // set: no forecast can be made
  std::string reason;
};

PerInstance loadPerInstanceAtTarget(const v1::ScalingPolicy& p, const PredictiveLoad& load,
                                    const std::vector<Member>& members) {
  const double target = p.predictive->targetValue;
  if (!load.pair) {
    if (load.scalingQuery)
      // How much load one instance carries at a per-instance metric's
      // target would have to be learnt from two histories against each
      // other; kubec2 does not guess it: the policy says so and does not act.
      return {0,
              "customMetric.scalingQuery is not supported: remove it to plan for targetValue "
              "load units per instance (docs/scaling-policies.md)",
              "ScalingQueryNotSupported"};
    return {target, {}, {}};
  }
  switch (*load.pair) {
    case InstanceMetric::CPUUtilization: {
      // vCPUs in use at targetValue percent of the instances' vCPUs (their
      // mean, should the group mix instance types).
      double sum = 0;
      int n = 0;
      for (const auto& m : members)
        if (m.instance && m.instance->status && m.instance->status->instanceType)
          if (const auto v = m.instance->status->instanceType->vCPU.value_or(0); v > 0) {
            sum += static_cast<double>(v);
            ++n;
          }
      if (n == 0)
        return {0,
                "no instance of the group reports its vCPUs (status.instanceType.vCPU) yet: the "
                "capacity of the forecast load is unknown",
                "NoInstanceType"};
      return {sum / n * target / 100.0, {}, {}};
    }
    case InstanceMetric::NetworkIn:
    case InstanceMetric::NetworkOut:
    case InstanceMetric::RequestCountPerTarget:
      return {target, {}, {}};  // per instance per minute, as the load
  }
  return {target, {}, {}};
}

// A predictive policy's decision: the history the evaluator read when the
// forecast was due (else none: the forecast in memory goes on).
sc::Decision decidePredictivePolicy(const v1::ScalingPolicy& p, const std::vector<Member>& members,
                                    const std::map<std::string, HistoryReading>& histories,
                                    const sc::GroupState& gs, const sc::PolicyMemory& memory,
                                    Time now) {
  const auto load = predictiveLoadOf(p);
  PerInstance per;
  if (!load)
    per = {0, "the policy has neither predefinedMetricPair nor customMetric", "NoLoadMetric"};
  else
    per = loadPerInstanceAtTarget(p, *load, members);
  if (!per.problem.empty()) {
    sc::Decision d;
    d.policy = p.name;
    d.memory = memory;
    d.memory.lastEvaluation = now;
    d.status = {false, per.reason, "predictive " + p.name + ": " + per.problem};
    d.cause = d.status.message;
    return d;
  }
  sc::Metric history;  // empty: not queried this time
  if (const auto h = histories.find(p.name); h != histories.end()) {
    if (h->second.reason == "NoSeries" && load->pair) {
      // Prometheus answered, with no history of this group yet (a new
      // group): as too short a history, which waits an hour before the
      // next query instead of querying every interval. (A custom query
      // without an answer says so: more likely a wrong query.)
      history = sc::Metric::of({{now, std::numeric_limits<double>::quiet_NaN()}});
    } else if (!h->second.reason.empty()) {
      history = sc::Metric::missing(causeOf(h->second.reason), h->second.message);
    } else {
      std::vector<sc::Sample> samples;
      samples.reserve(h->second.samples.size());
      for (const auto& [t, v] : h->second.samples) samples.push_back({t, v});
      history = sc::Metric::of(std::move(samples));
    }
  }
  return sc::decidePredictive(p.name, *p.predictive, history, per.load, gs, memory, now);
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

namespace {

PoliciesOutcome decideAll(const PoliciesInput& in, const Statuses* base) {
  const auto& g = *in.group;
  PoliciesOutcome out;
  // Pointers into the spec itself, not a copy; reactive and predictive
  // policies in the spec's order.
  std::vector<const v1::ScalingPolicy*> policies;
  if (g.spec.scalingPolicies)
    for (const auto& p : *g.spec.scalingPolicies)
      if (enabled(p) && (p.targetTracking || p.stepScaling || p.predictive)) policies.push_back(&p);
  if (policies.empty()) return out;
  out.any = true;

  // The status as it was, for the policies still declared.
  for (const auto* p : policies) {
    if (const auto* s = statusOf(base, p->name))
      out.statuses.push_back(*s);
    else
      out.statuses.push_back(v1::ScalingPolicyStatus{.name = p->name});
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
    return out;
  }
  // status.policies[].lastEvaluationTime holds the evaluation's time to
  // the second: a reading is new when its second is later.
  const auto last = lastEvaluation(base);
  const Time evaluatedAt =
      in.readings ? std::chrono::floor<std::chrono::seconds>(in.readings->evaluatedAt) : Time{};
  if (!in.readings || (last && evaluatedAt <= *last)) {
    out.scalingActive = keepCondition(
        {"Unknown", "AwaitingMetrics", "the scaling policies have not read their metrics yet"});
    return out;
  }
  out.evaluated = true;
  const Time now = in.now;

  std::vector<sc::Decision> decisions;
  std::vector<bool> waitingForHistory;  // per decision: a predictive policy not ready yet
  sc::GroupState state;
  state.desired = in.desired;
  state.minSize = in.minSize;
  state.maxSize = in.maxSize;
  bool counted = false;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const auto& p = *policies[i];
    auto& st = out.statuses[i];
    const auto warmup = std::max(warmupOf(p, g.spec), in.metricWindow);
    sc::GroupState gs = state;
    gs.inService = gs.warming = 0;
    for (const auto& m : *in.members) {
      if (m.lifecycle == Lifecycle::InService && m.inServiceSince &&
          *m.inServiceSince + warmup <= now)
        ++gs.inService;
      else if (m.lifecycle == Lifecycle::InService || m.lifecycle == Lifecycle::Pending)
        ++gs.warming;
    }
    if (!counted) {
      state = gs;
      counted = true;
    }
    const auto memory = st.memory ? sc::PolicyMemory::fromJson(*st.memory) : sc::PolicyMemory{};
    st.lastEvaluationTime = kube::formatRfc3339(evaluatedAt);
    sc::Decision d;
    if (p.predictive) {
      d = decidePredictivePolicy(p, *in.members, in.readings->historyByPolicy, gs, memory, now);
      st.forecast.reset();
      st.metricValue.reset();
      st.desiredCapacity.reset();
      if (d.memory.forecast) {
        const sc::Seconds buffer{p.predictive->schedulingBufferSeconds.value_or(0)};
        if (const auto at = sc::scheduledAt(*d.memory.forecast, now, buffer)) {
          st.metricValue = at->load;
          st.desiredCapacity = at->capacity;
        }
        std::vector<v1::ForecastPoint> points;
        for (const auto& h : sc::hourly(*d.memory.forecast, now))
          points.push_back(v1::ForecastPoint{
              .time = kube::formatRfc3339(h.hour), .load = h.load, .capacity = h.capacity});
        if (!points.empty()) st.forecast = std::move(points);
      }
      // A predictive policy says what it schedules, or why it cannot.
      if (d.status.message.empty())
        st.message.reset();
      else
        st.message = d.status.message;
      st.memory = d.memory.toJson();
      waitingForHistory.push_back(!d.status.active && (d.status.reason == "InsufficientHistory" ||
                                                       d.status.reason == "NoInstanceType"));
      decisions.push_back(std::move(d));
      continue;
    }
    sc::Metric metric;
    bool nothingToMeasure = false;
    const auto r = in.readings->byPolicy.find(p.name);
    if (r == in.readings->byPolicy.end())
      metric = sc::Metric::missing(sc::NoData::NoSeries, "no reading was taken for this policy");
    else if (r->second.value) {
      // As old as Prometheus says its answer is: a stuck cache or proxy in
      // front of it serves old samples as if new, which checked() turns
      // into MetricStale. A timestamp after the evaluation (the query ran a
      // moment later, or Prometheus's clock is ahead) counts as the
      // evaluation's own.
      const Time at = std::min(r->second.sampleTime.value_or(in.readings->evaluatedAt),
                               in.readings->evaluatedAt);
      metric = sc::Metric::of({{at, *r->second.value}});
      if (r->second.sampleTime)
        metric.detail = "Prometheus's newest answer was evaluated at " + kube::formatRfc3339(at);
    } else if (r->second.reason == "NoInServiceInstances" && gs.inService == 0)
      // Nothing to measure yet (every instance still launching or warming
      // up): not a fault; the policy holds and says so. The 0 is the
      // decision's input only: status shows no value, not a made-up 0 %.
      metric = sc::Metric::of({{in.readings->evaluatedAt, 0.0}}), nothingToMeasure = true;
    else
      metric = sc::Metric::missing(causeOf(r->second.reason), r->second.message);
    metric = sc::checked(std::move(metric), now, in.evaluationInterval * 3);
    if (p.targetTracking) {
      d = sc::decideTargetTracking(p.name, *p.targetTracking, metric, gs, memory, now,
                                   scaled(sc::kKubec2TargetTracking, in.evaluationInterval));
    } else {
      // EC2's Cooldown: the policy's, else the group's default, else 300 s.
      const auto cooldown = sc::Seconds(
          p.stepScaling->cooldownSeconds.value_or(g.spec.defaultCooldownSeconds.value_or(300)));
      d = sc::decideStepScaling(p.name, *p.stepScaling, metric, gs, memory, now, cooldown,
                                in.evaluationInterval);
    }
    if (d.metricValue && !nothingToMeasure)
      st.metricValue = *d.metricValue;
    else
      st.metricValue.reset();
    if (d.wanted)
      st.desiredCapacity = *d.wanted;
    else
      st.desiredCapacity.reset();
    if (d.alarmBreached) st.alarmBreached = *d.alarmBreached;
    if (nothingToMeasure)
      st.message = r->second.message + " (instances count in the metric after " +
                   std::to_string(warmup.count()) + " s in service)";
    else if (d.status.active)
      st.message.reset();
    else
      st.message = d.status.message;
    st.memory = d.memory.toJson();
    waitingForHistory.push_back(false);
    decisions.push_back(std::move(d));
  }

  // A predictive policy still gathering its first 24 hours of history, or
  // waiting for an instance to report its vCPUs, is not at fault: while
  // another policy is active, ScalingActive stays True (the group still
  // scales) and says it; alone, it is False with InsufficientHistory or
  // NoInstanceType (docs/scaling-policies.md).
  bool anotherActive = false;
  for (std::size_t i = 0; i < decisions.size(); ++i)
    anotherActive = anotherActive || (!waitingForHistory[i] && decisions[i].status.active);
  std::string waitingWords;
  if (anotherActive)
    for (std::size_t i = 0; i < decisions.size(); ++i)
      if (waitingForHistory[i]) {
        if (!waitingWords.empty()) waitingWords += "; ";
        waitingWords += decisions[i].status.message;
        decisions[i].status.active = true;
      }
  auto combined = sc::combine(decisions, state);
  if (combined.scalingActive.active && !waitingWords.empty())
    combined.scalingActive.message += "; " + waitingWords;
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
  return out;
}

}  // namespace

PoliciesOutcome decidePolicies(const PoliciesInput& in) {
  const auto& g = *in.group;
  const Statuses* written = g.status && g.status->policies ? &*g.status->policies : nullptr;
  // The latest decisions the controller kept, when newer than the status.
  const Statuses* base = written;
  if (in.latest != nullptr) {
    const auto kept = lastEvaluation(in.latest);
    const auto wrote = lastEvaluation(written);
    if (kept && (!wrote || *kept > *wrote)) base = in.latest;
  }
  PoliciesOutcome out = decideAll(in, base);
  out.latest = out.statuses;
  if (in.persistEvery.count() <= 0 || out.desired || out.maxSize ||
      materiallyDifferent(out.statuses, written))
    return out;
  const auto wrote = lastEvaluation(written);
  if (!wrote || *wrote + in.persistEvery <= in.now) return out;
  // Nothing a user acts on changed: status keeps what it says (the
  // controller keeps the latest memory), and no write follows.
  out.statuses = written ? *written : Statuses{};
  return out;
}

}  // namespace kubec2::reconcilers
