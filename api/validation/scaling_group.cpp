// The ScalingGroup validator: EC2 Auto Scaling's rules that relate fields
// (CreateAutoScalingGroup's bounds, PutScalingPolicy's step intervals,
// PutScheduledUpdateGroupAction's times and recurrence), PromQL queries
// that parse, and its scale subresource (kubectl scale, HPA) held to the
// same capacity bounds as spec.desiredCapacity.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/cron.h"
#include "api/v1alpha1/types.h"
#include "api/validation/common_rules.h"
#include "api/validation/json_helpers.h"
#include "api/validation/promql.h"
#include "api/validation/validator.h"
#include "api/validation/warnings.h"
#include "runtime/timefmt.h"

namespace kubec2::api::validation {
namespace {

bool isBlank(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; });
}

void checkQuery(Context& c, const std::string& path, const std::string& query) {
  if (isBlank(query)) {
    c.errs.push_back(invalid(path, query, "must be a PromQL query, not empty"));
    return;
  }
  // The placeholders the operator fills in (docs/scaling-policies.md) are
  // checked by name, then stand in for what they become before parsing.
  std::string expanded;
  for (std::size_t at = 0; at < query.size();) {
    const std::size_t open = query.find("{{", at);
    if (open == std::string::npos) {
      expanded += query.substr(at);
      break;
    }
    const std::size_t close = query.find("}}", open + 2);
    const std::string name =
        close == std::string::npos ? "" : query.substr(open + 2, close - open - 2);
    expanded += query.substr(at, open - at);
    if (name == "selector") {
      expanded += "namespace=\"ns\",kubernetes_vmi_label_compute_kubec2_io_scaling_group=\"g\"";
    } else if (name == "namespace" || name == "group") {
      expanded += "x";
    } else {
      c.errs.push_back(invalid(
          path, query,
          "unknown placeholder {{" + (close == std::string::npos ? std::string("...") : name) +
              "}}: the placeholders are {{namespace}}, {{group}} and {{selector}}"));
      return;
    }
    at = close + 2;
  }
  if (auto problem = promql::syntaxError(expanded))
    c.errs.push_back(invalid(path, query, "must be a PromQL query that parses: " + *problem));
}

bool contains(const std::optional<std::vector<v1::LocalObjectReference>>& refs,
              const std::string& name) {
  return refs &&
         std::any_of(refs->begin(), refs->end(), [&](const auto& r) { return r.name == name; });
}

// resourceLabel: required with one metric, refused with any other, and a
// LoadBalancer of spec.loadBalancerRefs.
void checkResourceLabel(Context& c, const v1::ScalingGroupSpec& sg, const std::string& path,
                        const char* metricField, const std::optional<std::string>& metric,
                        const char* metricNeedingIt, const std::optional<std::string>& label) {
  const bool needs = metric && *metric == metricNeedingIt;
  const std::string p = path + ".resourceLabel";
  if (needs && !label)
    c.errs.push_back(required(p, std::string("must name the LoadBalancer of spec.loadBalancerRefs "
                                             "whose requests are counted, with ") +
                                     metricField + " " + metricNeedingIt));
  else if (!needs && label)
    c.errs.push_back(
        forbidden(p, std::string("may only be set with ") + metricField + " " + metricNeedingIt));
  else if (needs && !contains(sg.loadBalancerRefs, *label))
    c.errs.push_back(notFound(p, *label, "must name a LoadBalancer of spec.loadBalancerRefs"));
}

// Exactly one of two members.
void checkExactlyOne(Context& c, const std::string& path, bool first, const char* firstName,
                     bool second, const char* secondName) {
  if (!first && !second)
    c.errs.push_back(required(
        path, std::string("exactly one of ") + firstName + " and " + secondName + " must be set"));
  else if (first && second)
    c.errs.push_back(
        forbidden(path + "." + secondName, std::string("may not be set together with ") +
                                               firstName + ": exactly one of them must be set"));
}

