// The Instance controller's wiring: what it watches, how events become keys,
// and how the observation for reconcilers/instance/plan.h is gathered (the
// informer caches, plus the Secrets and claims the plan asks for, which are
// not watched). The plan is written by the common executor
// (controllers/common/executor.h). docs/instances.md describes the behaviour.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "controllers/common/deregistration.h"
#include "controllers/common/instance_type_catalog.h"
#include "runtime/events.h"
#include "runtime/manager.h"

namespace kubec2::controllers {

struct InstanceControllerOptions {
  // How long a terminated Instance stays visible before its finalizer goes.
  std::chrono::seconds terminatedRetention{60};
  // The field manager of everything the operator applies.
  std::string fieldManager = "kubec2-instance";
  // How often discovery is asked whether KubeVirt is installed, while it is not.
  std::chrono::milliseconds kubevirtDiscoveryPeriod{30000};
  // Whether a terminating instance is still a load balancer target that
  // drains (controllers/loadbalancer): its VM keeps running until then.
  // Empty: no load balancers.
  DeregistrationLookup deregistration{};
};

// Registers the informers and the controller with `mgr` (before run()).
// `events` must outlive the manager's run().
void addInstanceControllers(kube::Manager& mgr, kube::Recorder& events,
                            std::shared_ptr<InstanceTypeCatalogSource> catalog,
                            const InstanceControllerOptions& opts);

}  // namespace kubec2::controllers
