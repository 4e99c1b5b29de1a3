// The Instance and LaunchTemplate controllers: what they watch, how events
// become keys, how the observation for reconcilers/instance/plan.h is
// gathered and how its plan is written (server-side apply for the VM and
// the NetworkPolicy, merge patches for status, guarded JSON patches for the
// finalizer). docs/instances.md describes the behaviour.
#pragma once

#include <chrono>
#include <string>

#include "runtime/events.h"
#include "runtime/manager.h"

namespace kubec2::controllers {

struct InstanceControllerOptions {
  // The ConfigMap that adds or overrides instance types.
  std::string catalogNamespace;
  std::string catalogName = "kubec2-instance-types";
  // How long a terminated Instance stays visible before its finalizer goes.
  std::chrono::seconds terminatedRetention{60};
  // The field manager of everything the operator applies.
  std::string fieldManager = "kubec2-instance";
};

// Registers the informers and both controllers with `mgr` (before run()).
// `events` must outlive the manager's run().
void addInstanceControllers(kube::Manager& mgr, kube::Recorder& events,
                            const InstanceControllerOptions& opts);

}  // namespace kubec2::controllers