// A policy's metric: exactly one of the predefined one and a custom query,
// and resourceLabel as checkResourceLabel says.
void checkMetric(Context& c, const v1::ScalingGroupSpec& sg, const std::string& path,
                 const char* predefinedField, const std::optional<std::string>& predefined,
                 bool custom, const char* countMetric, const std::optional<std::string>& label) {
  checkExactlyOne(c, path, predefined.has_value(), predefinedField, custom, "customMetric");
  checkResourceLabel(c, sg, path, predefinedField, predefined, countMetric, label);
}

void checkStepAdjustments(Context& c, const std::string& path,
                          const std::vector<v1::StepAdjustment>& steps,
                          const std::string& comparisonOperator) {
  const size_t errorsBefore = c.errs.size();
  std::optional<size_t> openLower, openUpper;
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& s = steps[i];
    const std::string p = at(path, i);
    if (!s.metricIntervalLowerBound && !s.metricIntervalUpperBound) {
      c.errs.push_back(required(p + ".metricIntervalLowerBound",
                                "a step needs metricIntervalLowerBound, metricIntervalUpperBound "
                                "or both"));
      continue;
    }
    if (s.metricIntervalLowerBound && s.metricIntervalUpperBound &&
        !(*s.metricIntervalLowerBound < *s.metricIntervalUpperBound))
      c.errs.push_back(invalid(p + ".metricIntervalUpperBound", *s.metricIntervalUpperBound,
                               "must be greater than metricIntervalLowerBound (" +
                                   formatNumber(*s.metricIntervalLowerBound) + ")"));
    // At most one step is open below, and one above: the first is remembered.
    auto atMostOneOpen = [&](bool bounded, std::optional<size_t>& open, const char* member,
                             const char* side) {
      if (bounded) return;
      if (open)
        c.errs.push_back(required(p + "." + member, std::string("only one step may have no ") +
                                                        side + " bound, and " + at(path, *open) +
                                                        " has none"));
      else
        open = i;
    };
    atMostOneOpen(s.metricIntervalLowerBound.has_value(), openLower, "metricIntervalLowerBound",
                  "lower");
    atMostOneOpen(s.metricIntervalUpperBound.has_value(), openUpper, "metricIntervalUpperBound",
                  "upper");
  }
  if (c.errs.size() != errorsBefore) return;  // contiguity only means something past those

  // Sorted by lower bound, each interval must start where the one before ends.
  std::vector<size_t> order(steps.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto lower = [&](size_t i) {
    return steps[i].metricIntervalLowerBound.value_or(-std::numeric_limits<double>::infinity());
  };
  auto upper = [&](size_t i) {
    return steps[i].metricIntervalUpperBound.value_or(std::numeric_limits<double>::infinity());
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lower(a) < lower(b); });
  for (size_t k = 1; k < order.size(); ++k) {
    const size_t a = order[k - 1], b = order[k];
    const std::string p = at(path, b) + ".metricIntervalLowerBound";
    const json value = steps[b].metricIntervalLowerBound ? json(*steps[b].metricIntervalLowerBound)
                                                         : json(nullptr);
    if (upper(a) < lower(b))
      c.errs.push_back(invalid(p, value,
                               "leaves a gap after " + at(path, a) +
                                   ", whose metricIntervalUpperBound is " + formatNumber(upper(a)) +
                                   ": must equal it"));
    else if (upper(a) > lower(b))
      c.errs.push_back(invalid(
          p, value,
          "overlaps " + at(path, a) + ", which ends at " +
              (steps[a].metricIntervalUpperBound ? formatNumber(upper(a))
                                                 : std::string("plus infinity (no upper bound)")) +
              ": intervals must not overlap"));
  }
  if (c.errs.size() != errorsBefore || steps.empty()) return;

  // Every breach must fall in a step, or the alarm breaches and nothing
  // happens: the steps reach infinity on the breach side (EC2: "if one step
  // adjustment has a positive upper bound, there must be a step adjustment
  // with a null upper bound") and start at the threshold (0) or before.
  const bool above = comparisonOperator.rfind("GreaterThan", 0) == 0;
  const bool below = comparisonOperator.rfind("LessThan", 0) == 0;
  if (above && !openUpper)
    c.errs.push_back(required(at(path, order.back()) + ".metricIntervalUpperBound",
                              "the alarm breaches above the threshold, so one step must have no "
                              "upper bound: a breach above " +
                                  formatNumber(upper(order.back())) + " would fall in no step"));
  else if (above && lower(order.front()) > 0)
    c.errs.push_back(invalid(at(path, order.front()) + ".metricIntervalLowerBound",
                             lower(order.front()),
                             "the steps must start at the threshold (0) or below: a breach "
                             "between 0 and " +
                                 formatNumber(lower(order.front())) + " would fall in no step"));
  if (below && !openLower)
    c.errs.push_back(required(at(path, order.front()) + ".metricIntervalLowerBound",
                              "the alarm breaches below the threshold, so one step must have no "
                              "lower bound: a breach below " +
                                  formatNumber(lower(order.front())) + " would fall in no step"));
  else if (below && upper(order.back()) < 0)
    c.errs.push_back(invalid(at(path, order.back()) + ".metricIntervalUpperBound",
                             upper(order.back()),
                             "the steps must end at the threshold (0) or above: a breach between " +
                                 formatNumber(upper(order.back())) +
                                 " and 0 would fall in no "
                                 "step"));
}

