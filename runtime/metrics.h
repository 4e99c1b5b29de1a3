// The runtime's Prometheus metrics, named as controller-runtime and client-go
// name them so existing dashboards work: controller_runtime_reconcile_*,
// workqueue_*, rest_client_*. One process-wide registry, served on /metrics.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace kube::metrics {

std::shared_ptr<prometheus::Registry> registry();

// rest_client_requests_total{code,method,host}
prometheus::Counter& restRequests(const std::string& code, const std::string& method);
// rest_client_request_duration_seconds{verb}
prometheus::Histogram& restLatency(const std::string& method);

// workqueue_* for the queue named `name`.
struct WorkqueueMetrics {
  prometheus::Gauge* depth;
  prometheus::Counter* adds;
  prometheus::Histogram* queueDuration;
  prometheus::Histogram* workDuration;
  prometheus::Counter* retries;
  prometheus::Gauge* unfinishedWorkSeconds;
  prometheus::Gauge* longestRunningProcessorSeconds;
};
WorkqueueMetrics workqueue(const std::string& name);

// controller_runtime_reconcile_* for the controller named `name`.
struct ReconcileMetrics {
  prometheus::Counter* success;
  prometheus::Counter* error;
  prometheus::Counter* requeue;
  prometheus::Counter* requeueAfter;
  prometheus::Counter* errors;  // controller_runtime_reconcile_errors_total
  prometheus::Histogram* time;  // controller_runtime_reconcile_time_seconds
  prometheus::Gauge* activeWorkers;
  prometheus::Gauge* maxConcurrent;
};
ReconcileMetrics reconcile(const std::string& name);

// leader_election_master_status{name}
prometheus::Gauge& leaderStatus(const std::string& name);

}  // namespace kube::metrics
