// The executor's Prometheus metrics, in the operator's one registry
// (runtime/metrics.h).
#pragma once

#include <string>

#include <prometheus/counter.h>

namespace kubec2::controllers::metrics {

// kubec2_writes_total{action, resource}: writes the executor made that the
// API server accepted, by plan action (apply, delete, release, status,
// finalizer) and resource ("virtualmachines.kubevirt.io"). A steady cluster
// adds nothing here: a rate that does not fall to zero is a reconcile that
// never converges.
prometheus::Counter& writes(const std::string& action, const std::string& resource);

}  // namespace kubec2::controllers::metrics