void validatePolicy(Context& c, const v1::ScalingGroupSpec& sg, const std::string& p,
                    const v1::ScalingPolicy& policy) {
  const std::vector<std::pair<std::string, bool>> configs = {
      {"TargetTracking", policy.targetTracking.has_value()},
      {"StepScaling", policy.stepScaling.has_value()},
      {"Predictive", policy.predictive.has_value()}};
  const std::map<std::string, std::string> member = {{"TargetTracking", "targetTracking"},
                                                     {"StepScaling", "stepScaling"},
                                                     {"Predictive", "predictive"}};
  for (const auto& [type, present] : configs) {
    const std::string m = member.at(type);
    if (type == policy.type && !present)
      c.errs.push_back(required(p + "." + m, "must be set for a " + type + " policy"));
    if (type != policy.type && present)
      c.errs.push_back(forbidden(p + "." + m, "may not be set for a " + policy.type +
                                                  " policy: only the configuration of its type "
                                                  "applies"));
  }

  if (policy.type == "TargetTracking" && policy.targetTracking) {
    const auto& t = *policy.targetTracking;
    const std::string tp = p + ".targetTracking";
    checkMetric(c, sg, tp, "predefinedMetric", t.predefinedMetric, t.customMetric.has_value(),
                "ALBRequestCountPerTarget", t.resourceLabel);
    if (t.customMetric) checkQuery(c, tp + ".customMetric.query", t.customMetric->query);
  }

  if (policy.type == "StepScaling" && policy.stepScaling) {
    const auto& s = *policy.stepScaling;
    const std::string sp = p + ".stepScaling";
    if (s.minAdjustmentMagnitude && s.adjustmentType != "PercentChangeInCapacity")
      c.errs.push_back(forbidden(sp + ".minAdjustmentMagnitude",
                                 "may only be set with adjustmentType PercentChangeInCapacity"));
    if (s.adjustmentType == "ExactCapacity")
      for (size_t i = 0; i < s.stepAdjustments.size(); ++i)
        if (s.stepAdjustments[i].scalingAdjustment < 0)
          c.errs.push_back(invalid(at(sp + ".stepAdjustments", i) + ".scalingAdjustment",
                                   s.stepAdjustments[i].scalingAdjustment,
                                   "must not be negative with adjustmentType ExactCapacity: it is "
                                   "the capacity to set"));
    const auto& a = s.alarm;
    const std::string ap = sp + ".alarm";
    checkMetric(c, sg, ap, "predefinedMetric", a.predefinedMetric, a.customMetric.has_value(),
                "RequestCountPerTarget", a.resourceLabel);
    if (a.customMetric) {
      checkQuery(c, ap + ".customMetric.query", a.customMetric->query);
      if (s.metricAggregationType)
        c.errs.push_back(forbidden(sp + ".metricAggregationType",
                                   "may not be set with alarm.customMetric: the query aggregates "
                                   "the instances' values itself"));
    }
    const std::int64_t period = a.periodSeconds.value_or(60);
    if (period != 10 && period != 30 && period % 60 != 0)
      c.errs.push_back(
          invalid(ap + ".periodSeconds", period, "must be 10, 30 or a multiple of 60"));
    checkStepAdjustments(c, sp + ".stepAdjustments", s.stepAdjustments, s.alarm.comparisonOperator);
  }

  if (policy.type == "Predictive" && policy.predictive) {
    const auto& pr = *policy.predictive;
    const std::string pp = p + ".predictive";
    checkMetric(c, sg, pp, "predefinedMetricPair", pr.predefinedMetricPair,
                pr.customMetric.has_value(), "ALBRequestCount", pr.resourceLabel);
    if (pr.customMetric) {
      checkQuery(c, pp + ".customMetric.loadQuery", pr.customMetric->loadQuery);
      if (pr.customMetric->scalingQuery)
        checkQuery(c, pp + ".customMetric.scalingQuery", *pr.customMetric->scalingQuery);
    }
    if (pr.maxCapacityBuffer &&
        pr.maxCapacityBreachBehavior.value_or("HonorMaxCapacity") != "IncreaseMaxCapacity")
      c.errs.push_back(forbidden(pp + ".maxCapacityBuffer",
                                 "may only be set with maxCapacityBreachBehavior "
                                 "IncreaseMaxCapacity"));
  }
}

