// EC2's instance states from what KubeVirt reports.
#include <gtest/gtest.h>

#include "reconcilers/instance/state.h"

namespace {

using kubec2::reconcilers::InstanceStateView;
using kubec2::reconcilers::ObservedInstance;
using kubec2::reconcilers::observeState;
using nlohmann::json;

const json kVm = json::parse(R"({"status": {"printableStatus": "Starting"}})");
const json kVmNoStatus = json::parse(R"({"metadata": {"name": "web-1"}})");
const json kVmiScheduling = json::parse(R"({"status": {"phase": "Scheduling"}})");
const json kVmiRunningReady = json::parse(R"({"status": {
  "phase": "Running", "nodeName": "node-a",
  "interfaces": [{"name": "default", "ipAddress": "10.244.1.7", "ipAddresses": ["10.244.1.7"]}],
  "conditions": [{"type": "Ready", "status": "True"},
                 {"type": "LiveMigratable", "status": "False", "reason": "NotMigratable"}]}})");
const json kVmiRunningNotReady = json::parse(R"({"status": {
  "phase": "Running", "nodeName": "node-a",
  "interfaces": [{"name": "default", "ipAddresses": ["10.244.1.8"]}],
  "conditions": [{"type": "Ready", "status": "False", "reason": "GuestNotRunning",
                  "message": "Guest VM is not reported as running"}]}})");
const json kVmiRunningNoConditions = json::parse(R"({"status": {"phase": "Running"}})");
const json kVmiRunningOtherConditions = json::parse(R"({"status": {"phase": "Running",
  "conditions": [{"type": "AgentConnected", "status": "True"}]}})");
const json kVmiFailed = json::parse(R"({"status": {"phase": "Failed", "reason": "PodFailed",
  "conditions": [{"type": "Ready", "status": "False", "message": "virt-launcher crashed"}]}})");
const json kVmUnschedulable = json::parse(R"({"status": {"printableStatus": "ErrorUnschedulable",
  "conditions": [{"type": "Ready", "status": "False",
                  "message": "0/3 nodes are available: 3 Insufficient memory."}]}})");
const json kVmImagePull = json::parse(R"({"status": {"printableStatus": "ErrImagePull"}})");
const json kVmDataVolumeError = json::parse(R"({"status": {"printableStatus": "DataVolumeError",
  "conditions": [{"type": "Failure", "status": "True", "message": "import failed: 404"}]}})");
const json kVmCrashLoop = json::parse(R"({"status": {"printableStatus": "CrashLoopBackOff"}})");
const json kVmStopped = json::parse(R"({"status": {"printableStatus": "Stopped"}})");

struct StateCase {
  const char* label;
  ObservedInstance in;
  const char* state;
  const char* code;
  const char* message;
  bool ready;
  const char* readyReason;
};

class InstanceState : public ::testing::TestWithParam<StateCase> {};

TEST_P(InstanceState, Row) {
  const StateCase& c = GetParam();
  const InstanceStateView v = observeState(c.in);
  EXPECT_EQ(v.state, c.state);
  EXPECT_EQ(v.reasonCode, c.code);
  EXPECT_EQ(v.reasonMessage, c.message);
  EXPECT_EQ(v.ready, c.ready);
  EXPECT_EQ(v.readyReason, c.readyReason);
  EXPECT_FALSE(v.readyMessage.empty());
}

ObservedInstance obs(const json* vm, const json* vmi, bool wantsRunning = true,
                     bool deleting = false, bool volumesRemain = false) {
  ObservedInstance o;
  o.vm = vm;
  o.vmi = vmi;
  o.wantsRunning = wantsRunning;
  o.deleting = deleting;
  o.volumesRemain = volumesRemain;
  return o;
}

constexpr const char* kShutdown = "Client.UserInitiatedShutdown";
constexpr const char* kShutdownMsg = "User initiated shutdown";

