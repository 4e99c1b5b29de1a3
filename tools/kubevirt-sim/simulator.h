// The simulator proper: virt-controller's and virt-handler's parts, on a
// control plane without nodes. One controller keyed by the VM's
// namespace/name watches VirtualMachines and VirtualMachineInstances
// (same name), and for each VM:
//
//  - creates, advances, replaces and deletes its VMI as the run strategy
//    asks (see model.h for the decisions);
//  - at Running gives it a 127.x.y.z address and listens there on its ports
//    (HTTP answering the health path and anything else);
//  - keeps the VM's status (printableStatus, ready, created, conditions);
//  - feeds the load model, whose counters /metrics exports.
//
// Writes: 1 VMI create + 1 VMI status + 1 VM status per VM at boot delay 0,
// status written only when it changes. API errors throw; the controller
// retries the key with backoff. Restarting the simulator adopts existing
// VMIs (their recorded address when still free) and reopens their sockets.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/resources.h"
#include "runtime/client.h"
#include "runtime/clock.h"
#include "runtime/controller.h"
#include "runtime/informer.h"
#include "runtime/manager.h"
#include "runtime/object.h"
#include "tools/kubevirt-sim/control_api.h"
#include "tools/kubevirt-sim/http_server.h"
#include "tools/kubevirt-sim/ip_allocator.h"
#include "tools/kubevirt-sim/load_model.h"
#include "tools/kubevirt-sim/model.h"
#include "tools/kubevirt-sim/storage_sim.h"

namespace kubec2::sim {

// The resources KubeVirt serves, named where the operator names them.
using api::kNodes;
using api::kVirtualMachineInstances;
using api::kVirtualMachines;

struct SimulatorOptions {
  std::string namespace_;  // empty: all
  std::vector<SimNode> nodes;
  std::chrono::milliseconds bootDelay{2000};
  std::vector<int> httpPorts{80};
  std::string healthPath = "/healthz";
  std::string ipStart = "127.1.0.1";
  int workers = 4;
  std::chrono::seconds nodeHeartbeat{10};
  // The storage side (storage_sim.h), each only when its API is served.
  bool cdi = false;
  bool snapshots = false;
  bool vmSnapshots = false;
  std::chrono::milliseconds snapshotDelay{0};
  const kube::Clock* clock = nullptr;  // nullptr: the system clock
};

class Simulator final : public SimControl {
 public:
  // Registers the informers and the controller with `mgr` (call before
  // mgr.run()).
  Simulator(kube::Manager& mgr, SimulatorOptions opts);
  ~Simulator() override;

  // Creates or updates the simulated Nodes and reports them Ready.
  void ensureNodes();
  // Keeps the Nodes' Ready heartbeat fresh (the node lifecycle controller
  // marks silent nodes Unknown after 40 s).
  std::unique_ptr<kube::Runnable> nodeHeartbeat();

  HttpServers& servers() { return servers_; }
  LoadModel& load() { return load_; }

  // SimControl
  HttpResponse setLoad(const LoadRequest& r) override;
  HttpResponse applyFault(const FaultRequest& r) override;
  nlohmann::json listVms() override;
  nlohmann::json loads() override;
  std::string metrics() override;

  kube::Result reconcile(const kube::Request& req);

 private:
  struct Endpoint {
    std::string namespace_, name;
    std::atomic<bool> failHealth{false};
    std::atomic<bool> hangHealth{false};
  };
  // Per VM key. Only the reconcile of that key touches it, except the
  // atomics (set by the control API).
  struct KeyState {
    // The current VMI.
    std::string vmiUid;
    Phase phase = Phase::None;  // as last written or adopted
    kube::Clock::time_point bootStart{};
    std::chrono::nanoseconds bootDelay{0};
    std::string node;
    bool unschedulable = false;
    std::string ip;
    std::vector<int> ports;
    std::vector<std::uint64_t> listeners;
    std::shared_ptr<Endpoint> endpoint;
    bool inLoad = false;
    std::string failureReason;
    kube::Clock::time_point restartAt{};
    nlohmann::json writtenVmiStatus;
    std::string writtenVmiRv;
    // The VM.
    int failCount = 0;
    std::string lastFailedUid;
    nlohmann::json writtenVmStatus;
    std::string writtenVmRv;
    std::atomic<bool> crashRequested{false};
  };
  struct Summary {
    std::string phase, ip, node, printableStatus;
    std::vector<int> ports;
    bool running = false;
  };

  std::shared_ptr<KeyState> stateFor(const std::string& key);
  FaultSet faultsFor(const std::string& key) const;
  void adopt(KeyState& st, const std::string& key, const nlohmann::json& vmi);
  void stopServing(KeyState& st, const std::string& key);
  void startServing(KeyState& st, const std::string& key, const nlohmann::json& vmi);
  // Returns true when the VMI is gone.
  bool deleteVmi(const std::string& ns, const std::string& name, const std::string& uid);
  nlohmann::json createVmi(const nlohmann::json& vm, KeyState& st, const std::string& key);
  void writeVmiStatus(KeyState& st, const nlohmann::json& vmi, const VmiStatusInputs& in);
  void writeVmStatus(KeyState& st, const kube::RawObject& vm, const VmView& view);
  void ensureNodeLabel(const nlohmann::json& vmi, const std::string& node);
  void publish(const std::string& key, const KeyState* st, const std::string& printable);
  std::string now() const;

  SimulatorOptions opts_;
  const kube::Clock& clock_;
  kube::Client& client_;
  kube::Informer<kube::RawObject>& vms_;
  kube::Informer<kube::RawObject>& vmis_;
  std::unique_ptr<StorageSim> storage_;  // null when no storage API is played
  kube::Controller* controller_ = nullptr;
  Scheduler scheduler_;
  IpAllocator ips_;
  LoadModel load_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<KeyState>> states_;  // guarded by mu_
  std::map<std::string, FaultSet> faults_;                   // guarded by mu_
  std::map<std::string, Summary> summaries_;                 // guarded by mu_

  HttpServers servers_;  // last: stops (and drops handlers using the above) first
};

}  // namespace kubec2::sim