void validateAction(Context& c, const std::string& p, const v1::ScheduledAction& a) {
  if (!a.minSize && !a.maxSize && !a.desiredCapacity)
    c.errs.push_back(
        required(p, "at least one of minSize, maxSize and desiredCapacity must be set"));
  if (a.minSize && a.maxSize && *a.minSize > *a.maxSize)
    c.errs.push_back(
        invalid(p + ".minSize", *a.minSize,
                "must be less than or equal to " + p + ".maxSize (" + num(*a.maxSize) + ")"));
  if (a.desiredCapacity) {
    if (a.minSize && *a.desiredCapacity < *a.minSize)
      c.errs.push_back(
          invalid(p + ".desiredCapacity", *a.desiredCapacity,
                  "must be greater than or equal to " + p + ".minSize (" + num(*a.minSize) + ")"));
    else if (a.maxSize && *a.desiredCapacity > *a.maxSize)
      c.errs.push_back(
          invalid(p + ".desiredCapacity", *a.desiredCapacity,
                  "must be less than or equal to " + p + ".maxSize (" + num(*a.maxSize) + ")"));
  }
  if (a.recurrence) {
    try {
      (void)CronSchedule::parse(*a.recurrence);
    } catch (const std::invalid_argument& e) {
      c.errs.push_back(invalid(p + ".recurrence", *a.recurrence,
                               std::string("must be a cron expression (minute hour day-of-month "
                                           "month day-of-week): ") +
                                   e.what()));
    }
  } else {
    if (!a.startTime)
      c.errs.push_back(
          required(p + ".startTime", "an action without recurrence runs once, at startTime"));
    if (a.endTime)
      c.errs.push_back(forbidden(p + ".endTime",
                                 "may only be set with recurrence: an action without one runs "
                                 "once, at startTime"));
  }
  const std::string zone = a.timeZone.value_or("UTC");
  if (!c.tz(zone))
    c.errs.push_back(invalid(p + ".timeZone", zone,
                             "must be an IANA time zone the operator's time zone database "
                             "knows, such as UTC, Europe/Paris or America/New_York"));
  std::optional<kube::Rfc3339Time> start, end;
  const std::string rfc3339 = "must be an RFC 3339 time such as 2025-11-28T06:00:00Z";
  if (a.startTime && !(start = kube::parseRfc3339(*a.startTime)))
    c.errs.push_back(invalid(p + ".startTime", *a.startTime, rfc3339));
  if (a.endTime && !(end = kube::parseRfc3339(*a.endTime)))
    c.errs.push_back(invalid(p + ".endTime", *a.endTime, rfc3339));
  if (start && end && !(*start < *end))
    c.errs.push_back(invalid(p + ".endTime", *a.endTime,
                             "must be after " + p + ".startTime (" + *a.startTime + ")"));
}

