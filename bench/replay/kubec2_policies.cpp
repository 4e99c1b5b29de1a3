// kubec2's policies in the replay: the decision functions of
// reconcilers/scaling/ called as the ScalingGroup controller calls them,
// with the samples of each evaluation period, the group's counts and the
// memory the previous evaluation returned.
#include <chrono>

#include "bench/replay/simulator.h"
#include "reconcilers/scaling/combine.h"
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

sc::GroupState groupOf(const View& v) {
  return sc::GroupState{.inService = v.inService,
                        .warming = v.warming,
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
    spec_.predefinedMetric = "ASGAverageCPUUtilization";
    spec_.targetValue = 50;
  }
  std::string name() const override { return name_; }
  int intervalSeconds() const override { return interval_; }
  std::int64_t evaluate(const View& v) override {
    const auto group = groupOf(v);
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

}  // namespace

std::unique_ptr<Autoscaler> makeKubec2TargetTracking(int intervalSeconds) {
  return std::make_unique<TargetTracking>(intervalSeconds, sc::kKubec2TargetTracking,
                                          "kubec2-target-tracking");
}
std::unique_ptr<Autoscaler> makeKubec2Ec2TargetTracking() {
  return std::make_unique<TargetTracking>(60, sc::kEc2TargetTracking, "kubec2-target-tracking-ec2");
}

}  // namespace kubec2::replay
