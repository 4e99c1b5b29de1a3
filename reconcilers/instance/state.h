// EC2's instance states from what KubeVirt reports (docs/instances.md):
//   pending        VM exists (or is being created), its VMI not Running yet
//   running        VMI phase Running
//   stopping       desired state stopped, a VMI still exists
//   stopped        desired state stopped, no VMI
//   shutting-down  the Instance is being deleted, VM or volumes remain
//   terminated     the Instance is being deleted and nothing remains
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

struct ObservedInstance {
  bool deleting = false;                // the Instance has a deletionTimestamp
  bool wantsRunning = true;             // spec.desiredState != stopped
  const nlohmann::json* vm = nullptr;   // the VM, if it exists
  const nlohmann::json* vmi = nullptr;  // its VMI, if it exists
  bool volumesRemain = false;           // deleteOnTermination claims not yet gone
  std::optional<std::string> nodeZone;  // topology.kubernetes.io/zone of the VMI's node
};

struct InstanceStateView {
  std::string state;          // one of the six above
  std::string reasonCode;     // stateReason.code, e.g. "Client.UserInitiatedShutdown"; empty: none
  std::string reasonMessage;  // stateReason.message
  std::optional<std::string> privateIP;  // VMI status.interfaces[0].ipAddress (or ipAddresses[0])
  std::optional<std::string> nodeName;
  std::optional<std::string> zone;
  bool ready = false;  // running and the VMI's Ready condition True
  // The Ready condition's reason and message (Running, Pending, Stopped,
  // Failed, ...) for people.
  std::string readyReason;
  std::string readyMessage;
};

// Pure: the state an Instance is in.
// A VMI in phase Failed is pending with reason Server.InternalError and the
// VMI's message (KubeVirt restarts it under runStrategy Always); a VM whose
// printableStatus is ErrorUnschedulable, ErrImagePull, ImagePullBackOff,
// ErrorPvcNotFound or DataVolumeError is pending with that status named in
// the reason message.
InstanceStateView observeState(const ObservedInstance& o);

}  // namespace kubec2::reconcilers