// Checks each item of `items` (at `path`) with `check(itemPath, item)`, and
// that their names are unique, as EC2 names a group's policies and actions.
template <typename T, typename Check>
void eachUniquelyNamed(Context& c, const std::optional<std::vector<T>>& items,
                       const std::string& path, Check check) {
  if (!items) return;
  std::set<std::string> seen;
  for (size_t i = 0; i < items->size(); ++i) {
    const T& item = (*items)[i];
    const std::string p = at(path, i);
    if (!seen.insert(item.name).second) c.errs.push_back(duplicate(p + ".name", item.name));
    check(p, item);
  }
}

// A new desired capacity must lie within the bounds; one that an update of
// the bounds leaves outside is clamped by the operator instead
// (docs/scaling-group-capacity.md). `field` is where the value was written
// (spec.desiredCapacity, or a Scale's spec.replicas), `why` a note after the rule.
void checkDesiredCapacity(Context& c, const std::string& field, const std::string& why,
                          const v1::ScalingGroupSpec& s,
                          const std::optional<v1::ScalingGroupSpec>& old) {
  if (!s.desiredCapacity || (old && old->desiredCapacity == s.desiredCapacity)) return;
  if (*s.desiredCapacity < s.minSize)
    c.errs.push_back(
        invalid(field, *s.desiredCapacity,
                "must be greater than or equal to spec.minSize (" + num(s.minSize) + ")" + why));
  else if (*s.desiredCapacity > s.maxSize)
    c.errs.push_back(
        invalid(field, *s.desiredCapacity,
                "must be less than or equal to spec.maxSize (" + num(s.maxSize) + ")" + why));
}

// The spec rules, on create and on update (oldSpecJson set).
void checkSpec(Context& c, const json& specJson, const json* oldSpecJson) {
  const auto spec = decode<v1::ScalingGroupSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  const auto& s = *spec;
  std::optional<v1::ScalingGroupSpec> old;
  if (oldSpecJson != nullptr) old = decodeQuietly<v1::ScalingGroupSpec>(*oldSpecJson, "spec");

  if (s.minSize > s.maxSize)
    c.errs.push_back(
        invalid("spec.minSize", s.minSize,
                "must be less than or equal to spec.maxSize (" + num(s.maxSize) + ")"));
  checkDesiredCapacity(c, "spec.desiredCapacity", "", s, old);
  if (s.terminationPolicies) {
    std::set<std::string> seen;
    for (size_t i = 0; i < s.terminationPolicies->size(); ++i)
      if (!seen.insert((*s.terminationPolicies)[i]).second)
        c.errs.push_back(duplicate(at("spec.terminationPolicies", i), (*s.terminationPolicies)[i]));
  }
  if (s.maxInstanceLifetimeSeconds && *s.maxInstanceLifetimeSeconds >= 1 &&
      *s.maxInstanceLifetimeSeconds < 86400)
    c.errs.push_back(invalid("spec.maxInstanceLifetimeSeconds", *s.maxInstanceLifetimeSeconds,
                             "must be 0 (no limit) or at least 86400 (one day)"));
  if (s.loadBalancerRefs) {
    std::set<std::string> seen;
    for (size_t i = 0; i < s.loadBalancerRefs->size(); ++i)
      if (!seen.insert((*s.loadBalancerRefs)[i].name).second)
        c.errs.push_back(
            duplicate(at("spec.loadBalancerRefs", i) + ".name", (*s.loadBalancerRefs)[i].name));
  }
  if (s.healthCheck && s.healthCheck->type.value_or("Instance") == "LoadBalancer" &&
      (!s.loadBalancerRefs || s.loadBalancerRefs->empty()))
    c.errs.push_back(required("spec.loadBalancerRefs",
                              "must name at least one LoadBalancer when spec.healthCheck.type is "
                              "LoadBalancer"));
  if (s.instanceRefresh) {
    const auto& r = *s.instanceRefresh;
    const std::int64_t minHealthy = r.minHealthyPercentage.value_or(90);
    const std::int64_t maxHealthy = r.maxHealthyPercentage.value_or(100);
    // Unsigned difference: validate() takes any JSON, so the schema's bounds
    // may not have applied and max - min may not fit an int64.
    if (maxHealthy > minHealthy &&
        static_cast<std::uint64_t>(maxHealthy) - static_cast<std::uint64_t>(minHealthy) > 100)
      c.errs.push_back(invalid("spec.instanceRefresh.maxHealthyPercentage", maxHealthy,
                               "must be at most 100 above "
                               "spec.instanceRefresh.minHealthyPercentage (" +
                                   num(minHealthy) + "), so at most " + num(minHealthy + 100)));
    if (r.checkpointPercentages)
      for (size_t i = 1; i < r.checkpointPercentages->size(); ++i) {
        const std::int64_t prev = (*r.checkpointPercentages)[i - 1];
        const std::int64_t cur = (*r.checkpointPercentages)[i];
        if (cur <= prev)
          c.errs.push_back(invalid(at("spec.instanceRefresh.checkpointPercentages", i), cur,
                                   "must be greater than the checkpoint before it (" + num(prev) +
                                       "): checkpoints are strictly ascending"));
      }
    if (r.checkpointDelaySeconds && !r.checkpointPercentages)
      c.errs.push_back(
          forbidden("spec.instanceRefresh.checkpointDelaySeconds",
                    "may only be set with spec.instanceRefresh.checkpointPercentages"));
  }
  if (s.warmPool && s.warmPool->maxGroupPreparedCapacity &&
      *s.warmPool->maxGroupPreparedCapacity < s.minSize)
    c.errs.push_back(
        invalid("spec.warmPool.maxGroupPreparedCapacity", *s.warmPool->maxGroupPreparedCapacity,
                "must be greater than or equal to spec.minSize (" + num(s.minSize) + ")"));
  eachUniquelyNamed(c, s.scalingPolicies, "spec.scalingPolicies",
                    [&](const std::string& p, const v1::ScalingPolicy& policy) {
                      validatePolicy(c, s, p, policy);
                    });
  eachUniquelyNamed(c, s.scheduledActions, "spec.scheduledActions",
                    [&](const std::string& p, const v1::ScheduledAction& action) {
                      validateAction(c, p, action);
                    });
}

