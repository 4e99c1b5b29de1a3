// The ScalingGroup controller's wiring: what it watches (groups, their
// Instances, LaunchTemplates, Nodes for zones, LoadBalancers for target
// health), how Instance events lower the group's creations and deletions
// in flight (runtime/expectations.h, as the ReplicaSet controller), and the
// observation for reconcilers/scalinggroup/plan.h. The plan is written by
// the common executor. docs/scaling-groups.md describes the behaviour.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runtime/events.h"
#include "runtime/manager.h"
#include "runtime/prometheus_client.h"

namespace kubec2::controllers {

struct ScalingGroupControllerOptions {
  std::string fieldManager = "kubec2-scalinggroup";
  // Scaling policies' metrics: null when --prometheus-url is not given.
  std::shared_ptr<kube::prom::Client> prometheus;
  std::chrono::seconds evaluationInterval{60};  // --scaling-evaluation-interval
  std::chrono::seconds scrapeInterval{30};      // --prometheus-scrape-interval-seconds
  // --request-count-metric: the per-VMI request counter of request count
  // policies (a Prometheus metric name); empty: not configured.
  std::string requestCountMetric{};
  // --instance-start-timeout-seconds: the least time an instance still
  // launching gets before its group counts it as failing to start.
  std::chrono::seconds instanceStartTimeout{300};
};

// Registers the informers and the controller with `mgr` (before run()).
// `events` must outlive the manager's run().
void addScalingGroupController(kube::Manager& mgr, kube::Recorder& events,
                               const ScalingGroupControllerOptions& opts);

}  // namespace kubec2::controllers
