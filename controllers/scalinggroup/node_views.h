// The nodes as a ScalingGroup's plan sees them (reconcilers/scalinggroup/
// selection.h NodeView: zone, schedulable), kept up to date from the node
// informer's events. A node's JSON is read once per change, not once per
// group reconcile, and the groups need a look only when a view changes: a
// kubelet (and the KubeVirt simulator) writes every node's heartbeat every
// 10 s, which changes neither the zone nor whether the node takes new VMs;
// with 1,000 groups each heartbeat would otherwise cost 1,000 reconciles
// (docs/benchmarks.md, "Scaling policy cost", run 4).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "reconcilers/scalinggroup/selection.h"
#include "runtime/object.h"

namespace kubec2::controllers {

// A node's view: the topology.kubernetes.io/zone label ("" without one);
// schedulable when its Ready condition is True and spec.unschedulable is
// not set (kubectl cordon). Never throws on a node without status or spec.
reconcilers::NodeView nodeViewOf(const kube::RawObject& node);

// The views by node name. Thread-safe.
class NodeViews {
 public:
  // Sets node `name`'s view; true when it is new or differs from the one
  // held (the groups must look again), false for the same view.
  bool put(const std::string& name, const reconcilers::NodeView& view);
  // Drops node `name`; true when it was held.
  bool erase(const std::string& name);
  // Every view held, by node name.
  std::vector<reconcilers::NodeView> list() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, reconcilers::NodeView> views_;
};

}  // namespace kubec2::controllers
