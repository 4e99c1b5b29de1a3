#include "reconcilers/scaling/target_tracking.h"

#include <algorithm>
#include <cmath>

namespace kubec2::reconcilers::scaling {
namespace {

struct MetricWords {
  std::string name;  // "average CPU"
  std::string unit;  // "%"
  std::optional<double> ceiling;
};

MetricWords wordsOf(const v1::TargetTrackingScaling& spec) {
  const std::string m = spec.predefinedMetric.value_or("");
  if (m == "ASGAverageCPUUtilization") return {"average CPU", "%", 100.0};
  if (m == "ASGAverageNetworkIn") return {"average network in", " B/min", std::nullopt};
  if (m == "ASGAverageNetworkOut") return {"average network out", " B/min", std::nullopt};
  if (m == "ALBRequestCountPerTarget") return {"requests per target", "/min", std::nullopt};
  return {"metric", "", std::nullopt};
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// A least-squares line through the loads at or after `since`, with `now`
// as time 0: its value now, its slope (capacity units per second), the
// slope's standard error and the residuals' standard deviation.
struct Fit {
  double n = 0;
  double level = 0;
  double slope = 0;
  double slopeError = 0;
  double noise = 0;
};

Fit fitOf(const std::vector<LoadPoint>& loads, TimePoint since, TimePoint now) {
  Fit f;
  double st = 0, sl = 0, stt = 0, stl = 0, sll = 0;
  for (const auto& p : loads) {
    if (p.time < since) continue;
    const double t = seconds(p.time - now);
    f.n += 1;
    st += t;
    sl += p.load;
    stt += t * t;
    stl += t * p.load;
    sll += p.load * p.load;
  }
  if (f.n < 1) return f;
  f.level = sl / f.n;
  if (f.n < 3) return f;
  const double sxx = stt - st * st / f.n;
  if (sxx <= 0) return f;
  const double sxy = stl - st * sl / f.n;
  const double syy = sll - sl * sl / f.n;
  f.slope = sxy / sxx;
  f.level = sl / f.n - f.slope * st / f.n;
  const double residual = std::max(0.0, syy - f.slope * sxy) / (f.n - 2);
  f.noise = std::sqrt(residual);
  f.slopeError = std::sqrt(residual / sxx);
  return f;
}

// The highest load at or after `since`, and at least `floor`.
double peakOf(const std::vector<LoadPoint>& loads, TimePoint since, double floor) {
  double peak = floor;
  for (const auto& p : loads) {
    if (p.time >= since) peak = std::max(peak, p.load);
  }
  return peak;
}

// The rounding of a measured load to instances: within 2 % of an instance
// above a whole number of instances fits that number. Metrics carry noise
// (a load of 4 cores reads 4.0008 one period, 3.9994 the next); at the
// target exactly, ceil() of the noisy reading would add an instance one
// period and remove it after the scale-in wait, for ever.
std::int64_t ceilMeasured(double load) {
  return static_cast<std::int64_t>(std::ceil(load - 0.02));
}

}  // namespace

Decision decideTargetTracking(const std::string& name, const v1::TargetTrackingScaling& spec,
                              const Metric& metric, const GroupState& group,
                              const PolicyMemory& memory, TimePoint now,
                              const TargetTrackingTuning& tuning) {
  Decision d;
  d.policy = name;
  d.memory = memory;
  const std::string who = "target tracking " + name;
  const MetricWords words = wordsOf(spec);
  const TimePoint periodStart = memory.lastEvaluation.value_or(now);
  // After a gap the scale-in wait restarts here: nothing observed the gap
  // (target_tracking.h; the user's restart after 50 s of unseen load at
  // 100 % scaled in 20 s later on a wait of 80 s).
  const bool gap = unobservedGap(memory, now, tuning.interval);
  const TimePoint belowStart = gap ? now : periodStart;
  if (gap) d.memory.belowSince.reset();
  d.memory.lastEvaluation = now;

  if (metric.noData) {
    d.holds = true;
    d.status = {false, std::string(reasonOf(*metric.noData)),
                who + ": " + std::string(describe(*metric.noData)) +
                    (metric.detail.empty() ? "" : " (" + metric.detail + ")") +
                    "; holding the capacity at " + std::to_string(group.desired)};
    d.cause = d.status.message;
    d.memory.aboveSince.reset();
    d.memory.belowSince.reset();
    return d;
  }
  if (spec.targetValue <= 0 || metric.samples.empty()) {
    d.holds = true;
    d.status = {false, "InvalidTarget", who + ": no target value above 0"};
    d.cause = d.status.message;
    d.memory.belowSince.reset();
    return d;
  }

  double sum = 0;
  for (const auto& s : metric.samples) sum += s.value;
  const double value = sum / static_cast<double>(metric.samples.size());
  d.metricValue = value;
  const double target = spec.targetValue;
  const std::string shown = words.name + " " + num(value) + words.unit;
  const std::string targetShown = "target " + num(target) + words.unit;

  if (group.inService <= 0) {
    // Nothing measures the load: wait for the instances launching, or hold.
    d.holds = true;
    d.wanted = group.desired;
    d.status = {
        true, "NoInstanceInService",
        who + ": no instance in service to measure; holding at " + std::to_string(group.desired)};
    d.cause = d.status.message;
    d.memory.belowSince.reset();  // nothing observed the load meanwhile
    return d;
  }

  const bool saturated = words.ceiling && value >= *words.ceiling * 0.99;
  double load = static_cast<double>(group.inService) * value / target;
  if (saturated) load *= tuning.saturatedGrowth;

  // Remember the load; keep what the trend and the scale-in window need.
  const Seconds keep = std::max(tuning.trendWindow, tuning.scaleInAfter);
  d.memory.loads.push_back({now, load});
  std::erase_if(d.memory.loads, [&](const LoadPoint& p) { return p.time < now - keep; });
  while (d.memory.loads.size() > kMaxLoadPoints) d.memory.loads.erase(d.memory.loads.begin());

  double projected = load;
  if (tuning.trendWindow.count() > 0) {
    const Fit fit = fitOf(d.memory.loads, now - tuning.trendWindow, now);
    const double lead = seconds(group.timeToInService + (now - periodStart));
    if (fit.slope > 0 && fit.slope >= tuning.trendMinT * fit.slopeError) {
      double slope = fit.slope;
      if (tuning.trendRecentWindow.count() > 0) {
        // A line through a step is steep; the minutes after the step are
        // flat. A ramp is steep in both (noise may make the recent slope
        // the steeper one: the whole window's, the better estimate, counts
        // then).
        const Fit recent = fitOf(d.memory.loads, now - tuning.trendRecentWindow, now);
        slope = std::clamp(recent.slope, 0.0, slope);
      }
      projected = load + slope * lead;
    }
  }
  const std::int64_t outWanted = ceilMeasured(projected * (1 + tuning.headroom));

  // Scale-out. The breach (EC2's high alarm) counts while the metric is
  // above the target or the capacity is short; it acts when the capacity
  // is short (warming instances may already cover it).
  const bool breach = value > target || outWanted > group.desired;
  if (breach) {
    d.memory.belowSince.reset();
    if (!d.memory.aboveSince) d.memory.aboveSince = periodStart;
  } else {
    d.memory.aboveSince.reset();
  }
  if (outWanted > group.desired) {
    if (now - *d.memory.aboveSince >= tuning.scaleOutAfter) {
      d.wanted = outWanted;
      // Above the target, or below it but rising fast enough (the trend
      // over the boot time) to pass it before new instances are in service.
      d.cause = who + ": " + shown + (value > target ? " above " : " rising toward ") + targetShown;
      // The trend asked for more than the level alone: say so, or a cause
      // like "50.0% above target 50%, 3 -> 4" reads as a contradiction.
      if (outWanted > ceilMeasured(load * (1 + tuning.headroom)) && projected > load)
        d.cause += " and rising (the trend gives " + num(projected) +
                   " instances' load by the time new ones are in service)";
      d.cause += ", " + arrow(group.desired, outWanted);
      if (saturated) d.cause += " (saturated: the load is at least that)";
      d.memory.lastScaleOut = now;
      d.memory.lastScaleOutTo = outWanted;
      d.status = {true, "ScalingOut", d.cause};
      return d;
    }
    d.wanted = group.desired;
    d.status = {true, "ValidMetric",
                who + ": " + shown + " above " + targetShown + " since " +
                    std::to_string(static_cast<long long>(seconds(now - *d.memory.aboveSince))) +
                    " s, scale-out after " + std::to_string(tuning.scaleOutAfter.count()) + " s"};
    return d;
  }

  // Scale-in.
  const double peak =
      tuning.scaleInToWindowPeak ? peakOf(d.memory.loads, now - tuning.scaleInAfter, load) : load;
  const std::int64_t inWanted =
      std::max<std::int64_t>(ceilMeasured(peak * (1 + tuning.headroom)), 1);
  const bool lowMetric = value < target * tuning.scaleInBelow;
  const bool disabled = spec.disableScaleIn.value_or(false);
  if (disabled || !lowMetric || inWanted >= group.desired || group.warming > 0) {
    d.memory.belowSince.reset();
    // A floor for the other policies: what this one would keep.
    d.wanted = disabled ? std::min(inWanted, group.desired) : group.desired;
    d.status = {true, "ValidMetric",
                who + ": " + shown + ", " + targetShown + ", capacity " +
                    std::to_string(group.desired) + " kept"};
    return d;
  }
  if (!d.memory.belowSince) d.memory.belowSince = belowStart;
  if (now - *d.memory.belowSince >= tuning.scaleInAfter) {
    d.wanted = inWanted;
    d.scaleIn = true;
    d.cause = who + ": " + shown + " below " + targetShown + " for " +
              std::to_string(static_cast<long long>(seconds(now - *d.memory.belowSince))) + " s, " +
              arrow(group.desired, inWanted);
    d.memory.belowSince = now;  // the next scale-in needs a whole window again
    d.memory.lastScaleIn = now;
    d.status = {true, "ScalingIn", d.cause};
    return d;
  }
  d.wanted = group.desired;
  d.status = {true, "ValidMetric",
              who + ": " + shown + " below " + targetShown + " since " +
                  std::to_string(static_cast<long long>(seconds(now - *d.memory.belowSince))) +
                  " s, scale-in after " + std::to_string(tuning.scaleInAfter.count()) + " s"};
  return d;
}

}  // namespace kubec2::reconcilers::scaling
