// The simulated load and the per-VMI metrics virt-handler would export.
//
// A user (or a test) sets a demand per target through the control API: a
// scaling group, i.e. (namespace, value of the VMI label
// compute.kubec2.io/scaling-group), or a single VMI by name. A group's demand
// is spread evenly over its Running VMIs; a VMI's own demand adds to its
// share. CPU use is capped at the VMI's vCPUs (a guest cannot use more cores
// than it has); network and requests are not capped. Simulated requests
// (requestsPerSecond) count in kubec2_sim_http_requests_total together with
// the real requests the VMI's sockets answer (countRequest).
//
// Counters integrate the demand over time by an injected clock: every change
// (a demand set, a VMI started or stopped) first settles the counters up to
// now at the old rates, so a rate only ever applies to the time it was in
// force, and unit tests advance a FakeClock instead of sleeping.
//
// Metrics are rendered with KubeVirt's names and labels (see
// shared/kubevirt/README.md): node, namespace, name, and
// kubernetes_vmi_label_<key with . / - replaced by _> per VMI label.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/clock.h"

namespace kubec2::sim {

struct LoadTarget {
  std::string namespace_;
  std::string group;  // set: the scaling group
  std::string name;   // set: one VMI
  auto operator<=>(const LoadTarget&) const = default;
  std::string describe() const;
};

struct Demand {
  double cpuCores = 0;
  double networkInBytesPerSecond = 0;
  double networkOutBytesPerSecond = 0;
  double requestsPerSecond = 0;  // HTTP requests answered, >= 0
  bool operator==(const Demand&) const = default;
};

struct VmiInfo {
  std::string namespace_;
  std::string name;
  std::string node;
  std::map<std::string, std::string> labels;
  int vcpus = 1;
  double memoryBytes = 0;
};

struct VmiCounters {
  double cpuSeconds = 0;
  std::vector<double> vcpuSeconds;  // per vCPU
  double rxBytes = 0;
  double txBytes = 0;
  double httpRequests = 0;  // simulated (requestRate integrated) plus answered
  double memoryUsedBytes = 0;
  // The rates in force now.
  double cpuRate = 0, rxRate = 0, txRate = 0, requestRate = 0;
};

// kubernetes_vmi_label_ + the key with every character other than [A-Za-z0-9_]
// (in label keys: . / -) replaced by _.
std::string vmiLabelName(const std::string& key);
// A Prometheus label value with \ " and newline escaped.
std::string escapeLabelValue(const std::string& v);

class LoadModel {
 public:
  explicit LoadModel(const kube::Clock& clock);

  // A zero demand removes the target's entry.
  void setDemand(const LoadTarget& target, const Demand& d);
  std::vector<std::pair<LoadTarget, Demand>> demands() const;

  // A VMI started running (counters from zero), or its details changed
  // (counters kept).
  void addVmi(const VmiInfo& info);
  void removeVmi(const std::string& ns, const std::string& name);
  void countRequest(const std::string& ns, const std::string& name);

  std::optional<VmiCounters> counters(const std::string& ns, const std::string& name);
  // Running VMIs the target's demand is spread over.
  std::size_t members(const LoadTarget& target) const;

  // The Prometheus text exposition (format 0.0.4) of every running VMI.
  std::string renderMetrics();

 private:
  struct Entry {
    VmiInfo info;
    VmiCounters c;
  };
  void settleLocked();
  void recomputeRatesLocked();
  bool inTarget(const LoadTarget& t, const VmiInfo& v) const;

  const kube::Clock& clock_;
  mutable std::mutex mu_;
  kube::Clock::time_point last_;
  std::map<LoadTarget, Demand> demands_;
  std::map<std::string, Entry> vmis_;  // by namespace/name
};

}  // namespace kubec2::sim