// What the scale subresource's spec.replicas is, in the words of its refusals.
constexpr const char* kReplicasAre =
    ": the scale subresource's spec.replicas is the ScalingGroup's spec.desiredCapacity";

// The errors of setting the stored group's desired capacity to `replicas`,
// through the scale subresource: the rule of spec.desiredCapacity, on the
// group as stored. A stored spec that does not decode (written around the
// webhook) has no bounds to hold the value to.
Errors scaleErrors(const Context& c, const json& group, std::int64_t replicas) {
  Context check{c.root, c.namespace_, c.name, c.tz, c.lookups, {}};
  const json* spec = member(group, "spec");
  if (spec == nullptr) return {};
  const auto old = decodeQuietly<v1::ScalingGroupSpec>(*spec, "spec");
  if (!old) return {};
  v1::ScalingGroupSpec next = *old;
  next.desiredCapacity = replicas;
  checkDesiredCapacity(check, "spec.replicas", kReplicasAre, next, old);
  return check.errs;
}

class ScalingGroupValidator final : public KindValidator {
 public:
  void validateCreate(Context& c, const json& spec) const override { checkSpec(c, spec, nullptr); }
  void validateUpdate(Context& c, const json& spec, const json* oldSpec) const override {
    checkSpec(c, spec, oldSpec);
  }

