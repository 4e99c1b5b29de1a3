// The replay model and the autoscalers replayed through it.
//
// Model (issue 12): 2-vCPU instances, target 50 % CPU, 90 s from launch
// to in service, min 2, max 200. Every 5 s step: demand d; in-service
// instances n; the metric every autoscaler sees is the average CPU
// utilisation over in-service instances, min(100, d / (2 n) x 100) (an
// instance saturates at 100 %); the usage a load metric sees is
// min(d, 2 n) vCPU. Capacity needed: ceil(d / (2 x 50 %)).
// Figures per policy: under-provisioned capacity-seconds (sum over steps
// of max(0, needed - n) x 5), instance-hours (every instance from its
// launch to its termination, warming ones included) and scaling actions
// (changes of the desired capacity).
//
// Time is simulated: step i is t = i x 5 s from an arbitrary Monday 00:00
// UTC; nothing waits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/replay/traces.h"

namespace kubec2::replay {

struct Model {
  double vcpuPerInstance = 2;
  double targetPercent = 50;
  int bootSeconds = 90;
  std::int64_t minSize = 2;
  std::int64_t maxSize = 200;
};

// What an autoscaler may look at when it runs: the metrics so far (one
// value per 5 s step, up to and including the current one) and the group.
struct View {
  const Model& model;
  std::size_t step = 0;                          // the current step; t = step x 5 s
  const std::vector<double>& cpuPercent;         // average CPU over in-service instances
  const std::vector<double>& usageVcpu;          // total vCPU in use (what a load metric sees)
  const std::vector<std::int64_t>& inServiceAt;  // in-service instances at each step
  std::int64_t inService = 0;
  std::int64_t warming = 0;
  std::int64_t desired = 0;
};

class Autoscaler {
 public:
  virtual ~Autoscaler() = default;
  virtual std::string name() const = 0;
  virtual int intervalSeconds() const = 0;
  // The desired capacity after this evaluation (the same to change nothing).
  virtual std::int64_t evaluate(const View& view) = 0;
};

struct Result {
  std::string policy;
  double underProvisionedCapacitySeconds = 0;
  double instanceHours = 0;
  std::int64_t actions = 0;
};

Result replay(const Trace& trace, const Model& model, Autoscaler& scaler);

// The baselines, from their published behaviour (simulator.cpp says what).
std::unique_ptr<Autoscaler> makeHpa();
std::unique_ptr<Autoscaler> makeAwsTargetTracking();
// kubec2's policies through reconcilers/scaling/.
std::unique_ptr<Autoscaler> makeKubec2TargetTracking(int intervalSeconds);
std::unique_ptr<Autoscaler> makeKubec2Predictive(int intervalSeconds);

}  // namespace kubec2::replay
