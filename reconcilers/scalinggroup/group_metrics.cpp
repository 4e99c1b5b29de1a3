#include "reconcilers/scalinggroup/group_metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "runtime/prometheus_client.h"

namespace kubec2::reconcilers {
namespace {

// KubeVirt copies VMI labels onto its metrics as kubernetes_vmi_label_<key>
// with '.', '/' and '-' made '_' (../shared/kubevirt/README.md).
constexpr const char* kGroupMetricLabel = "kubernetes_vmi_label_compute_kubec2_io_scaling_group";

std::string fixed(double v, int digits) {
  std::ostringstream ss;
  ss.precision(digits);
  ss << std::fixed << v;
  return ss.str();
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

std::string_view toString(InstanceMetric m) {
  switch (m) {
    case InstanceMetric::CPUUtilization:
      return "CPUUtilization";
    case InstanceMetric::NetworkIn:
      return "NetworkIn";
    case InstanceMetric::NetworkOut:
      return "NetworkOut";
    case InstanceMetric::RequestCountPerTarget:
      return "RequestCountPerTarget";
  }
  return "?";
}

std::string PolicyMetric::describe() const {
  if (!predefined) return "custom query";
  std::string name(toString(*predefined));
  switch (aggregation) {
    case Aggregation::Average:
      return "average " + name;
    case Aggregation::Minimum:
      return "minimum " + name;
    case Aggregation::Maximum:
      return "maximum " + name;
  }
  return name;
}

std::optional<PolicyMetric> metricOf(const api::v1alpha1::ScalingPolicy& policy) {
  PolicyMetric m;
  if (policy.targetTracking) {
    const auto& t = *policy.targetTracking;
    if (t.customMetric) {
      m.customQuery = t.customMetric->query;
      return m;
    }
    if (!t.predefinedMetric) return std::nullopt;
    const std::string& p = *t.predefinedMetric;
    if (p == "ASGAverageCPUUtilization")
      m.predefined = InstanceMetric::CPUUtilization;
    else if (p == "ASGAverageNetworkIn")
      m.predefined = InstanceMetric::NetworkIn;
    else if (p == "ASGAverageNetworkOut")
      m.predefined = InstanceMetric::NetworkOut;
    else if (p == "ALBRequestCountPerTarget")
      m.predefined = InstanceMetric::RequestCountPerTarget;
    else
      return std::nullopt;
    m.resourceLabel = t.resourceLabel.value_or("");
    return m;
  }
  if (policy.stepScaling) {
    const auto& s = *policy.stepScaling;
    const auto& a = s.alarm;
    if (a.customMetric) {
      m.customQuery = a.customMetric->query;
      return m;
    }
    if (!a.predefinedMetric) return std::nullopt;
    const std::string& p = *a.predefinedMetric;
    if (p == "CPUUtilization")
      m.predefined = InstanceMetric::CPUUtilization;
    else if (p == "NetworkIn")
      m.predefined = InstanceMetric::NetworkIn;
    else if (p == "NetworkOut")
      m.predefined = InstanceMetric::NetworkOut;
    else if (p == "RequestCountPerTarget")
      m.predefined = InstanceMetric::RequestCountPerTarget;
    else
      return std::nullopt;
    const std::string agg = s.metricAggregationType.value_or("Average");
    m.aggregation = agg == "Minimum"   ? Aggregation::Minimum
                    : agg == "Maximum" ? Aggregation::Maximum
                                       : Aggregation::Average;
    m.resourceLabel = a.resourceLabel.value_or("");
    return m;
  }
  return std::nullopt;
}

std::chrono::seconds queryWindow(std::chrono::seconds evaluationInterval,
                                 std::chrono::seconds scrapeInterval) {
  return std::max({evaluationInterval * 2, scrapeInterval * 4, std::chrono::seconds(4)});
}

bool isMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && (i == 0 || c < '0' || c > '9')) return false;
  }
  return true;
}

std::optional<std::string> namespaceQuery(InstanceMetric m, const std::string& ns,
                                          std::chrono::seconds window,
                                          const std::string& requestCountMetric) {
  const char* counter = nullptr;
  switch (m) {
    case InstanceMetric::CPUUtilization:
      counter = "kubevirt_vmi_cpu_usage_seconds_total";
      break;
    case InstanceMetric::NetworkIn:
      counter = "kubevirt_vmi_network_receive_bytes_total";
      break;
    case InstanceMetric::NetworkOut:
      counter = "kubevirt_vmi_network_transmit_bytes_total";
      break;
    case InstanceMetric::RequestCountPerTarget:
      if (requestCountMetric.empty()) return std::nullopt;
      counter = requestCountMetric.c_str();
      break;
  }
  return "sum by (name) (rate(" + std::string(counter) + "{namespace=" + kube::prom::quote(ns) +
         "," + kGroupMetricLabel + "!=\"\"}[" + std::to_string(window.count()) + "s]))";
}

std::string PredictiveLoad::describe() const {
  if (!pair) return "custom load query";
  switch (*pair) {
    case InstanceMetric::CPUUtilization:
      return "ASGCPUUtilization load (vCPUs in use)";
    case InstanceMetric::NetworkIn:
      return "ASGNetworkIn load (bytes per minute)";
    case InstanceMetric::NetworkOut:
      return "ASGNetworkOut load (bytes per minute)";
    case InstanceMetric::RequestCountPerTarget:
      return "ALBRequestCount load (requests per minute)";
  }
  return "load";
}

