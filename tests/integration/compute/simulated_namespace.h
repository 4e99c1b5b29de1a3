// A namespace for one compute test suite with the KubeVirt simulator
// (tools/kubevirt-sim) playing KubeVirt in it: created (or reused) at the
// suite's start, the simulator stopped by SIGTERM at its end. Each suite
// takes its own loopback address range so suites never share VMI addresses.
#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>

#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/webhook_env.h"

namespace kube::testing {

class SimulatedNamespace {
 public:
  struct Options {
    int bootDelayMs = 200;       // VMI creation to Running
    std::string ipRangeStart{};  // the first VMI address; empty: the simulator's default
  };

  SimulatedNamespace(std::string ns, Options o) : ns_(std::move(ns)), port_(freePort()) {
    RestClient c(adminConfig());
    try {
      c.create(kNamespaces, "",
               {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
    } catch (const ApiError& e) {
      if (!e.isAlreadyExists()) throw;
    }
    std::vector<std::string> args{KUBEC2_SIM_BIN,
                                  "--kubeconfig",
                                  ControlPlaneEnvironment::get().kubeconfig(),
                                  "--namespace",
                                  ns_,
                                  "--boot-delay-ms",
                                  std::to_string(o.bootDelayMs),
                                  "--control-bind-address",
                                  "127.0.0.1:" + std::to_string(port_)};
    if (!o.ipRangeStart.empty()) {
      args.push_back("--ip-range-start");
      args.push_back(o.ipRangeStart);
    }
    sim_ = std::make_unique<ChildProcess>(
        args, ControlPlaneEnvironment::get().dir() + "/sim-" + ns_ + ".log");
  }
  ~SimulatedNamespace() {
    sim_->signal(SIGTERM);
    sim_->wait(std::chrono::seconds(30));
  }
  SimulatedNamespace(const SimulatedNamespace&) = delete;
  SimulatedNamespace& operator=(const SimulatedNamespace&) = delete;

  const std::string& name() const { return ns_; }
  // The simulator's control API and /metrics (tools/kubevirt-sim/README.md).
  int controlPort() const { return port_; }
  std::string controlUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return sim_->output(); }

 private:
  std::string ns_;
  int port_;
  std::unique_ptr<ChildProcess> sim_;
};

}  // namespace kube::testing
