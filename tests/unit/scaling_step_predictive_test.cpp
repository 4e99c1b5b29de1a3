// Step scaling and predictive scaling (reconcilers/scaling/step_scaling.h,
// predictive.h) in simulated time.
#include <cmath>
#include <numbers>

#include <gtest/gtest.h>

#include "reconcilers/scaling/combine.h"
#include "reconcilers/scaling/predictive.h"
#include "reconcilers/scaling/step_scaling.h"

namespace kubec2::reconcilers::scaling {
namespace {

using namespace std::chrono_literals;

// A Monday, 00:00 UTC.
const TimePoint monday = TimePoint{} + 1'704'067'200s;

GroupState group(std::int64_t inService, std::int64_t warming = 0) {
  return GroupState{.inService = inService,
                    .warming = warming,
                    .desired = inService + warming,
                    .minSize = 1,
                    .maxSize = 100,
                    .timeToInService = 90s};
}

v1::StepAdjustment step(std::optional<double> lo, std::optional<double> hi, std::int64_t adj) {
  v1::StepAdjustment s;
  s.metricIntervalLowerBound = lo;
  s.metricIntervalUpperBound = hi;
  s.scalingAdjustment = adj;
  return s;
}

// High CPU alarm at 60 %: +1 from 60 to 80, +3 from 80 up.
v1::StepScaling highCpu(std::int64_t periods = 2) {
  v1::StepScaling s;
  s.adjustmentType = "ChangeInCapacity";
  s.alarm.predefinedMetric = "CPUUtilization";
  s.alarm.comparisonOperator = "GreaterThanOrEqualToThreshold";
  s.alarm.threshold = 60;
  s.alarm.periodSeconds = 60;
  s.alarm.evaluationPeriods = periods;
  s.stepAdjustments = {step(0, 20, 1), step(20, std::nullopt, 3)};
  return s;
}

TEST(ScalingStep, PercentChangeRoundsAsEc2) {
  EXPECT_EQ(percentChange(10, 127, 0), 12);     // 12.7 -> 12
  EXPECT_EQ(percentChange(3, 20, 0), 1);        // 0.6 -> 1
  EXPECT_EQ(percentChange(3, -20, 0), -1);      // -0.6 -> -1
  EXPECT_EQ(percentChange(30, -22.23, 0), -6);  // -6.67 -> -6
  EXPECT_EQ(percentChange(10, 10, 3), 3);       // 1 -> at least 3
  EXPECT_EQ(percentChange(10, -10, 3), -3);
  EXPECT_EQ(percentChange(10, 0, 3), 0);
}

TEST(ScalingStep, AlarmNeedsItsPeriodsThenTheStepOfTheDistanceApplies) {
  PolicyMemory m;
  m.lastEvaluation = monday;
  auto d = decideStepScaling("high", highCpu(), Metric::of({{monday + 60s, 85}}), group(4), m,
                             monday + 60s, 300s, 60s);
  EXPECT_FALSE(d.wanted);
  EXPECT_EQ(d.alarmBreached, false);
  d = decideStepScaling("high", highCpu(), Metric::of({{monday + 120s, 85}}), group(4), d.memory,
                        monday + 120s, 300s, 60s);
  EXPECT_EQ(d.alarmBreached, true);
  EXPECT_EQ(d.wanted, 7);  // 85 - 60 = 25: the +3 step
  EXPECT_FALSE(d.scaleIn);
  EXPECT_EQ(d.cause, "step scaling high: metric 85 at or above threshold 60 for 2 periods, 4 -> 7");
  // Cooldown: the alarm stays breached, the policy waits 300 s.
  auto g = group(7);
  d = decideStepScaling("high", highCpu(), Metric::of({{monday + 180s, 70}}), g, d.memory,
                        monday + 180s, 300s, 60s);
  EXPECT_FALSE(d.wanted);
  EXPECT_EQ(d.status.reason, "Cooldown");
  d = decideStepScaling("high", highCpu(), Metric::of({{monday + 420s, 70}}), g, d.memory,
                        monday + 420s, 300s, 60s);
  EXPECT_EQ(d.wanted, 8);  // 70 - 60 = 10: the +1 step
}

TEST(ScalingStep, WarmingInstancesOfAScaleOutAreNotAddedTwice) {
  // 4 in service and 3 warming from the +3 step: the same step again asks 4 + 3 = 7.
  PolicyMemory m;
  m.lastEvaluation = monday;
  m.aboveSince = monday - 600s;
  const auto d = decideStepScaling("high", highCpu(), Metric::of({{monday + 60s, 85}}), group(4, 3),
                                   m, monday + 60s, 0s, 60s);
  EXPECT_FALSE(d.wanted);
}

TEST(ScalingStep, LowAlarmVotesForScaleInByPercent) {
  v1::StepScaling low;
  low.adjustmentType = "PercentChangeInCapacity";
  low.minAdjustmentMagnitude = 2;
  low.alarm.comparisonOperator = "LessThanThreshold";
  low.alarm.threshold = 30;
  low.stepAdjustments = {step(std::nullopt, 0, -25)};
  PolicyMemory m;
  m.lastEvaluation = monday - 60s;  // one whole period below the threshold
  const auto d =
      decideStepScaling("low", low, Metric::of({{monday, 10}}), group(20), m, monday, 0s, 60s);
  EXPECT_TRUE(d.scaleIn);
  EXPECT_EQ(d.wanted, 15);
  EXPECT_EQ(combine({d}, group(20)).desired, 15);
  const auto blind =
      decideStepScaling("low", low, Metric::missing(NoData::Stale), group(20), {}, monday, 0s, 60s);
  EXPECT_TRUE(blind.holds);
  EXPECT_EQ(combine({d, blind}, group(20)).desired, 20);
}

// Low CPU alarm: below 30 % for 2 periods of 60 s removes 25 % (at least 2).
v1::StepScaling lowCpu() {
  v1::StepScaling s;
  s.adjustmentType = "PercentChangeInCapacity";
  s.minAdjustmentMagnitude = 2;
  s.alarm.comparisonOperator = "LessThanThreshold";
  s.alarm.threshold = 30;
  s.alarm.periodSeconds = 60;
  s.alarm.evaluationPeriods = 2;
  s.stepAdjustments = {step(std::nullopt, 0, -25)};
  return s;
}

TEST(ScalingStep, AfterAGapAScaleInAlarmCountsOnlyPeriodsItObserved) {
  // Evaluated every 15 s; the alarm had compared for 90 s when the
  // operator died; it comes back 5 minutes later to a load still low.
  PolicyMemory m;
  m.lastEvaluation = monday;
  m.aboveSince = monday - 90s;
  const TimePoint back = monday + 300s;
  auto d =
      decideStepScaling("low", lowCpu(), Metric::of({{back, 10}}), group(20), m, back, 0s, 15s);
  EXPECT_FALSE(d.scaleIn);
  EXPECT_EQ(d.alarmBreached, false);
  EXPECT_EQ(d.memory.aboveSince, back);
  for (auto now = back + 15s; now < back + 120s; now += 15s) {
    d = decideStepScaling("low", lowCpu(), Metric::of({{now, 10}}), group(20), d.memory, now, 0s,
                          15s);
    EXPECT_FALSE(d.scaleIn) << (now - back).count();
  }
  d = decideStepScaling("low", lowCpu(), Metric::of({{back + 120s, 10}}), group(20), d.memory,
                        back + 120s, 0s, 15s);
  EXPECT_TRUE(d.scaleIn);  // two whole periods observed
  EXPECT_EQ(d.wanted, 15);
  // Without the gap, the 90 s before count: breached 30 s later.
  d = decideStepScaling("low", lowCpu(), Metric::of({{monday + 30s, 10}}), group(20), m,
                        monday + 30s, 0s, 15s);
  EXPECT_TRUE(d.scaleIn);
}

TEST(ScalingStep, AfterAGapAScaleOutAlarmKeepsCounting) {
  // Every step adds capacity: a gap does not delay it (the alarm had
  // compared for 90 s; 2 periods of 60 s breach it).
  PolicyMemory m;
  m.lastEvaluation = monday;
  m.aboveSince = monday - 90s;
  const auto d = decideStepScaling("high", highCpu(), Metric::of({{monday + 300s, 85}}), group(4),
                                   m, monday + 300s, 0s, 15s);
  EXPECT_EQ(d.alarmBreached, true);
  EXPECT_EQ(d.wanted, 7);
  // ExactCapacity may lower the capacity: its alarm starts again.
  auto exact = highCpu();
  exact.adjustmentType = "ExactCapacity";
  const auto e = decideStepScaling("exact", exact, Metric::of({{monday + 300s, 85}}), group(4), m,
                                   monday + 300s, 0s, 15s);
  EXPECT_EQ(e.alarmBreached, false);
}

// Load in vCPU with a daily peak at 14:00 UTC (90) and a trough at 02:00 (10),
// one sample a minute for `days` days before `now`.
std::vector<Sample> dailyLoad(TimePoint now, int days, double weekendFactor = 1.0) {
  std::vector<Sample> s;
  for (auto t = now - days * 24h; t < now; t += 60s) {
    const double h =
        std::fmod(std::chrono::duration<double>(t.time_since_epoch()).count() / 3600, 24.0);
    double v = 50 - 40 * std::cos(2 * std::numbers::pi * (h - 2) / 24);
    const auto day = std::chrono::floor<std::chrono::days>(t).time_since_epoch().count();
    if ((day + 4) % 7 == 0 || (day + 4) % 7 == 6) v *= weekendFactor;
    s.push_back({t, v});
  }
  return s;
}

v1::PredictiveScaling forecastAndScale(std::int64_t buffer) {
  v1::PredictiveScaling p;
  p.predefinedMetricPair = "ASGCPUUtilization";
  p.targetValue = 50;
  p.mode = "ForecastAndScale";
  p.schedulingBufferSeconds = buffer;
  return p;
}

TEST(ScalingPredictive, NeedsADayOfHistory) {
  const auto now = monday + 12h;
  const auto d = decidePredictive("p", forecastAndScale(0), Metric::of(dailyLoad(now, 0)), 1.0,
                                  group(10), {}, now);
  EXPECT_FALSE(d.wanted);
  EXPECT_FALSE(d.status.active);
  EXPECT_EQ(d.status.reason, "NoForecast");
  const auto half =
      decidePredictive("p", forecastAndScale(0), Metric::of({{now - 12h, 10}, {now - 1min, 10}}),
                       1.0, group(10), {}, now);
  EXPECT_EQ(half.status.reason, "InsufficientHistory");
}

TEST(ScalingPredictive, RaisesCapacityAheadOfTheDailyPeakAndNeverVotesScaleIn) {
  const auto now = monday + 2 * 24h + 12h;  // Wednesday 12:00, two hours before the peak
  const auto history = dailyLoad(now, 2);
  const auto d =
      decidePredictive("p", forecastAndScale(600), Metric::of(history), 1.0, group(10), {}, now);
  ASSERT_TRUE(d.wanted);
  // The load at 12:10 is 50 + 40 x sin(...) ~ 84.8; one instance carries 1 vCPU at 50 %.
  EXPECT_GE(*d.wanted, 84);
  EXPECT_LE(*d.wanted, 90);
  EXPECT_FALSE(d.scaleIn);
  ASSERT_TRUE(d.memory.forecast);
  EXPECT_LE(d.memory.forecast->load.size(), kMaxForecastPoints);
  EXPECT_EQ(d.memory.forecast->load.size(), 48u * 12u);
  // At night the forecast is low and is only a floor: a target tracking
  // policy that wants more wins, one that wants less cannot go below it.
  const auto night = now + 14h;  // 02:00
  const auto n =
      decidePredictive("p", forecastAndScale(600), Metric{}, 1.0, group(40), d.memory, night);
  ASSERT_TRUE(n.wanted);
  EXPECT_LE(*n.wanted, 12);
  Decision tt;
  tt.policy = "tt";
  tt.wanted = 5;
  tt.scaleIn = true;
  EXPECT_EQ(combine({n, tt}, group(40)).desired, *n.wanted);
}

TEST(ScalingPredictive, ForecastOnlyPublishesAndDoesNotAct) {
  const auto now = monday + 2 * 24h + 12h;
  auto spec = forecastAndScale(600);
  spec.mode = "ForecastOnly";
  const auto d =
      decidePredictive("p", spec, Metric::of(dailyLoad(now, 2)), 1.0, group(10), {}, now);
  EXPECT_FALSE(d.wanted);
  EXPECT_EQ(d.status.reason, "ForecastOnly");
  EXPECT_TRUE(d.memory.forecast);
  EXPECT_FALSE(combine({d}, group(10)).changed);
}

TEST(ScalingPredictive, IncreaseMaxCapacityRaisesTheMaximumWithinTheBuffer) {
  const auto now = monday + 2 * 24h + 12h;
  auto spec = forecastAndScale(600);
  spec.maxCapacityBreachBehavior = "IncreaseMaxCapacity";
  spec.maxCapacityBuffer = 10;
  auto g = group(10);
  g.maxSize = 50;
  const auto d = decidePredictive("p", spec, Metric::of(dailyLoad(now, 2)), 1.0, g, {}, now);
  ASSERT_TRUE(d.wanted && d.maxSizeWanted);
  EXPECT_EQ(*d.maxSizeWanted,
            static_cast<std::int64_t>(std::ceil(static_cast<double>(*d.wanted) * 1.1 - 1e-9)));
  const auto c = combine({d}, g);
  EXPECT_EQ(c.maxSize, *d.maxSizeWanted);
  EXPECT_EQ(c.desired, *d.wanted);
  spec.maxCapacityBreachBehavior = "HonorMaxCapacity";
  const auto honor = decidePredictive("p", spec, Metric::of(dailyLoad(now, 2)), 1.0, g, {}, now);
  const auto h = combine({honor}, g);
  EXPECT_EQ(h.desired, 50);
  EXPECT_TRUE(h.stoppedAtMax);
}

TEST(ScalingPredictive, WeeklySeasonalityLowersTheWeekend) {
  // Two weeks in which weekends carry half the load; forecast from Friday 12:00.
  const auto now = monday + 4 * 24h + 12h + 14 * 24h;
  const auto d = decidePredictive("p", forecastAndScale(0), Metric::of(dailyLoad(now, 14, 0.5)),
                                  1.0, group(10), {}, now);
  ASSERT_TRUE(d.memory.forecast);
  const auto& f = *d.memory.forecast;
  const auto at = [&](std::chrono::hours fromNow) {
    return f.load[static_cast<std::size_t>((now + fromNow - f.start) / f.step)];
  };
  // Friday 14:00 against Saturday 14:00.
  EXPECT_GT(at(2h), 80);
  EXPECT_LT(at(26h), 55);
  EXPECT_GT(at(26h), 35);
}

TEST(ScalingPredictive, OutageKeepsTheForecastInForce) {
  const auto now = monday + 2 * 24h + 12h;
  const auto d = decidePredictive("p", forecastAndScale(600), Metric::of(dailyLoad(now, 2)), 1.0,
                                  group(10), {}, now);
  const auto later = now + 90min;
  ASSERT_TRUE(forecastDue(d.memory, later));
  const auto o = decidePredictive("p", forecastAndScale(600), Metric::missing(NoData::Unreachable),
                                  1.0, group(10), d.memory, later);
  EXPECT_FALSE(o.status.active);
  EXPECT_EQ(o.status.reason, "PrometheusUnreachable");
  ASSERT_TRUE(o.wanted);
  EXPECT_GE(*o.wanted, 85);
}

}  // namespace
}  // namespace kubec2::reconcilers::scaling
