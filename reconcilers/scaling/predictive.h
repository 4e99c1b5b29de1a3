// Predictive scaling, as EC2 Auto Scaling's PredictiveScalingConfiguration
// (docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-predictive-scaling.html):
// forecast the group's load for the next 48 hours from up to 14 days of
// its history, and in ForecastAndScale mode raise the capacity ahead of
// the forecast. Pure.
//
// The forecast (kubec2's method; EC2 does not publish its own), in
// `step`-long bins (5 minutes):
//  1. history binned by its peak (the highest sample of each bin: the
//     capacity must carry the bin's peak, not its mean);
//  2. a daily profile per time of day: the mean of that bin over the last
//     up to 7 days that have it;
//  3. weekly seasonality, with at least 7 days of history: each weekday's
//     mean load over the profile's mean load for that day (1 otherwise),
//     clamped to 0.5..2;
//  4. a level: the last 3 hours' actual peaks over what the profile says
//     for them, clamped to 0.8..1.25 (this week busier than the last);
//  5. forecast(t) = profile(time of day) x weekday factor x level; then
//     each bin takes the highest of itself and its two neighbours, which
//     absorbs a peak that comes a few minutes early or late.
// Bounded: kMaxForecastPoints bins; at least 24 hours of history (EC2's
// minimum) or there is no forecast (InsufficientHistory). Refreshed every
// `refresh` (1 hour; EC2 refreshes every 6 hours; the range query is
// cheap and a fresher level helps).
//
// The capacity of a bin: ceil(forecast load / load one instance carries
// at the target value); the controller gives that per-instance load
// (ASGCPUUtilization: vCPUs per instance x targetValue / 100; a custom
// load without scalingQuery: targetValue).
//
// The decision at `now`: the highest forecast capacity of the bins from
// now to now + schedulingBufferSeconds (EC2 raises the capacity of each
// forecast hour that long before it). ForecastAndScale: that capacity is
// a floor (never a scale-in vote: predictive scaling never scales in, and
// never lowers the capacity below what reactive policies want). With
// HonorMaxCapacity the combination caps it at maxSize; with
// IncreaseMaxCapacity it asks for a maximum of the forecast capacity plus
// maxCapacityBuffer percent. ForecastOnly: the forecast is published
// (memory, status) and nothing else.
#pragma once

#include <string>
#include <vector>

#include "reconcilers/scaling/decision.h"

namespace kubec2::reconcilers::scaling {

struct PredictiveTuning {
  Seconds step{300};                // forecast resolution
  Seconds horizon{48 * 3600};       // how far ahead (EC2: 48 hours)
  Seconds history{14 * 24 * 3600};  // the most history used (EC2: 14 days)
  Seconds minHistory{24 * 3600};    // the least history needed (EC2: 24 hours)
  Seconds refresh{3600};            // how often the forecast is made again
};
inline constexpr PredictiveTuning kPredictiveTuning{};

// The forecast of `history` (the load's samples, any order, NaN ignored)
// from `now`; nullopt with less than minHistory of it.
std::optional<Forecast> forecastLoad(const std::vector<Sample>& history, TimePoint now,
                                     double loadPerInstanceAtTarget,
                                     const PredictiveTuning& tuning = kPredictiveTuning);

// What the forecast schedules at `now`: the highest capacity of the bins
// from now to now + buffer (schedulingBufferSeconds), the load of that bin
// and its start (`now` when it is the current bin); nullopt when the
// forecast does not cover now.
struct Scheduled {
  double load = 0;
  std::int64_t capacity = 0;
  TimePoint at{};
};
std::optional<Scheduled> scheduledAt(const Forecast& forecast, TimePoint now, Seconds buffer);

// The forecast as people read it (status.policies[].forecast): from the
// hour that holds `now`, at most `maxHours` hourly points, each the
// highest load and capacity of the forecast's bins in that hour. Bins that
// ended before `now` are left out.
struct HourPoint {
  TimePoint hour{};  // the start of the hour (UTC)
  double load = 0;
  std::int64_t capacity = 0;
};
std::vector<HourPoint> hourly(const Forecast& forecast, TimePoint now, std::size_t maxHours = 48);

// Whether the controller should query the load's history for a new
// forecast now: none yet (after a history found shorter than minHistory,
// once it will be long enough, or tuning.refresh later at most), or one
// older than tuning.refresh.
bool forecastDue(const PolicyMemory& memory, TimePoint now,
                 const PredictiveTuning& tuning = kPredictiveTuning);

// The decision of predictive policy `name` at `now`. `history` is the
// load's range query (up to tuning.history back), or its no-data cause,
// when forecastDue said so; otherwise an empty Metric and the forecast in
// `memory` is used.
Decision decidePredictive(const std::string& name, const v1::PredictiveScaling& spec,
                          const Metric& history, double loadPerInstanceAtTarget,
                          const GroupState& group, const PolicyMemory& memory, TimePoint now,
                          const PredictiveTuning& tuning = kPredictiveTuning);

}  // namespace kubec2::reconcilers::scaling
