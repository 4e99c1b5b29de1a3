// The ElasticIP controller's wiring: what it watches (ElasticIPs, the
// Instances they name, the Service and EndpointSlice each owns). The
// decisions are reconcilers/elasticip/plan.h's; the writes the common
// executor's. docs/elastic-ips.md describes the behaviour.
#pragma once

#include <string>

#include "runtime/events.h"
#include "runtime/manager.h"

namespace kubec2::controllers {

// Registers the informers and the controller with `mgr` (before run()).
// Asks discovery once (ElasticIPs served; EndpointSlices v1 or v1beta1):
// throws kube::ApiError when the API server cannot answer. When the
// elasticips CRD is not installed (an operator upgraded before its CRDs),
// logs a warning and registers nothing, so the other controllers run. `events` must outlive the
// manager's run().
void addElasticIPController(kube::Manager& mgr, kube::Recorder& events,
                            const std::string& fieldManager = "kubec2-elasticip");

}  // namespace kubec2::controllers
