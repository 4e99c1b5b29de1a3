// kubec2's policies in the replay: the decision functions of
// reconcilers/scaling/ called as the ScalingGroup controller calls them,
// with the samples of each evaluation period, the group's counts and the
// memory the previous evaluation returned.
#include <algorithm>
#include <chrono>

#include "bench/replay/simulator.h"
#include "reconcilers/scaling/combine.h"
#include "reconcilers/scaling/predictive.h"
#include "reconcilers/scaling/target_tracking.h"

namespace kubec2::replay {
namespace {

namespace sc = kubec2::reconcilers::scaling;
namespace v1 = kubec2::api::v1alpha1;

sc::TimePoint timeOf(std::size_t step) {
  // Monday 2024-01-01 00:00:00 UTC plus the step.
  return sc::TimePoint{
      std::chrono::seconds{1704067200 + static_cast<long long>(step) * kStepSeconds}};
}

// The group as the ScalingGroup controller counts it: an instance is in
// service for the policies (and in their metric) only once it has been in
// service for a whole evaluation period (the controller: its warmup and a
// whole rate() window, policies.cpp); until then it counts as warming. The
// period's samples then all come from instances that served the whole of
// it, as the controller's do, and are not read as if the instances that
// joined late had carried the period's load too.
sc::GroupState groupOf(const View& v, int seconds) {
  const std::size_t n = static_cast<std::size_t>(seconds / kStepSeconds);
  const std::size_t from = v.step + 1 >= n ? v.step + 1 - n : 0;
  std::int64_t whole = v.inService;
  for (std::size_t i = from; i <= v.step; ++i) whole = std::min(whole, v.inServiceAt[i]);
  return sc::GroupState{.inService = whole,
                        .warming = v.desired - whole,
                        .desired = v.desired,
                        .minSize = v.model.minSize,
                        .maxSize = v.model.maxSize,
                        .timeToInService = sc::Seconds{v.model.bootSeconds}};
}

// The CPU samples of the period ending at the current step.
sc::Metric cpuSamples(const View& v, int seconds) {
  std::vector<sc::Sample> s;
  const std::size_t n = static_cast<std::size_t>(seconds / kStepSeconds);
  const std::size_t from = v.step + 1 >= n ? v.step + 1 - n : 0;
  for (std::size_t i = from; i <= v.step; ++i) s.push_back({timeOf(i), v.cpuPercent[i]});
  return sc::Metric::of(std::move(s));
}

class TargetTracking final : public Autoscaler {
 public:
  TargetTracking(int interval, sc::TargetTrackingTuning tuning, std::string name)
      : interval_(interval), tuning_(tuning), name_(std::move(name)) {
    tuning_.interval = sc::Seconds{interval};  // evaluated every interval: never a gap
    spec_.predefinedMetric = "ASGAverageCPUUtilization";
    spec_.targetValue = 50;
  }
  std::string name() const override { return name_; }
  int intervalSeconds() const override { return interval_; }
  std::int64_t evaluate(const View& v) override {
    const auto group = groupOf(v, interval_);
    auto d = sc::decideTargetTracking("cpu-50", spec_, cpuSamples(v, interval_), group, memory_,
                                      timeOf(v.step), tuning_);
    memory_ = d.memory;
    const auto c = sc::combine({d}, group);
    return c.desired;
  }

 private:
  int interval_;
  sc::TargetTrackingTuning tuning_;
  std::string name_;
  v1::TargetTrackingScaling spec_;
  sc::PolicyMemory memory_;
};

// Predictive scaling (ForecastAndScale, schedulingBufferSeconds 120: the
// 90 s boot and a margin) beside kubec2's target tracking, combined as the
// controller combines them. The load's history is what a range query with
// a one-minute step returns: each minute's mean vCPU use (what the group
// served, so never above its capacity).
class Predictive final : public Autoscaler {
 public:
  explicit Predictive(int interval) : interval_(interval) {
    ttTuning_.interval = sc::Seconds{interval};
    tt_.predefinedMetric = "ASGAverageCPUUtilization";
    tt_.targetValue = 50;
    spec_.predefinedMetricPair = "ASGCPUUtilization";
    spec_.targetValue = 50;
    spec_.mode = "ForecastAndScale";
    spec_.schedulingBufferSeconds = 120;
  }
  std::string name() const override { return "kubec2-predictive"; }
  int intervalSeconds() const override { return interval_; }
  std::int64_t evaluate(const View& v) override {
    const auto group = groupOf(v, interval_);
    const auto now = timeOf(v.step);
    constexpr std::size_t perMinute = 60 / kStepSeconds;
    while ((minutes_.size() + 1) * perMinute <= v.step + 1) {
      const std::size_t from = minutes_.size() * perMinute;
      double sum = 0;
      for (std::size_t i = from; i < from + perMinute; ++i) sum += v.usageVcpu[i];
      minutes_.push_back({timeOf(from + perMinute - 1), sum / perMinute});
    }
    sc::Metric history;
    if (sc::forecastDue(predictiveMemory_, now)) {
      const std::size_t keep = 14 * 24 * 60;
      const std::size_t from = minutes_.size() > keep ? minutes_.size() - keep : 0;
      history = sc::Metric::of({minutes_.begin() + static_cast<long>(from), minutes_.end()});
    }
    const double perInstance = v.model.vcpuPerInstance * spec_.targetValue / 100.0;
    auto p = sc::decidePredictive("forecast", spec_, history, perInstance, group, predictiveMemory_,
                                  now);
    predictiveMemory_ = p.memory;
    auto t = sc::decideTargetTracking("cpu-50", tt_, cpuSamples(v, interval_), group, ttMemory_,
                                      now, ttTuning_);
    ttMemory_ = t.memory;
    return sc::combine({t, p}, group).desired;
  }

 private:
  int interval_;
  v1::TargetTrackingScaling tt_;
  sc::TargetTrackingTuning ttTuning_ = sc::kKubec2TargetTracking;
  v1::PredictiveScaling spec_;
  sc::PolicyMemory ttMemory_, predictiveMemory_;
  std::vector<sc::Sample> minutes_;
};

}  // namespace

std::unique_ptr<Autoscaler> makeKubec2Predictive(int intervalSeconds) {
  return std::make_unique<Predictive>(intervalSeconds);
}

std::unique_ptr<Autoscaler> makeKubec2TargetTracking(int intervalSeconds) {
  return std::make_unique<TargetTracking>(intervalSeconds, sc::kKubec2TargetTracking,
                                          "kubec2-target-tracking");
}
}  // namespace kubec2::replay
