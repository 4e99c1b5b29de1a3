// One ScalingGroup as a user of the end-to-end tests sees and drives it:
// kubectl apply, the group's status and conditions, its running Instances
// (kubectl get sg,inst), and the load a workload puts on its VMs (the
// KubeVirt simulator's PUT /load, tests/integration/compute/simulated_namespace.h).
// Shared by the scaling tests (integration_compute) and the Prometheus
// outage tests (reliability_prometheus).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "tests/integration/helpers.h"
#include "tests/integration/http.h"
#include "tests/integration/kubectl.h"
#include "tests/integration/resources.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {

// LaunchTemplate `name` with `versions` (1..) versions, all of the same
// Fedora container disk: version 1 a t3.micro, the later ones t3.small.
inline nlohmann::json launchTemplate(const std::string& name, int versions = 1) {
  nlohmann::json list = nlohmann::json::array();
  for (int v = 1; v <= versions; ++v)
    list.push_back({{"spec",
                     {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
                      {"instanceType", v == 1 ? "t3.micro" : "t3.small"}}}});
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "LaunchTemplate"},
          {"metadata", {{"name", name}}},
          {"spec", {{"versions", list}}}};
}

// ScalingGroup "web" of LaunchTemplate "web": 1 to 6 instances, 1 at
// first, warm-up 5 s, and policy cpu-50: target tracking of 50 % average
// CPU utilization.
inline nlohmann::json targetTrackingGroup() {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", "ScalingGroup"},
          {"metadata", {{"name", "web"}}},
          {"spec",
           {{"launchTemplateRef", {{"name", "web"}}},
            {"minSize", 1},
            {"maxSize", 6},
            {"desiredCapacity", 1},
            {"defaultInstanceWarmupSeconds", 5},
            {"scalingPolicies",
             {{{"name", "cpu-50"},
               {"type", "TargetTracking"},
               {"targetTracking",
                {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", 50}}}}}}}}};
}

// kubectl apply --validate=true -n `ns` of `manifest`; a fatal gtest
// failure (with kubectl's output) if kubectl refuses it.
inline void applyManifest(const std::string& ns, const nlohmann::json& manifest) {
  auto [code, out] = kubectl({"apply", "--validate=true", "-n", ns, "-f", writeManifest(manifest)});
  ASSERT_EQ(code, 0) << out;
}

class GroupProbe {
 public:
  // Group `group` in namespace `ns`, whose simulator's control API is at
  // `simControlUrl` (SimulatedNamespace::controlUrl()).
  GroupProbe(std::string ns, std::string group, std::string simControlUrl)
      : ns_(std::move(ns)), group_(std::move(group)), simUrl_(std::move(simControlUrl)) {}

  // applyManifest in the group's namespace.
  void apply(const nlohmann::json& manifest) const { applyManifest(ns_, manifest); }
  // The group's demand in CPU cores, spread over its running VMs.
  void load(double cpu) const {
    const auto [code, body] =
        http("PUT", simUrl_ + "/load",
             nlohmann::json{{"namespace", ns_}, {"group", group_}, {"cpu", cpu}}.dump());
    ASSERT_EQ(code, 200) << body;
  }
  // The group's status; {} while the group does not exist.
  nlohmann::json status() {
    try {
      return client_.get(kGroups, ns_, group_).value("status", nlohmann::json::object());
    } catch (const ApiError& e) {
      if (e.isNotFound()) return nlohmann::json::object();
      throw;
    }
  }
  // status.desiredCapacity, or -1 without one.
  std::int64_t desired() { return status().value("desiredCapacity", std::int64_t{-1}); }
  // Condition ScalingActive as "status/reason"; "" without it.
  std::string scalingActive() {
    for (const auto& c : status().value("conditions", nlohmann::json::array()))
      if (c.value("type", "") == "ScalingActive")
        return c.value("status", "") + "/" + c.value("reason", "");
    return "";
  }
  // The namespace's Instances that run and are not being deleted (the
  // tests have one group at a time).
  std::int64_t running() {
    std::int64_t n = 0;
    for (const auto& i : client_.list(kInstances, ns_).items)
      if (!i["metadata"].contains("deletionTimestamp") &&
          i.value("status", nlohmann::json::object()).value("state", "") == "running")
        ++n;
    return n;
  }
  // For a failure's message: the group's status and the tail of the
  // operator's log (WebhookEnvironment).
  std::string explain() {
    std::string log = WebhookEnvironment::get().operatorLog();
    if (log.size() > 3000) log = log.substr(log.size() - 3000);
    return "group status: " + status().dump() + "\noperator log tail:\n" + log;
  }

 private:
  std::string ns_, group_, simUrl_;
  RestClient client_{adminConfig()};
};

}  // namespace kube::testing
