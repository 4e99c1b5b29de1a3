// The LaunchTemplate controller's wiring: each template's status
// (reconcilers/launchtemplate/launch_template.h), written by the common
// executor.
#pragma once

#include <string>

#include "runtime/events.h"
#include "runtime/manager.h"

namespace kubec2::controllers {

// Registers the controller with `mgr` (before run()); `events` must outlive
// the manager's run().
void addLaunchTemplateController(kube::Manager& mgr, kube::Recorder& events,
                                 const std::string& fieldManager);

}  // namespace kubec2::controllers
