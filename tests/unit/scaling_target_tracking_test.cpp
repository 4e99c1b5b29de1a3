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

// Gaps in the evaluations (decision.h's unobservedGap), as the user's
// restart: a group steady at 7 instances at a 60 % CPU target, evaluated
// every 2 s (kubec2's tuning scaled as the controller scales it: scale-in
// after 40 s); the operator dead for 70 s (load unseen), the load 0 after.

// kubec2's target tracking at a 2 s interval (policies.cpp's scaled()).
TargetTrackingTuning everyTwoSeconds() {
  TargetTrackingTuning t = kKubec2TargetTracking;
  t.scaleInAfter = 40s;
  t.trendWindow = 80s;
  t.trendRecentWindow = 24s;
  t.interval = 2s;
  return t;
}

GroupState seven() {
  auto g = group(7);
  g.minSize = 2;
  return g;
}

// The memory of 60 s of evaluations every 2 s at `cpuPercent`, the last at
// `end`; none of them scales.
PolicyMemory evaluatedUntil(TimePoint end, double cpuPercent) {
  PolicyMemory m;
  for (auto now = end - 60s; now <= end; now += 2s) {
    const auto d = decideTargetTracking("cpu-60", cpu(60), at(now, cpuPercent), seven(), m, now,
                                        everyTwoSeconds());
    EXPECT_EQ(d.wanted, 7) << "before the gap";
    m = d.memory;
  }
  return m;
}

TEST(ScalingGap, IsMoreThanThreeIntervalsSinceTheLastEvaluationOrAClockSetBack) {
  PolicyMemory m;
  EXPECT_FALSE(unobservedGap(m, t0, 2s));  // a policy seen for the first time
  m.lastEvaluation = t0;
  EXPECT_FALSE(unobservedGap(m, t0 + 2s, 2s));
  EXPECT_FALSE(unobservedGap(m, t0 + 6s, 2s));  // late, not a gap
  EXPECT_TRUE(unobservedGap(m, t0 + 7s, 2s));
  EXPECT_TRUE(unobservedGap(m, t0 + 70s, 2s));
  EXPECT_TRUE(unobservedGap(m, t0 - 1s, 2s));
  EXPECT_FALSE(unobservedGap(m, t0 + 1h, 0s));  // no interval: no rule
}

TEST(ScalingGap, AfterARestartScaleInWaitsItsWholeWindowOnLoadsItSaw) {
  // 52 % keeps 7 (6.07 instances' load); 45 % had started a wait toward 6
  // 20 s before the operator died. Either way the wait starts again at
  // the first evaluation after the 70 s gap, and runs 40 s on loads seen.
  for (const double before : {52.0, 45.0}) {
    const TimePoint died = t0;
    // (At 45 % from the start, as the peak of a window holding 52 % would
    // keep 7.)
    PolicyMemory m = before < 50 ? PolicyMemory{} : evaluatedUntil(died - 20s, 52);
    for (auto now = died - 18s; now <= died; now += 2s) {
      const auto d = decideTargetTracking("cpu-60", cpu(60), at(now, before), seven(), m, now,
                                          everyTwoSeconds());
      ASSERT_EQ(d.wanted, 7);
      m = d.memory;
    }
    // At 45 % a wait toward scale-in was running when the operator died.
    EXPECT_EQ(m.belowSince.has_value(), before < 50);
    const TimePoint restarted = died + 70s;
    Decision d;
    for (auto now = restarted; now < restarted + 40s; now += 2s) {
      d = decideTargetTracking("cpu-60", cpu(60), at(now, 0), seven(), m, now, everyTwoSeconds());
      m = d.memory;
      EXPECT_FALSE(d.scaleIn) << "before " << before << ", " << (now - restarted).count()
                              << " after the restart: " << d.cause;
      EXPECT_EQ(d.wanted, 7);
    }
    d = decideTargetTracking("cpu-60", cpu(60), at(restarted + 40s, 0), seven(), m, restarted + 40s,
                             everyTwoSeconds());
    EXPECT_TRUE(d.scaleIn);
    EXPECT_EQ(d.wanted, 1);  // the peak of the 40 s it saw: 0
    EXPECT_EQ(d.cause, "target tracking cpu-60: average CPU 0% below target 60% for 40 s, 7 -> 1");
    EXPECT_EQ(combine({d}, seven()).desired, 2);
  }
}

TEST(ScalingGap, AGapThenHighLoadScalesOutAtOnce) {
  PolicyMemory m = evaluatedUntil(t0, 52);
  const auto d = decideTargetTracking("cpu-60", cpu(60), at(t0 + 70s, 100), seven(), m, t0 + 70s,
                                      everyTwoSeconds());
  ASSERT_TRUE(d.wanted);
  EXPECT_EQ(*d.wanted, 15);  // 7 x 100 / 60 x 1.25 (saturated), as for a policy without memory
  EXPECT_EQ(d.status.reason, "ScalingOut");
  EXPECT_EQ(combine({d}, seven()).desired, 15);
}

TEST(ScalingGap, WithoutAGapDecisionsAreThoseWithoutTheRule) {
  // The load drops from 52 % to 0 after t0; one evaluation comes 3
  // intervals late (not a gap). The same decisions as without the gap
  // rule (interval 0), at every evaluation.
  auto noRule = everyTwoSeconds();
  noRule.interval = 0s;
  PolicyMemory m = evaluatedUntil(t0, 52);
  PolicyMemory old = m;
  std::optional<Seconds> scaledInAfter;
  for (auto now = t0 + 2s; now <= t0 + 120s && !scaledInAfter; now += 2s) {
    if (now == t0 + 10s) now += 4s;  // t0 + 8 s, then t0 + 14 s
    const auto d =
        decideTargetTracking("cpu-60", cpu(60), at(now, 0), seven(), m, now, everyTwoSeconds());
    const auto o = decideTargetTracking("cpu-60", cpu(60), at(now, 0), seven(), old, now, noRule);
    EXPECT_EQ(d.wanted, o.wanted);
    EXPECT_EQ(d.scaleIn, o.scaleIn);
    EXPECT_EQ(d.cause, o.cause);
    EXPECT_EQ(d.memory, o.memory);
    m = d.memory;
    old = o.memory;
    if (d.scaleIn) scaledInAfter = std::chrono::duration_cast<Seconds>(now - t0);
  }
  // The window at 40 s still holds t0's load (7 instances' worth): the
  // wait starts again there and scale-in comes 40 s later.
  EXPECT_EQ(scaledInAfter, 80s);
}

TEST(ScalingGap, HoldingWithoutAnInstanceToMeasureEndsTheWaitTowardScaleIn) {
  Decision d = decideTargetTracking("cpu-60", cpu(60), at(t0 + 2s, 10), seven(), {}, t0 + 2s,
                                    everyTwoSeconds());
  ASSERT_EQ(d.memory.belowSince, t0 + 2s);  // a wait toward 2 instances starts
  auto none = seven();
  none.inService = 0;
  for (auto now = t0 + 4s; now <= t0 + 60s; now += 2s) {
    d = decideTargetTracking("cpu-60", cpu(60), at(now, 10), none, d.memory, now,
                             everyTwoSeconds());
    EXPECT_TRUE(d.holds);
  }
  // In service again, at low load: a fresh 40 s wait, not 60 s already.
  d = decideTargetTracking("cpu-60", cpu(60), at(t0 + 62s, 10), seven(), d.memory, t0 + 62s,
                           everyTwoSeconds());
  EXPECT_FALSE(d.scaleIn) << d.cause;
  EXPECT_EQ(d.memory.belowSince, t0 + 60s);
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
