// The scaling policies' metrics, read from Prometheus every evaluation
// interval (--scaling-evaluation-interval, CloudWatch's one-minute period by
// default) by a leader-only periodic runnable: one query per namespace and
// predefined metric serves every group there (reconcilers/scalinggroup/
// group_metrics.h), a custom metric costs one query per policy. Each group
// gets a reading per policy (a value, or why there is none: the query's
// failure, no series, NaN), kept in a store the ScalingGroup reconciler
// reads, and is enqueued. Predictive policies get the load's history when
// their forecast is due (hourly; evaluatePolicies below). Each pass is
// timed in kubec2_scaling_evaluation_duration_seconds. Without
// --prometheus-url nothing is queried and policies that need metrics
// report PrometheusNotConfigured; without --request-count-metric, request
// count policies get a reading RequestCountMetricNotConfigured and nothing
// is queried for them.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/v1alpha1/types.h"
#include "reconcilers/scalinggroup/group_metrics.h"
#include "reconcilers/scalinggroup/policies.h"
#include "runtime/controller.h"
#include "runtime/prometheus_client.h"

namespace kube {
class Manager;
template <typename T>
class Informer;
}  // namespace kube

namespace kubec2::controllers {

namespace v1 = kubec2::api::v1alpha1;

using GroupReadings = reconcilers::PolicyReadings;

// The latest readings per group key ("namespace/name"). Thread-safe.
// get() shares the readings (never changed once put) instead of copying
// them: every group reads its own once per evaluation.
class PolicyReadingsStore {
 public:
  void put(const std::string& key, GroupReadings r);
  // Null when the group has no readings.
  std::shared_ptr<const GroupReadings> get(const std::string& key) const;
  void erase(const std::string& key);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const GroupReadings>> readings_;
};

// Runs one PromQL instant query; throws kube::prom::QueryError.
using QueryFunction = std::function<kube::prom::QueryResult(const std::string& promql)>;

// Runs one PromQL range query from `start` to `end` (Unix seconds) at
// `step` seconds; throws kube::prom::QueryError.
using RangeQueryFunction = std::function<kube::prom::QueryResult(
    const std::string& promql, double start, double end, double step)>;

// One evaluation of every group given (their controlled Instances by group
// key): the queries, then each enabled TargetTracking and StepScaling
// policy's reading over the instances in service and past the policy's
// warmup at `now`. Query failures become readings with reason
// Prometheus<Reason> (PrometheusUnreachable, PrometheusTimeout, ...); a
// failed namespace query fails only the policies that need it.
//
// Predictive policies: only those whose forecast is due (status.policies[].
// memory, reconcilers::scaling::forecastDue: none yet, or an hour old) get
// a history (GroupReadings::historyByPolicy), read with range queries over
// the last 14 days at 300 s steps: ONE query per namespace and predefined
// pair serves every due group there (`sum by` the group label), made only
// when some group of the namespace is due; a customMetric.loadQuery costs
// one range query per due policy.
//
// Request counts (ALBRequestCountPerTarget, RequestCountPerTarget,
// ALBRequestCount) read the per-VMI counter `requestCountMetric`
// (--request-count-metric, a Prometheus metric name); empty: those
// policies get the reason RequestCountMetricNotConfigured, without a query.
// The instances are measured whether or not the LoadBalancer the policy's
// resourceLabel names exists: the counter is the instances'.
std::map<std::string, GroupReadings> evaluatePolicies(
    const std::vector<const v1::ScalingGroup*>& groups,
    const std::map<std::string, std::vector<const v1::Instance*>>& instancesByGroup,
    const QueryFunction& query, const RangeQueryFunction& queryRange,
    std::chrono::system_clock::time_point now, std::chrono::seconds window,
    const std::string& requestCountMetric = {});

struct PolicyMetricsOptions {
  std::shared_ptr<kube::prom::Client> prometheus;  // required
  std::chrono::seconds interval{60};
  std::chrono::seconds scrapeInterval{30};
  std::string requestCountMetric{};  // --request-count-metric; empty: not configured
};

// Adds the leader-only runnable that evaluates every group each interval,
// puts the readings in `store` and sends each group's key on `wake`.
void addPolicyMetricsEvaluator(kube::Manager& mgr, kube::Informer<v1::ScalingGroup>& groups,
                               kube::Informer<v1::Instance>& instances,
                               std::shared_ptr<PolicyReadingsStore> store, kube::Channel& wake,
                               PolicyMetricsOptions opts);

}  // namespace kubec2::controllers