INSTANTIATE_TEST_SUITE_P(
    InstanceState, InstanceState,
    ::testing::Values(
        // pending
        StateCase{"NothingYet", obs(nullptr, nullptr), "pending", "", "", false, "Pending"},
        StateCase{"VmWithoutStatus", obs(&kVmNoStatus, nullptr), "pending", "", "", false,
                  "Pending"},
        StateCase{"VmiScheduling", obs(&kVm, &kVmiScheduling), "pending", "", "", false, "Pending"},
        StateCase{"VmiFailed", obs(&kVm, &kVmiFailed), "pending", "Server.InternalError",
                  "The virtual machine failed (Starting): PodFailed: virt-launcher crashed; "
                  "KubeVirt restarts it",
                  false, "Failed"},
        StateCase{"Unschedulable", obs(&kVmUnschedulable, nullptr), "pending",
                  "Server.InternalError",
                  "VirtualMachine status ErrorUnschedulable: 0/3 nodes are available: 3 "
                  "Insufficient memory.",
                  false, "ErrorUnschedulable"},
        StateCase{"ImagePull", obs(&kVmImagePull, &kVmiScheduling), "pending",
                  "Server.InternalError", "VirtualMachine status ErrImagePull", false,
                  "ErrImagePull"},
        StateCase{
            "DataVolumeError", obs(&kVmDataVolumeError, nullptr), "pending", "Server.InternalError",
            "VirtualMachine status DataVolumeError: import failed: 404", false, "DataVolumeError"},
        StateCase{"CrashLoop", obs(&kVmCrashLoop, nullptr), "pending", "Server.InternalError",
                  "VirtualMachine status CrashLoopBackOff", false, "CrashLoopBackOff"},
        // running
        StateCase{"RunningReady", obs(&kVm, &kVmiRunningReady), "running", "", "", true, "Running"},
        StateCase{"RunningNotReady", obs(&kVm, &kVmiRunningNotReady), "running", "", "", false,
                  "GuestNotRunning"},
        StateCase{"RunningNoConditions", obs(&kVm, &kVmiRunningNoConditions), "running", "", "",
                  true, "Running"},
        StateCase{"RunningWithoutReadyCondition", obs(&kVm, &kVmiRunningOtherConditions), "running",
                  "", "", false, "NotReady"},
        StateCase{"RunningDespiteVmError", obs(&kVmImagePull, &kVmiRunningReady), "running", "", "",
                  true, "Running"},
        // stopping / stopped
        StateCase{"Stopping", obs(&kVm, &kVmiRunningReady, false), "stopping", kShutdown,
                  kShutdownMsg, false, "Stopping"},
        StateCase{"Stopped", obs(&kVmStopped, nullptr, false), "stopped", kShutdown, kShutdownMsg,
                  false, "Stopped"},
        StateCase{"StoppedNoVm", obs(nullptr, nullptr, false), "stopped", kShutdown, kShutdownMsg,
                  false, "Stopped"},
        // shutting-down / terminated
        StateCase{"ShuttingDownVmi", obs(&kVm, &kVmiRunningReady, true, true), "shutting-down",
                  kShutdown, kShutdownMsg, false, "ShuttingDown"},
        StateCase{"ShuttingDownVm", obs(&kVmStopped, nullptr, false, true), "shutting-down",
                  kShutdown, kShutdownMsg, false, "ShuttingDown"},
        StateCase{"ShuttingDownVolumes", obs(nullptr, nullptr, true, true, true), "shutting-down",
                  kShutdown, kShutdownMsg, false, "ShuttingDown"},
        StateCase{"Terminated", obs(nullptr, nullptr, true, true), "terminated", kShutdown,
                  kShutdownMsg, false, "Terminated"}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(InstanceStateDetails, AddressNodeAndZoneOfARunningInstance) {
  ObservedInstance o = obs(&kVm, &kVmiRunningReady);
  o.nodeZone = "us-east-1a";
  const InstanceStateView v = observeState(o);
  EXPECT_EQ(v.privateIP, "10.244.1.7");
  EXPECT_EQ(v.nodeName, "node-a");
  EXPECT_EQ(v.zone, "us-east-1a");
  EXPECT_EQ(v.readyMessage, "The instance is running");
}

TEST(InstanceStateDetails, AddressFromIpAddressesAndReadyMessage) {
  const InstanceStateView v = observeState(obs(&kVm, &kVmiRunningNotReady));
  EXPECT_EQ(v.privateIP, "10.244.1.8");
  EXPECT_EQ(v.readyMessage, "Guest VM is not reported as running");
}

TEST(InstanceStateDetails, NothingReportedWithoutVmi) {
  const InstanceStateView v = observeState(obs(&kVmStopped, nullptr, false));
  EXPECT_EQ(v.privateIP, std::nullopt);
  EXPECT_EQ(v.nodeName, std::nullopt);
  EXPECT_EQ(v.zone, std::nullopt);
}

TEST(InstanceStateDetails, MalformedObjectsDoNotThrow) {
  const json odd = json::parse(R"({"status": {"phase": 3, "conditions": "x",
    "interfaces": [5], "nodeName": []}})");
  const json notObject = json::array();
  EXPECT_EQ(observeState(obs(&odd, &odd)).state, "pending");
  EXPECT_EQ(observeState(obs(&notObject, &notObject)).state, "pending");
}

}  // namespace
