// What a group's scaling policies measure, and how: the PromQL that serves
// every group of a namespace with one query per metric (1,000 groups do not
// mean 1,000 queries an interval), and each group's value computed from the
// answer over the group's in-service instances only (not pending, not
// warming up, not terminating: EC2's ASGAverageCPUUtilization counts
// in-service instances). Pure.
//
// The metrics are KubeVirt's, per VMI (../shared/kubevirt/README.md; the
// simulator exports the same): kubevirt_vmi_cpu_usage_seconds_total and
// kubevirt_vmi_network_{receive,transmit}_bytes_total, labelled with the
// VMI's namespace and name (a VMI is named after its Instance) and
// kubernetes_vmi_label_compute_kubec2_io_scaling_group from the Instance's
// group label. Request counts (ALBRequestCountPerTarget, ALBRequestCount)
// come from a per-VMI request counter labelled the same way, whose name
// the operator is given (--request-count-metric; the simulator's is
// kubec2_sim_http_requests_total): KubeVirt has none, and which server
// counts requests is the cluster's choice (docs/scaling-policies.md,
// "Request counts").
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

// A per-instance metric, with CloudWatch's names and units.
enum class InstanceMetric {
  CPUUtilization,        // percent of the instance's vCPUs in use, 0..100
  NetworkIn,             // bytes received per minute
  NetworkOut,            // bytes sent per minute
  RequestCountPerTarget  // requests per minute through a LoadBalancer
};
std::string_view toString(InstanceMetric m);

enum class Aggregation { Average, Minimum, Maximum };

// The metric a policy reads, resolved from its spec: a predefined one (a
// per-instance metric and how instances combine), or a custom query.
struct PolicyMetric {
  std::optional<InstanceMetric> predefined;
  Aggregation aggregation = Aggregation::Average;
  std::string resourceLabel;     // RequestCountPerTarget: the LoadBalancer's name
  std::string customQuery;       // set when the policy gives its own PromQL
  std::string describe() const;  // "ASGAverageCPUUtilization", "custom query"
};

// The metric of a TargetTracking or StepScaling policy; nullopt for a
// Predictive one or one without a metric (the webhook refuses those).
// ASGAverageX is X averaged; a step alarm's metricAggregationType picks
// Average (default), Minimum or Maximum.
std::optional<PolicyMetric> metricOf(const api::v1alpha1::ScalingPolicy& policy);

// The range window of rate() in the queries: at least two evaluation
// intervals and four scrape intervals, so a short interval (tests, the
// demo) still sees at least two samples of every series.
std::chrono::seconds queryWindow(std::chrono::seconds evaluationInterval,
                                 std::chrono::seconds scrapeInterval);

// One query for every group of namespace `ns`: the metric's raw rate per
// VMI of any scaling group, keyed by the label `name` (CPU seconds per
// second, bytes per second, requests per second). RequestCountPerTarget
// reads the counter named `requestCountMetric` (--request-count-metric, a
// Prometheus metric name: isMetricName); nullopt when it is empty (not
// configured).
std::optional<std::string> namespaceQuery(InstanceMetric m, const std::string& ns,
                                          std::chrono::seconds window,
                                          const std::string& requestCountMetric = {});

// Whether `name` is a Prometheus metric name, [a-zA-Z_:][a-zA-Z0-9_:]*
// (prometheus.io/docs/concepts/data_model), as --request-count-metric must
// be: it is put into queries as it is.
bool isMetricName(std::string_view name);

// A custom query with its placeholders filled: {{namespace}}, {{group}}
// and {{selector}} (the group's instances as a PromQL label matcher list,
// namespace="ns",kubernetes_vmi_label_compute_kubec2_io_scaling_group="web").
std::string expandCustomQuery(const std::string& query, const std::string& ns,
                              const std::string& group);

// The load a predictive policy forecasts, resolved from its spec: a
// predefined pair's per-VMI counter summed over the group (ASGCPUUtilization:
// vCPUs in use; ASGNetworkIn/Out: bytes per minute; ALBRequestCount:
// requests per minute, from --request-count-metric), or the custom loadQuery.
struct PredictiveLoad {
  std::optional<InstanceMetric> pair;  // unset: customQuery
  std::string customQuery;             // customMetric.loadQuery, placeholders not expanded
  bool scalingQuery = false;           // customMetric.scalingQuery is set (not supported)
  std::string describe() const;        // "ASGCPUUtilization load", "custom load query"
};

// The load of a Predictive policy; nullopt for other policies or one
// without a load (the webhook refuses those).
std::optional<PredictiveLoad> predictiveLoadOf(const api::v1alpha1::ScalingPolicy& policy);

// The history query of a predefined pair for every group of namespace
// `ns`: the load per group, keyed by the label groupLabel(), evaluated as a
// range query (rate over 5 minutes, the forecast's step). RequestCountPerTarget
// (the ALBRequestCount pair) reads `requestCountMetric` as namespaceQuery
// does; nullopt when it is empty (not configured).
std::optional<std::string> namespaceHistoryQuery(InstanceMetric m, const std::string& ns,
                                                 const std::string& requestCountMetric = {});

// The metric label holding an instance's scaling group:
// kubernetes_vmi_label_compute_kubec2_io_scaling_group.
std::string_view groupLabel();

// A predictive policy's load history from a range query, or why there is
// none (reason as MetricReading's: Prometheus<Reason>, NoSeries).
struct HistoryReading {
  std::vector<std::pair<std::chrono::system_clock::time_point, double>> samples;  // time order
  std::string reason;   // empty when samples hold the history
  std::string message;  // in words, when reason is set
};

// A value a policy can act on, or why there is none.
struct MetricReading {
  std::optional<double> value;
  // When value is absent: NoInServiceInstances, NoSeries, NotANumber, or a
  // query failure's reason as the caller gives it (PrometheusUnreachable ...).
  std::string reason;
  std::string message;  // in words, naming the metric and the cause
  int instancesMeasured = 0;
  // With a value: the oldest Prometheus timestamp among the samples it was
  // made from (an instant query's samples carry the time the server
  // evaluated it at), so a policy can tell an old answer (a stuck cache or
  // proxy in front of Prometheus) from a fresh one: MetricStale. Unset: the
  // evaluation's own time.
  std::optional<std::chrono::system_clock::time_point> sampleTime;
};

// An in-service instance as the metric needs it.
struct MeasuredInstance {
  std::string name;
  std::int64_t vCPU = 0;  // status.instanceType.vCPU; 0 unknown
};

// The group's value from the namespace query's raw per-VMI rates (by VMI
// name): per instance in the metric's unit, then combined over the
// in-service instances that have a sample. Instances without a sample are
// left out (just scraped, or not yet); none with one is NoSeries; a NaN or
// infinite sample is NotANumber (a policy holds on either).
MetricReading groupReading(const PolicyMetric& metric,
                           const std::map<std::string, double>& rawByInstance,
                           const std::vector<MeasuredInstance>& inService,
                           std::chrono::seconds window);

// A custom query's answer: exactly one finite sample, else NoSeries (none),
// NotANumber, or TooManySeries.
MetricReading customReading(const std::vector<double>& samples, const std::string& query);

}  // namespace kubec2::reconcilers
