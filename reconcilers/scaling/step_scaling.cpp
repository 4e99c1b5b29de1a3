#include "reconcilers/scaling/step_scaling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kubec2::reconcilers::scaling {

std::int64_t percentChange(std::int64_t capacity, double percent, std::int64_t minMagnitude) {
  const double raw = static_cast<double>(capacity) * percent / 100.0;
  std::int64_t change = 0;
  if (raw >= 1 || raw <= -1) {
    change = static_cast<std::int64_t>(std::trunc(raw));  // 12.7 -> 12, -6.67 -> -6
  } else if (raw > 0) {
    change = 1;
  } else if (raw < 0) {
    change = -1;
  }
  if (change != 0 && std::abs(change) < minMagnitude)
    change = change > 0 ? minMagnitude : -minMagnitude;
  return change;
}

namespace {

// Whether every step of the policy adds capacity: its alarm can only ever
// scale out.
bool onlyScalesOut(const v1::StepScaling& spec) {
  if (spec.adjustmentType == "ExactCapacity" || spec.stepAdjustments.empty()) return false;
  return std::all_of(spec.stepAdjustments.begin(), spec.stepAdjustments.end(),
                     [](const v1::StepAdjustment& s) { return s.scalingAdjustment > 0; });
}

}  // namespace

Decision decideStepScaling(const std::string& name, const v1::StepScaling& spec,
                           const Metric& metric, const GroupState& group,
                           const PolicyMemory& memory, TimePoint now, Seconds cooldown,
                           Seconds interval) {
  Decision d;
  d.policy = name;
  d.memory = memory;
  const std::string who = "step scaling " + name;
  TimePoint periodStart = memory.lastEvaluation.value_or(now);
  if (unobservedGap(memory, now, interval) && !onlyScalesOut(spec)) {
    // Nothing observed the gap: the alarm's periods count from here
    // (step_scaling.h).
    d.memory.aboveSince.reset();
    periodStart = now;
  }
  d.memory.lastEvaluation = now;
  if (metric.noData || metric.samples.empty()) {
    const NoData cause = metric.noData.value_or(NoData::NoSeries);
    d.holds = true;
    d.status = {false, std::string(reasonOf(cause)),
                who + ": " + std::string(describe(cause)) +
                    (metric.detail.empty() ? "" : " (" + metric.detail + ")") +
                    "; holding the capacity at " + std::to_string(group.desired)};
    d.cause = d.status.message;
    d.memory.aboveSince.reset();
    return d;
  }
  double sum = 0;
  for (const auto& s : metric.samples) sum += s.value;
  const double value = sum / static_cast<double>(metric.samples.size());
  d.metricValue = value;
  const auto& alarm = spec.alarm;
  const std::string& op = alarm.comparisonOperator;
  const bool compares = op == "GreaterThanOrEqualToThreshold" ? value >= alarm.threshold
                        : op == "GreaterThanThreshold"        ? value > alarm.threshold
                        : op == "LessThanThreshold"           ? value < alarm.threshold
                        : op == "LessThanOrEqualToThreshold"  ? value <= alarm.threshold
                                                              : false;
  if (!compares) {
    d.memory.aboveSince.reset();
    d.alarmBreached = false;
    d.status = {true, "ValidMetric",
                who + ": metric " + num(value) + ", alarm threshold " + num(alarm.threshold) +
                    " not breached"};
    return d;
  }
  // The alarm's side of the threshold, in words.
  const std::string side = op == "GreaterThanOrEqualToThreshold" ? " at or above threshold "
                           : op == "GreaterThanThreshold"        ? " above threshold "
                           : op == "LessThanThreshold"           ? " below threshold "
                                                                 : " at or below threshold ";
  if (!d.memory.aboveSince) d.memory.aboveSince = periodStart;
  const Seconds period{alarm.periodSeconds.value_or(60)};
  const auto periods = alarm.evaluationPeriods.value_or(1);
  if (now - *d.memory.aboveSince < period * periods) {
    d.alarmBreached = false;
    d.status = {true, "ValidMetric",
                who + ": metric " + num(value) + side + num(alarm.threshold) + ", alarm after " +
                    std::to_string(periods) + " periods"};
    return d;
  }
  d.alarmBreached = true;

  const double diff = value - alarm.threshold;
  const v1::StepAdjustment* step = nullptr;
  for (const auto& s : spec.stepAdjustments) {
    const double lo = s.metricIntervalLowerBound.value_or(-std::numeric_limits<double>::infinity());
    const double hi = s.metricIntervalUpperBound.value_or(std::numeric_limits<double>::infinity());
    if (diff >= lo && diff < hi) step = &s;
  }
  const std::string breached = who + ": metric " + num(value) + side + num(alarm.threshold) +
                               " for " + std::to_string(periods) + " periods";
  if (!step) {
    d.status = {true, "NoStep", breached + ", no step holds " + num(diff)};
    return d;
  }
  if (const auto last = std::max(memory.lastScaleOut.value_or(TimePoint::min()),
                                 memory.lastScaleIn.value_or(TimePoint::min()));
      last != TimePoint::min() && now - last < cooldown) {
    d.status = {true, "Cooldown", breached + ", in cooldown"};
    return d;
  }
  const auto adj = step->scalingAdjustment;
  // Warmup: a scale-out counts from the capacity without the warming instances.
  const std::int64_t base =
      adj > 0 ? std::max<std::int64_t>(0, group.desired - group.warming) : group.desired;
  std::int64_t wanted = base;
  if (spec.adjustmentType == "ExactCapacity") {
    wanted = adj;
  } else if (spec.adjustmentType == "PercentChangeInCapacity") {
    wanted = base +
             percentChange(base, static_cast<double>(adj), spec.minAdjustmentMagnitude.value_or(0));
  } else {
    wanted = base + adj;
  }
  wanted = std::max<std::int64_t>(0, wanted);
  if (wanted == group.desired || (adj > 0 && wanted < group.desired)) {
    d.status = {
        true, "ValidMetric",
        breached + ", capacity " + std::to_string(group.desired) + " already covers the step"};
    return d;
  }
  d.wanted = wanted;
  d.scaleIn = wanted < group.desired;
  d.cause = breached + ", " + arrow(group.desired, wanted);
  if (d.scaleIn) {
    d.memory.lastScaleIn = now;
  } else {
    d.memory.lastScaleOut = now;
    d.memory.lastScaleOutTo = wanted;
  }
  d.status = {true, d.scaleIn ? "ScalingIn" : "ScalingOut", d.cause};
  return d;
}

}  // namespace kubec2::reconcilers::scaling
