#include "runtime/metrics.h"

#include <mutex>

namespace kube::metrics {
namespace {

// client-go's and controller-runtime's bucket layouts.
const prometheus::Histogram::BucketBoundaries& latencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.005, 0.025, 0.1, 0.25, 0.5,  1.0,
                                                         2.0,   4.0,   8.0, 15.0, 30.0, 60.0};
  return b;
}
const prometheus::Histogram::BucketBoundaries& queueBuckets() {
  // 1e-8 .. 1e+1 in powers of ten, as client-go's workqueue metrics.
  static const prometheus::Histogram::BucketBoundaries b{1e-8, 1e-7, 1e-6, 1e-5, 1e-4,
                                                         1e-3, 1e-2, 1e-1, 1.0,  10.0};
  return b;
}
const prometheus::Histogram::BucketBoundaries& reconcileBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{
      0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
      0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
      6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
  return b;
}

struct Families {
  std::shared_ptr<prometheus::Registry> reg = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& restRequests =
      prometheus::BuildCounter()
          .Name("rest_client_requests_total")
          .Help("Number of HTTP requests, partitioned by status code and method.")
          .Register(*reg);
  prometheus::Family<prometheus::Histogram>& restLatency =
      prometheus::BuildHistogram()
          .Name("rest_client_request_duration_seconds")
          .Help("Request latency in seconds, by verb.")
          .Register(*reg);
  prometheus::Family<prometheus::Gauge>& wqDepth = prometheus::BuildGauge()
                                                       .Name("workqueue_depth")
                                                       .Help("Current depth of workqueue")
                                                       .Register(*reg);
  prometheus::Family<prometheus::Counter>& wqAdds =
      prometheus::BuildCounter()
          .Name("workqueue_adds_total")
          .Help("Total number of adds handled by workqueue")
          .Register(*reg);
  prometheus::Family<prometheus::Histogram>& wqQueueDuration =
      prometheus::BuildHistogram()
          .Name("workqueue_queue_duration_seconds")
          .Help("How long in seconds an item stays in workqueue before being requested")
          .Register(*reg);
  prometheus::Family<prometheus::Histogram>& wqWorkDuration =
      prometheus::BuildHistogram()
          .Name("workqueue_work_duration_seconds")
          .Help("How long in seconds processing an item from workqueue takes.")
          .Register(*reg);
  prometheus::Family<prometheus::Counter>& wqRetries =
      prometheus::BuildCounter()
          .Name("workqueue_retries_total")
          .Help("Total number of retries handled by workqueue")
          .Register(*reg);
  prometheus::Family<prometheus::Gauge>& wqUnfinished =
      prometheus::BuildGauge()
          .Name("workqueue_unfinished_work_seconds")
          .Help(
              "How many seconds of work has been done that is in progress and hasn't been observed "
              "by work_duration.")
          .Register(*reg);
  prometheus::Family<prometheus::Gauge>& wqLongest =
      prometheus::BuildGauge()
          .Name("workqueue_longest_running_processor_seconds")
          .Help("How many seconds has the longest running processor for workqueue been running.")
          .Register(*reg);
  prometheus::Family<prometheus::Counter>& reconcileTotal =
      prometheus::BuildCounter()
          .Name("controller_runtime_reconcile_total")
          .Help("Total number of reconciliations per controller")
          .Register(*reg);
  prometheus::Family<prometheus::Counter>& reconcileErrors =
      prometheus::BuildCounter()
          .Name("controller_runtime_reconcile_errors_total")
          .Help("Total number of reconciliation errors per controller")
          .Register(*reg);
  prometheus::Family<prometheus::Histogram>& reconcileTime =
      prometheus::BuildHistogram()
          .Name("controller_runtime_reconcile_time_seconds")
          .Help("Length of time per reconciliation per controller")
          .Register(*reg);
  prometheus::Family<prometheus::Gauge>& activeWorkers =
      prometheus::BuildGauge()
          .Name("controller_runtime_active_workers")
          .Help("Number of currently used workers per controller")
          .Register(*reg);
  prometheus::Family<prometheus::Gauge>& maxConcurrent =
      prometheus::BuildGauge()
          .Name("controller_runtime_max_concurrent_reconciles")
          .Help("Maximum number of concurrent reconciles per controller")
          .Register(*reg);
  prometheus::Family<prometheus::Gauge>& leader =
      prometheus::BuildGauge()
          .Name("leader_election_master_status")
          .Help(
              "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
              "backup, 1 indicates master.")
          .Register(*reg);
};

Families& families() {
  static Families f;
  return f;
}

}  // namespace

std::shared_ptr<prometheus::Registry> registry() {
  return families().reg;
}

prometheus::Counter& restRequests(const std::string& code, const std::string& method) {
  return families().restRequests.Add({{"code", code}, {"method", method}});
}

prometheus::Histogram& restLatency(const std::string& method) {
  return families().restLatency.Add({{"verb", method}}, latencyBuckets());
}

WorkqueueMetrics workqueue(const std::string& name) {
  auto& f = families();
  const prometheus::Labels l{{"name", name}};
  return {&f.wqDepth.Add(l),
          &f.wqAdds.Add(l),
          &f.wqQueueDuration.Add(l, queueBuckets()),
          &f.wqWorkDuration.Add(l, queueBuckets()),
          &f.wqRetries.Add(l),
          &f.wqUnfinished.Add(l),
          &f.wqLongest.Add(l)};
}

ReconcileMetrics reconcile(const std::string& name) {
  auto& f = families();
  auto result = [&](const char* r) -> prometheus::Counter* {
    return &f.reconcileTotal.Add({{"controller", name}, {"result", r}});
  };
  return {result("success"),
          result("error"),
          result("requeue"),
          result("requeue_after"),
          &f.reconcileErrors.Add({{"controller", name}}),
          &f.reconcileTime.Add({{"controller", name}}, reconcileBuckets()),
          &f.activeWorkers.Add({{"controller", name}}),
          &f.maxConcurrent.Add({{"controller", name}})};
}

prometheus::Gauge& leaderStatus(const std::string& name) {
  return families().leader.Add({{"name", name}});
}

}  // namespace kube::metrics
