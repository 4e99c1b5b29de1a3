// The Snapshot controller's wiring: what it watches (Snapshots, the
// Instances they copy, the VolumeSnapshots each owns). The decisions are
// reconcilers/snapshot/plan.h's; the writes the common executor's.
// docs/snapshots.md describes the behaviour.
#pragma once

#include <chrono>
#include <string>

#include "runtime/events.h"
#include "runtime/manager.h"

namespace kubec2::controllers {

struct SnapshotControllerOptions {
  std::string fieldManager = "kubec2-snapshot";
  // How often discovery is asked whether VolumeSnapshots are served, while
  // they are not (the CSI external-snapshotter installed later).
  std::chrono::milliseconds discoveryPeriod{30000};
};

// Registers the informers and the controller with `mgr` (before run()).
// Asks discovery once whether Snapshots are served: throws kube::ApiError
// when the API server cannot answer. When the snapshots CRD is not
// installed (an operator upgraded before its CRDs), logs a warning and
// registers nothing, so the other controllers run. `events` must outlive
// the manager's run().
void addSnapshotController(kube::Manager& mgr, kube::Recorder& events,
                           const SnapshotControllerOptions& opts = {});

}  // namespace kubec2::controllers
