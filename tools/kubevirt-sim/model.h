// The pure decisions of the KubeVirt simulator: what virt-controller and
// virt-handler would make of a VirtualMachine, with no I/O and no clock of
// their own (time comes in as arguments), so they are table-tested in
// tests/unit/kubevirt_sim_test.cpp.
//
//  - run strategies and what they want (run, stop, leave alone, restart);
//  - the VMI rendered from a VM (virt-controller's VM -> VMI step);
//  - the boot timeline Pending -> Scheduling -> Scheduled -> Running;
//  - scheduling onto the simulated nodes (nodeSelector, required node
//    affinity), round robin among the eligible ones;
//  - the VMI and VM status KubeVirt would show.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/quantity.h"

#include "api/well_known.h"

namespace kubec2::sim {

using nlohmann::json;

inline constexpr const char* kNodeNameLabel = "kubevirt.io/nodeName";
inline constexpr const char* kZoneLabel = "topology.kubernetes.io/zone";
inline constexpr const char* kHostnameLabel = "kubernetes.io/hostname";
inline constexpr const char* kSimulatedLabel = "kubevirt-sim.kubec2.io/simulated";
// The label the operator puts on a scaling group's VMs (api/well_known.h).
using api::kScalingGroupLabel;

// ---- Run strategies ---------------------------------------------------------

enum class RunStrategy { Always, RerunOnFailure, Once, Manual, Halted, WaitAsReceiver };

// spec.runStrategy, else the deprecated spec.running (true: Always, false:
// Halted), else Halted (KubeVirt's default when neither is set).
RunStrategy runStrategyOf(const json& vm);
const char* runStrategyName(RunStrategy s);

enum class Desire { Run, Stop, Leave };
// Always, RerunOnFailure, Once: run. Halted: stop. Manual and WaitAsReceiver:
// leave the VMI as it is (started and stopped by hand).
Desire desireOf(RunStrategy s);
// Whether KubeVirt replaces a VMI that ended in `phase` (Failed/Succeeded).
bool restartsAfter(RunStrategy s, const std::string& phase);

// ---- Phases and the boot timeline -------------------------------------------

enum class Phase { None, Pending, Scheduling, Scheduled, Running, Succeeded, Failed };
const char* phaseName(Phase p);  // "" for None
Phase parsePhase(const std::string& s);
bool isFinal(Phase p);  // Succeeded or Failed

struct BootStep {
  Phase phase = Phase::Pending;
  // Time left until the next phase; nullopt when none will come by itself.
  std::optional<std::chrono::nanoseconds> next;
};

// Where a boot that started `elapsed` ago with `delay` stands: Pending for
// the first third, Scheduling for the second, Scheduled for the last, then
// Running. A zero delay is Running at once. `hang` stops it at Scheduled.
BootStep bootPhase(std::chrono::nanoseconds elapsed, std::chrono::nanoseconds delay, bool hang);
// The elapsed time at which `p` begins (used to resume a timeline after a
// restart of the simulator).
std::chrono::nanoseconds phaseStart(Phase p, std::chrono::nanoseconds delay);

// ---- Nodes and scheduling -------------------------------------------------

struct SimNode {
  std::string name;
  std::string zone;
  bool operator==(const SimNode&) const = default;
};

// "name=zone,name=zone". Throws std::invalid_argument naming the bad item.
std::vector<SimNode> parseNodes(const std::string& flag);
std::map<std::string, std::string> nodeLabels(const SimNode& n);
// The Node object (metadata and spec) and the status a kubelet would report.
json renderNode(const SimNode& n);
json renderNodeStatus(const SimNode& n, const std::string& heartbeatTime);

// Does a node with `labels` (and `nodeName`) satisfy the VMI spec's
// nodeSelector and required node affinity? Operators In, NotIn, Exists,
// DoesNotExist, Gt, Lt on labels; matchFields on metadata.name.
bool nodeEligible(const json& vmiSpec, const std::string& nodeName,
                  const std::map<std::string, std::string>& labels);

// Round robin over the eligible nodes. Thread-safe.
class Scheduler {
 public:
  explicit Scheduler(std::vector<SimNode> nodes) : nodes_(std::move(nodes)) {}
  std::optional<SimNode> pick(const json& vmiSpec);
  const std::vector<SimNode>& nodes() const { return nodes_; }

 private:
  std::vector<SimNode> nodes_;
  std::mutex mu_;
  std::size_t next_ = 0;
};

// ---- VM -> VMI ----------------------------------------------------------------

// The VMI virt-controller creates for `vm`: same name and namespace, a
// controller ownerReference to the VM, the template's labels (the VM's own
// when the template has none: see renderVmi) and annotations,
// spec = spec.template.spec. `node` (when set) adds the
// kubevirt.io/nodeName label virt-handler puts on VMIs it runs.
json renderVmi(const json& vm, const std::optional<std::string>& node = std::nullopt);

// TCP ports the VMI serves: interfaces[].ports (protocol TCP or unset) plus
// `httpPorts`, sorted, without duplicates.
std::vector<int> servedPorts(const json& vmiSpec, const std::vector<int>& httpPorts);
// vCPUs: cpu.cores * sockets * threads (each 1 when unset), else
// resources.requests.cpu rounded up, else 1.
int vcpusOf(const json& vmiSpec);
// memory.guest, else resources.requests.memory, else limits.memory; 0 when none.
double memoryBytesOf(const json& vmiSpec);
// A Kubernetes quantity ("512Mi", "1G", "250m", "2"); nullopt when malformed.
using kube::parseQuantity;

// ---- Status -------------------------------------------------------------------

struct VmiStatusInputs {
  Phase phase = Phase::Pending;
  std::string node;  // set from Scheduled on
  std::string ip;    // set when Running
  bool unschedulable = false;
  std::string unschedulableMessage;
  std::string failureReason;  // for Failed
};
// The fields of VMI status the simulator owns; the ones not in play are null,
// so that the result is a merge patch that also removes stale values.
json vmiStatus(const VmiStatusInputs& in);

struct VmView {
  RunStrategy strategy = RunStrategy::Halted;
  bool vmDeleting = false;
  bool vmiExists = false;
  bool vmiDeleting = false;
  Phase vmiPhase = Phase::None;
  bool unschedulable = false;
  int failCount = 0;          // consecutive crashes
  std::string lastFailedUid;  // of the VMI that crashed last
  // The VM's DataVolumes (only when the simulator plays CDI): one has not
  // Succeeded (Provisioning), one failed (DataVolumeError, which wins).
  bool provisioning = false;
  bool dataVolumeError = false;
};
// printableStatus, ready, created, conditions (Ready) and startFailure,
// as KubeVirt's VM controller shows them; a merge patch as above.
json vmStatus(const VmView& v);
std::string printableStatus(const VmView& v);

// Conditions of `desired` keep the lastTransitionTime of the same condition
// (type and status) in `current`, and get `now` otherwise, so that writing
// the same state twice compares equal.
json withTransitionTimes(json desired, const json& current, const std::string& now);
// Does `current` already hold every field of the merge patch `patch`
// (null meaning absent)?
bool satisfies(const json& current, const json& patch);

// "127.0.0.1" style ipv4 address -> host order integer, and back.
std::optional<std::uint32_t> parseIpv4(const std::string& s);
std::string formatIpv4(std::uint32_t ip);

}  // namespace kubec2::sim