std::optional<PredictiveLoad> predictiveLoadOf(const api::v1alpha1::ScalingPolicy& policy) {
  if (!policy.predictive) return std::nullopt;
  const auto& p = *policy.predictive;
  PredictiveLoad l;
  if (p.customMetric) {
    l.customQuery = p.customMetric->loadQuery;
    l.scalingQuery = p.customMetric->scalingQuery.has_value();
    return l;
  }
  if (!p.predefinedMetricPair) return std::nullopt;
  const std::string& pair = *p.predefinedMetricPair;
  if (pair == "ASGCPUUtilization")
    l.pair = InstanceMetric::CPUUtilization;
  else if (pair == "ASGNetworkIn")
    l.pair = InstanceMetric::NetworkIn;
  else if (pair == "ASGNetworkOut")
    l.pair = InstanceMetric::NetworkOut;
  else if (pair == "ALBRequestCount")
    l.pair = InstanceMetric::RequestCountPerTarget;
  else
    return std::nullopt;
  return l;
}

std::string_view groupLabel() {
  return kGroupMetricLabel;
}

std::optional<std::string> namespaceHistoryQuery(InstanceMetric m, const std::string& ns,
                                                 const std::string& requestCountMetric) {
  const char* counter = nullptr;
  const char* scale = "";
  switch (m) {
    case InstanceMetric::CPUUtilization:
      counter = "kubevirt_vmi_cpu_usage_seconds_total";  // CPU seconds per second: vCPUs in use
      break;
    case InstanceMetric::NetworkIn:
      counter = "kubevirt_vmi_network_receive_bytes_total";
      scale = " * 60";  // per second to CloudWatch's per minute
      break;
    case InstanceMetric::NetworkOut:
      counter = "kubevirt_vmi_network_transmit_bytes_total";
      scale = " * 60";
      break;
    case InstanceMetric::RequestCountPerTarget:
      if (requestCountMetric.empty()) return std::nullopt;
      counter = requestCountMetric.c_str();
      scale = " * 60";  // requests per minute, as CloudWatch's RequestCount
      break;
  }
  return "sum by (" + std::string(kGroupMetricLabel) + ") (rate(" + counter +
         "{namespace=" + kube::prom::quote(ns) + "," + kGroupMetricLabel + "!=\"\"}[5m]))" + scale;
}

std::string expandCustomQuery(const std::string& query, const std::string& ns,
                              const std::string& group) {
  std::string out = query;
  replaceAll(out, "{{selector}}",
             "namespace=" + kube::prom::quote(ns) + "," + kGroupMetricLabel + "=" +
                 kube::prom::quote(group));
  replaceAll(out, "{{namespace}}", ns);
  replaceAll(out, "{{group}}", group);
  return out;
}

MetricReading groupReading(const PolicyMetric& metric,
                           const std::map<std::string, double>& rawByInstance,
                           const std::vector<MeasuredInstance>& inService,
                           std::chrono::seconds window) {
  MetricReading r;
  const std::string what = metric.describe();
  if (inService.empty()) {
    r.reason = "NoInServiceInstances";
    r.message = "no instance is in service past its warmup to measure " + what + " on";
    return r;
  }
  std::vector<double> values;
  for (const auto& i : inService) {
    auto it = rawByInstance.find(i.name);
    if (it == rawByInstance.end()) continue;
    double v = it->second;
    if (!std::isfinite(v)) {
      r.reason = "NotANumber";
      r.message = what + " of instance " + i.name + " is " + (std::isnan(v) ? "NaN" : "infinite");
      return r;
    }
    switch (*metric.predefined) {
      case InstanceMetric::CPUUtilization:
        if (i.vCPU <= 0) continue;  // its type is not resolved yet: nothing to divide by
        v = std::min(100.0, 100.0 * v / static_cast<double>(i.vCPU));
        break;
      case InstanceMetric::NetworkIn:
      case InstanceMetric::NetworkOut:
      case InstanceMetric::RequestCountPerTarget:
        v *= 60;  // per second to CloudWatch's per minute
        break;
    }
    values.push_back(v);
  }
  if (values.empty()) {
    r.reason = "NoSeries";
    r.message = "Prometheus has no sample of " + what + " in the last " +
                std::to_string(window.count()) + " s for any of the " +
                std::to_string(inService.size()) + " in-service instances";
    return r;
  }
  double v = 0;
  switch (metric.aggregation) {
    case Aggregation::Average:
      for (double x : values) v += x;
      v /= static_cast<double>(values.size());
      break;
    case Aggregation::Minimum:
      v = *std::min_element(values.begin(), values.end());
      break;
    case Aggregation::Maximum:
      v = *std::max_element(values.begin(), values.end());
      break;
  }
  r.value = v;
  r.instancesMeasured = static_cast<int>(values.size());
  r.message = what + " " + fixed(v, 2) + " over " + std::to_string(values.size()) + " of " +
              std::to_string(inService.size()) + " in-service instances";
  return r;
}

MetricReading customReading(const std::vector<double>& samples, const std::string& query) {
  MetricReading r;
  const std::string shown = query.size() > 200 ? query.substr(0, 200) + "..." : query;
  if (samples.empty()) {
    r.reason = "NoSeries";
    r.message = "the custom query returned no sample: " + shown;
  } else if (samples.size() > 1) {
    r.reason = "TooManySeries";
    r.message = "the custom query returned " + std::to_string(samples.size()) +
                " samples, not one (aggregate it, such as avg(...)): " + shown;
  } else if (!std::isfinite(samples[0])) {
    r.reason = "NotANumber";
    r.message = std::string("the custom query returned ") +
                (std::isnan(samples[0]) ? "NaN" : "an infinite value") + ": " + shown;
  } else {
    r.value = samples[0];
    r.message = "custom query " + fixed(samples[0], 2);
  }
  return r;
}

}  // namespace kubec2::reconcilers
