#include "bench/replay/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>

namespace kubec2::replay {

Result replay(const Trace& trace, const Model& model, Autoscaler& scaler) {
  Result r;
  r.policy = scaler.name();
  const int boot = model.bootSeconds;
  const double perInstanceAtTarget = model.vcpuPerInstance * model.targetPercent / 100.0;
  auto neededFor = [&](double demand) {
    return static_cast<std::int64_t>(std::ceil(demand / perInstanceAtTarget - 1e-9));
  };
  // Launch times in seconds, oldest first; all start in service.
  std::deque<std::int64_t> launched;
  const std::int64_t start = std::clamp(neededFor(trace.demand.empty() ? 0 : trace.demand[0]),
                                        model.minSize, model.maxSize);
  for (std::int64_t i = 0; i < start; ++i) launched.push_back(-boot);

  std::vector<double> cpu, usage;
  std::vector<std::int64_t> inServiceAt;
  cpu.reserve(trace.demand.size());
  usage.reserve(trace.demand.size());
  inServiceAt.reserve(trace.demand.size());
  const int interval = scaler.intervalSeconds();
  double instanceSeconds = 0;
  for (std::size_t i = 0; i < trace.demand.size(); ++i) {
    const std::int64_t t = static_cast<std::int64_t>(i) * kStepSeconds;
    const double demand = trace.demand[i];
    std::int64_t inService = 0;
    for (const auto l : launched) inService += (t - l >= boot) ? 1 : 0;
    const std::int64_t total = static_cast<std::int64_t>(launched.size());
    const double capacityVcpu = model.vcpuPerInstance * static_cast<double>(inService);
    cpu.push_back(inService > 0 ? std::min(100.0, demand / capacityVcpu * 100.0) : 100.0);
    usage.push_back(std::min(demand, capacityVcpu));
    inServiceAt.push_back(inService);
    r.underProvisionedCapacitySeconds +=
        static_cast<double>(std::max<std::int64_t>(0, neededFor(demand) - inService)) *
        kStepSeconds;
    instanceSeconds += static_cast<double>(total) * kStepSeconds;

    if (i == 0 || t % interval != 0) continue;
    const View view{model, i, cpu, usage, inServiceAt, inService, total - inService, total};
    const std::int64_t wanted = std::clamp(scaler.evaluate(view), model.minSize, model.maxSize);
    if (wanted == total) continue;
    ++r.actions;
    if (wanted > total) {
      for (std::int64_t k = total; k < wanted; ++k) launched.push_back(t);
    } else {
      // Scale-in takes the newest first: those still warming, as EC2's
      // default termination policy prefers instances not yet in service.
      for (std::int64_t k = wanted; k < total; ++k) launched.pop_back();
    }
  }
  r.instanceHours = instanceSeconds / 3600.0;
  return r;
}

namespace {

// The mean CPU over the last `seconds` up to the current step.
double meanCpu(const View& v, int seconds) {
  const std::size_t n = static_cast<std::size_t>(seconds / kStepSeconds);
  const std::size_t from = v.step + 1 >= n ? v.step + 1 - n : 0;
  double s = 0;
  for (std::size_t i = from; i <= v.step; ++i) s += v.cpuPercent[i];
  return s / static_cast<double>(v.step + 1 - from);
}

// The Kubernetes HPA (kubernetes/pkg/controller/podautoscaler, autoscaling/v2
// defaults): sync every 15 s; the pods' CPU as metrics-server reports it
// with its default --metric-resolution of 60 s (the mean of the last
// minute); ratio = average utilisation of ready pods / target; within 10 % tolerance nothing
// changes, else ceil(ratio x ready). Pods not yet ready count as 0 % when scaling up (and the
// answer never goes below the current count), and are ignored when scaling down. Scale down is
// stabilised over 300 s (the highest recommendation in the window); scale up is limited per 15 s to
// max(100 %, 4 pods) more.
class Hpa final : public Autoscaler {
 public:
  std::string name() const override { return "hpa"; }
  int intervalSeconds() const override { return 15; }
  std::int64_t evaluate(const View& v) override {
    const double target = v.model.targetPercent;
    const double t = static_cast<double>(v.step) * kStepSeconds;
    const auto current = v.desired;
    std::int64_t rec = current;
    if (v.inService > 0) {
      const double util = meanCpu(v, kMetricWindow);
      const double ratio = util / target;
      const auto ready = static_cast<double>(v.inService);
      if (v.warming > 0 && ratio > 1.0) {
        const double newRatio = util * ready / (target * (ready + static_cast<double>(v.warming)));
        if (std::fabs(1.0 - newRatio) > kTolerance && newRatio > 1.0) {
          rec = std::max(current, static_cast<std::int64_t>(std::ceil(
                                      newRatio * (ready + static_cast<double>(v.warming)))));
        }
      } else if (std::fabs(1.0 - ratio) > kTolerance) {
        rec = static_cast<std::int64_t>(std::ceil(ratio * ready));
      }
    }
    rec = std::clamp(rec, v.model.minSize, v.model.maxSize);
    recs_.push_back({t, rec});
    while (!recs_.empty() && recs_.front().first < t - kDownWindow) recs_.pop_front();
    std::int64_t downRec = rec;
    for (const auto& [when, r] : recs_) downRec = std::max(downRec, r);
    std::int64_t out = current;
    if (rec > current) {
      out = std::min(rec, std::max(current * 2, current + 4));
    } else if (downRec < current) {
      out = downRec;
    }
    return out;
  }

 private:
  static constexpr int kMetricWindow = 60;
  static constexpr double kTolerance = 0.1;
  static constexpr double kDownWindow = 300;
  std::deque<std::pair<double, std::int64_t>> recs_;
};

// AWS target tracking (EC2 Auto Scaling with CloudWatch one-minute
// metrics): the group's average CPU per minute; a high alarm after 3
// consecutive minutes above the target, a low alarm after 15 below 90 %
// of it. While an alarm is in ALARM the policy runs every minute:
// capacity = ceil(in-service x metric / target), raised only above the
// capacity in force (warming instances count toward it) or lowered below
// it.
class AwsTargetTracking final : public Autoscaler {
 public:
  std::string name() const override { return "aws-target-tracking"; }
  int intervalSeconds() const override { return 60; }
  std::int64_t evaluate(const View& v) override {
    const double target = v.model.targetPercent;
    const double m = meanCpu(v, 60);
    above_ = m > target ? above_ + 1 : 0;
    below_ = m < 0.9 * target ? below_ + 1 : 0;
    if (v.inService == 0) return v.desired;
    const auto wanted =
        static_cast<std::int64_t>(std::ceil(static_cast<double>(v.inService) * m / target - 1e-9));
    if (above_ >= 3 && wanted > v.desired) return wanted;
    if (below_ >= 15 && wanted < v.desired && v.warming == 0) return wanted;
    return v.desired;
  }

 private:
  int above_ = 0, below_ = 0;
};

}  // namespace

std::unique_ptr<Autoscaler> makeHpa() {
  return std::make_unique<Hpa>();
}
std::unique_ptr<Autoscaler> makeAwsTargetTracking() {
  return std::make_unique<AwsTargetTracking>();
}

}  // namespace kubec2::replay