  // kubectl scale, an HPA or KEDA write spec.desiredCapacity through the
  // Scale, which carries no bounds: they come from the stored group. The
  // cached copy decides an admission; a refusal is confirmed against the
  // API server (a Live read), so a cache a watch event behind never refuses
  // a value that the bounds just raised allow. A cache behind a lowering of
  // the bounds admits what the old bounds allowed, as if the scale had come
  // first: the operator then clamps it, as for any update of the bounds.
  void validateScale(Context& c, const json& scale) const override {
    // autoscaling/v1 ScaleSpec.replicas is omitted when 0.
    std::int64_t replicas = 0;
    if (const json* spec = member(scale, "spec"))
      if (const json* r = member(*spec, "replicas"); r != nullptr && !r->is_null()) {
        if (!r->is_number_integer() ||
            (r->is_number_unsigned() &&
             r->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
          c.errs.push_back(invalid("spec.replicas", *r, "expected an integer"));
          return;
        }
        replicas = r->get<std::int64_t>();
      }
    using State = StoredObject::State;
    const StoredObject cached = c.lookups.scalingGroup(c.namespace_, c.name, Freshness::Cached);
    if (cached.state == State::Found && scaleErrors(c, cached.object, replicas).empty()) return;
    const StoredObject live = c.lookups.scalingGroup(c.namespace_, c.name, Freshness::Live);
    if (live.state == State::Found) {
      for (auto& e : scaleErrors(c, live.object, replicas)) c.errs.push_back(std::move(e));
    } else if (live.state == State::Unknown) {
      c.errs.push_back(internalError(
          "spec.replicas",
          "cannot read ScalingGroup " + goQuote(c.name) +
              " to check the value against its spec.minSize and spec.maxSize: " + live.error));
    }
    // NotFound: gone meanwhile; the API server answers the write itself.
  }

  void warnings(const json& spec, const std::string& ns, const AdmissionLookups& lookups,
                Warnings& out) const override {
    if (const json* ref = member(spec, "launchTemplateRef"))
      if (const std::string* name = stringMember(*ref, "name"))
        warnLaunchTemplate("spec.launchTemplateRef.name", ns, *name, lookups, out);
    if (const json* zones = member(spec, "availabilityZones"); zones && zones->is_array())
      for (size_t i = 0; i < zones->size(); ++i)
        if ((*zones)[i].is_string())
          warnZone(at("spec.availabilityZones", i), (*zones)[i].get<std::string>(), lookups, out);
    // CPU utilization is a percent of the instances' vCPUs: a target above
    // 100 is never reached, so the policy never scales out (EC2 accepts it
    // too; kubectl says so at once instead of the group never growing).
    if (const json* policies = member(spec, "scalingPolicies"); policies && policies->is_array())
      for (size_t i = 0; i < policies->size(); ++i) {
        const json* t = member((*policies)[i], "targetTracking");
        if (t == nullptr || !t->is_object()) continue;
        const std::string* metric = stringMember(*t, "predefinedMetric");
        const json* value = member(*t, "targetValue");
        if (metric && *metric == "ASGAverageCPUUtilization" && value && value->is_number() &&
            value->get<double>() > 100)
          out.push_back(at("spec.scalingPolicies", i) +
                        ".targetTracking.targetValue: average CPU utilization is a percent "
                        "of the instances' vCPUs and never exceeds 100, so a target of " +
                        value->dump() + " is never reached and this policy never scales out");
      }
  }

  void defaults(const json& spec, json& patch) const override {
    if (const json* r = member(spec, "instanceRefresh"); r != nullptr && r->is_object()) {
      const json* checkpoints = member(*r, "checkpointPercentages");
      if (checkpoints != nullptr && checkpoints->is_array() && absent(*r, "checkpointDelaySeconds"))
        patch.push_back(addOp({"spec", "instanceRefresh", "checkpointDelaySeconds"}, 3600));
    }
    const json* policies = member(spec, "scalingPolicies");
    if (policies == nullptr || !policies->is_array()) return;
    for (size_t i = 0; i < policies->size(); ++i) {
      const json& policy = (*policies)[i];
      const std::string index = std::to_string(i);
      if (const json* pr = member(policy, "predictive"); pr != nullptr && pr->is_object()) {
        const json* behavior = member(*pr, "maxCapacityBreachBehavior");
        if (behavior != nullptr && behavior->is_string() && *behavior == "IncreaseMaxCapacity" &&
            absent(*pr, "maxCapacityBuffer"))
          patch.push_back(
              addOp({"spec", "scalingPolicies", index, "predictive", "maxCapacityBuffer"}, 0));
      }
      if (const json* st = member(policy, "stepScaling"); st != nullptr && st->is_object()) {
        const json* alarm = member(*st, "alarm");
        if (alarm != nullptr && alarm->is_object() && !absent(*alarm, "predefinedMetric") &&
            absent(*alarm, "customMetric") && absent(*st, "metricAggregationType"))
          patch.push_back(
              addOp({"spec", "scalingPolicies", index, "stepScaling", "metricAggregationType"},
                    "Average"));
      }
    }
  }
};

}  // namespace

const KindValidator& scalingGroupValidator() {
  return theValidator<ScalingGroupValidator>();
}

}  // namespace kubec2::api::validation
