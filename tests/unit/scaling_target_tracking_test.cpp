// Target tracking (reconcilers/scaling/target_tracking.h), the no-data
// causes and the policy memory, in simulated time: every evaluation gets
// its time as a parameter; nothing waits.
#include <gtest/gtest.h>

#include "reconcilers/scaling/combine.h"
#include "reconcilers/scaling/target_tracking.h"

namespace kubec2::reconcilers::scaling {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + 1'700'000'000s;

v1::TargetTrackingScaling cpu(double target) {
  v1::TargetTrackingScaling s;
  s.predefinedMetric = "ASGAverageCPUUtilization";
  s.targetValue = target;
  return s;
}

GroupState group(std::int64_t inService, std::int64_t warming = 0) {
  return GroupState{.inService = inService,
                    .warming = warming,
                    .desired = inService + warming,
                    .minSize = 1,
                    .maxSize = 100,
                    .timeToInService = 90s};
}

Metric at(TimePoint t, double v) {
  return Metric::of({{t, v}});
}

TEST(ScalingTargetTracking, ScalesOutToTheEc2FormulaAndSaysWhy) {
  const auto d = decideTargetTracking("cpu-60", cpu(60), at(t0, 82), group(4), {}, t0);
  ASSERT_TRUE(d.wanted);
  EXPECT_EQ(*d.wanted, 6);  // ceil(4 x 82 / 60) = ceil(5.47)
  EXPECT_EQ(d.cause, "target tracking cpu-60: average CPU 82% above target 60%, 4 -> 6");
  EXPECT_TRUE(d.status.active);
  EXPECT_EQ(d.metricValue, 82);
}

TEST(ScalingTargetTracking, Ec2TuningWaitsForThreeOneMinutePeriodsAbove) {
  PolicyMemory m;
  m.lastEvaluation = t0;
  for (int minute = 1; minute <= 2; ++minute) {
    const auto now = t0 + minute * 60s;
    const auto d =
        decideTargetTracking("cpu-60", cpu(60), at(now, 90), group(4), m, now, kEc2TargetTracking);
    EXPECT_EQ(d.wanted, 4) << "minute " << minute;  // kept while the alarm counts
    m = d.memory;
  }
  const auto d = decideTargetTracking("cpu-60", cpu(60), at(t0 + 180s, 90), group(4), m, t0 + 180s,
                                      kEc2TargetTracking);
  EXPECT_EQ(d.wanted, 6);
}

TEST(ScalingTargetTracking, WarmingInstancesCountTowardAScaleOutInProgress) {
  // 4 in service at 82 % want 6; 2 are already warming: nothing more.
  const auto d = decideTargetTracking("cpu-60", cpu(60), at(t0, 82), group(4, 2), {}, t0);
  EXPECT_EQ(d.wanted, 6);
  EXPECT_FALSE(d.scaleIn);
  EXPECT_EQ(combine({d}, group(4, 2)).changed, false);
}

TEST(ScalingTargetTracking, ScalesInOnlyAfterTheWindowAndToItsPeak) {
  PolicyMemory m;
  auto g = group(10);
  Decision d;
  // 4 minutes at 30 % (needs 6 of 10), one period at 40 % (needs 8).
  for (int i = 0; i <= 20; ++i) {
    const auto now = t0 + i * 15s;
    d = decideTargetTracking("cpu-50", cpu(50), at(now, i == 3 ? 40 : 30), g, m, now);
    m = d.memory;
    if (i * 15 < 300) {
      EXPECT_FALSE(d.scaleIn) << "at " << i * 15 << " s";
      EXPECT_EQ(d.wanted, 10);
    }
  }
  // 300 s after the first low period: in to the window's peak, 8.
  EXPECT_TRUE(d.scaleIn);
  EXPECT_EQ(d.wanted, 8);
  EXPECT_EQ(combine({d}, g).desired, 8);
}

TEST(ScalingTargetTracking, Ec2TuningScalesInAfterFifteenPeriodsBelowNinetyPercent) {
  PolicyMemory m;
  m.lastEvaluation = t0;
  Decision d;
  for (int minute = 1; minute <= 14; ++minute) {
    const auto now = t0 + minute * 60s;
    d = decideTargetTracking("cpu-50", cpu(50), at(now, 30), group(10), m, now, kEc2TargetTracking);
    m = d.memory;
    EXPECT_FALSE(d.scaleIn) << "minute " << minute;
  }
  d = decideTargetTracking("cpu-50", cpu(50), at(t0 + 900s, 30), group(10), m, t0 + 900s,
                           kEc2TargetTracking);
  EXPECT_TRUE(d.scaleIn);
  EXPECT_EQ(d.wanted, 6);
  // 46 % is inside the band (above 90 % of 50): no scale-in however long.
  m = {};
  m.lastEvaluation = t0;
  for (int minute = 1; minute <= 20; ++minute) {
    const auto now = t0 + minute * 60s;
    d = decideTargetTracking("cpu-50", cpu(50), at(now, 46), group(10), m, now, kEc2TargetTracking);
    m = d.memory;
    EXPECT_FALSE(d.scaleIn);
  }
}

TEST(ScalingTargetTracking, DisableScaleInNeverVotesForScaleIn) {
  auto spec = cpu(50);
  spec.disableScaleIn = true;
  PolicyMemory m;
  Decision d;
  for (int i = 0; i <= 100; ++i) {
    const auto now = t0 + i * 15s;
    d = decideTargetTracking("cpu-50", spec, at(now, 10), group(10), m, now);
    m = d.memory;
    EXPECT_FALSE(d.scaleIn);
  }
  EXPECT_EQ(combine({d}, group(10)).desired, 10);
}

TEST(ScalingTargetTracking, ExtrapolatesARisingLoadOverTheBootTime) {
  PolicyMemory m;
  Decision d;
  // The load rises by 1 instance per 15 s: 10, 11, ... at 50 %.
  auto g = group(10);
  for (int i = 0; i < 8; ++i) {
    const auto now = t0 + i * 15s;
    g.inService = g.desired = 10;
    d = decideTargetTracking("cpu-50", cpu(50), at(now, 50.0 * (10 + i) / 10), g, m, now);
    m = d.memory;
  }
  // The last period's load is 17; 105 s ahead (90 s boot + one period) it is 24.
  ASSERT_TRUE(d.wanted);
  EXPECT_GE(*d.wanted, 23);
  EXPECT_LE(*d.wanted, 25);
  // The cause says the trend asked for more than the level.
  EXPECT_NE(d.cause.find("and rising (the trend gives 2"), std::string::npos) << d.cause;
}

// A load that steps from 8 to 16 instances' worth and stays there. While
// the step is recent it reads as a rising trend (the known overshoot);
// once it is a few minutes old the policy wants what the load needs and
// scales in to it after the scale-in wait. Returns the capacity 9 minutes
// after the step (new instances count at once here: the test is about the
// load estimate, not the boot).
std::int64_t capacityAfterAStep(const TargetTrackingTuning& tuning) {
  PolicyMemory m;
  std::int64_t n = 10;
  for (int i = 0; i <= 56; ++i) {
    const auto now = t0 + i * 15s;
    const double load = i < 20 ? 8 : 16;
    const auto d = decideTargetTracking(
        "cpu-50", cpu(50), at(now, 50.0 * load / static_cast<double>(n)), group(n), m, now, tuning);
    m = d.memory;
    if (d.wanted) n = *d.wanted;
  }
  return n;
}

TEST(ScalingTargetTracking, AStepInTheLoadIsNotExtrapolatedOnceItIsOver) {
  EXPECT_EQ(capacityAfterAStep(kKubec2TargetTracking), 16);
  // Without the recent window's slope, the line through the step keeps
  // rising for the whole 10-minute trend window, and so does the capacity.
  TargetTrackingTuning wholeWindow = kKubec2TargetTracking;
  wholeWindow.trendRecentWindow = Seconds{0};
  EXPECT_GT(capacityAfterAStep(wholeWindow), 17);
}

TEST(ScalingTargetTracking, SaturatedCpuAsksForMoreThanItShows) {
  const auto d = decideTargetTracking("cpu-50", cpu(50), at(t0, 100), group(10), {}, t0);
  ASSERT_TRUE(d.wanted);
  EXPECT_EQ(*d.wanted, 25);  // 20 shown, x 1.25: the load is at least that
  EXPECT_NE(d.cause.find("saturated"), std::string::npos);
}

TEST(ScalingTargetTracking, WithoutValidDataItHoldsAndSaysWhy) {
  const std::pair<NoData, const char*> causes[] = {
      {NoData::NotConfigured, "PrometheusNotConfigured"},
      {NoData::Unreachable, "PrometheusUnreachable"},
      {NoData::Timeout, "PrometheusTimeout"},
      {NoData::HttpError, "PrometheusError"},
      {NoData::Garbage, "PrometheusGarbage"},
      {NoData::NoSeries, "MetricNoSeries"},
      {NoData::NotANumber, "MetricNotANumber"},
      {NoData::Stale, "MetricStale"},
      {NoData::RequestCountNotConfigured, "RequestCountMetricNotConfigured"},
  };
  for (const auto& [cause, reason] : causes) {
    PolicyMemory m;
    for (int i = 0; i < 100; ++i) {  // 25 minutes of an outage at low load
      const auto now = t0 + i * 15s;
      const auto d =
          decideTargetTracking("cpu-50", cpu(50), Metric::missing(cause), group(10), m, now);
      m = d.memory;
      EXPECT_TRUE(d.holds);
      EXPECT_FALSE(d.wanted);
      EXPECT_FALSE(d.status.active);
      EXPECT_EQ(d.status.reason, reason);
      const auto c = combine({d}, group(10));
      EXPECT_EQ(c.desired, 10);
      EXPECT_FALSE(c.scalingActive.active);
      EXPECT_EQ(c.scalingActive.reason, reason);
    }
  }
}

TEST(ScalingTargetTracking, AnOutageBlocksScaleInButNotAnotherPolicysScaleOut) {
  const auto blind =
      decideTargetTracking("cpu", cpu(50), Metric::missing(NoData::Unreachable), group(10), {}, t0);
  auto rpsSpec = cpu(50);
  rpsSpec.predefinedMetric = "ALBRequestCountPerTarget";
  const auto out = decideTargetTracking("rps", rpsSpec, at(t0, 75), group(10), {}, t0);
  const auto c = combine({blind, out}, group(10));
  EXPECT_EQ(c.desired, 15);
  EXPECT_EQ(c.policy, "rps");
  EXPECT_FALSE(c.scalingActive.active);

  Decision in;
  in.policy = "low";
  in.wanted = 4;
  in.scaleIn = true;
  EXPECT_EQ(combine({blind, in}, group(10)).desired, 10);
  EXPECT_EQ(combine({in}, group(10)).desired, 4);
}

TEST(ScalingMetric, CheckedNamesWhatIsWrong) {
  EXPECT_EQ(checked(Metric::of({}), t0, 180s).noData, NoData::NoSeries);
  EXPECT_EQ(checked(Metric::of({{t0, std::nan("")}, {t0, INFINITY}}), t0, 180s).noData,
            NoData::NotANumber);
  EXPECT_EQ(checked(Metric::of({{t0 - 181s, 50}}), t0, 180s).noData, NoData::Stale);
  const auto ok = checked(Metric::of({{t0, 50}, {t0 - 15s, std::nan("")}}), t0, 180s);
  EXPECT_FALSE(ok.noData);
  ASSERT_EQ(ok.samples.size(), 1u);
  EXPECT_EQ(checked(Metric::missing(NoData::Timeout), t0, 180s).noData, NoData::Timeout);
}

TEST(ScalingMemory, RoundTripsThroughJsonAndForgivesGarbage) {
  PolicyMemory m;
  m.lastEvaluation = t0;
  m.aboveSince = t0 - 30s;
  m.lastScaleOut = t0 - 600s;
  m.lastScaleOutTo = 12;
  m.loads = {{t0 - 15s, 9.5}, {t0, 10.25}};
  m.forecast = Forecast{t0, 300s, {1.5, 2.5}, {2, 3}};
  EXPECT_EQ(PolicyMemory::fromJson(nlohmann::json::parse(m.toJson().dump())), m);
  EXPECT_EQ(PolicyMemory::fromJson(nlohmann::json::parse(R"({"loads": "x"})")), PolicyMemory{});
  EXPECT_EQ(PolicyMemory::fromJson(nlohmann::json::parse(R"({"forecast": {"start": 1}})")),
            PolicyMemory{});
  EXPECT_EQ(PolicyMemory::fromJson(nlohmann::json(42)), PolicyMemory{});
}

TEST(ScalingCombine, LargestWinsAndMaxSizeStopsAScaleOutAndSaysSo) {
  Decision a, b;
  a.policy = "a";
  a.wanted = 12;
  a.cause = "a wants 12";
  b.policy = "b";
  b.wanted = 30;
  b.cause = "b wants 30";
  auto g = group(10);
  g.maxSize = 20;
  const auto c = combine({a, b}, g);
  EXPECT_EQ(c.desired, 20);
  EXPECT_TRUE(c.stoppedAtMax);
  EXPECT_EQ(c.cause, "b wants 30, stopped at maxSize 20");
  g.minSize = 8;
  b.wanted = 2;
  b.scaleIn = true;
  b.cause = "b wants 2";
  a.wanted.reset();
  const auto in = combine({a, b}, g);
  EXPECT_EQ(in.desired, 8);
  EXPECT_EQ(in.cause, "b wants 2, clamped to minSize 8");
}

}  // namespace
}  // namespace kubec2::reconcilers::scaling
