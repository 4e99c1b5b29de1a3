// The Instance reconciler's decision: from what was observed (the Instance,
// its template, the VM, its VMI, ...) to the writes that make the cluster
// match, as a value. Pure, so every path is table-tested without a cluster;
// controllers/instance does the observing and the writing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconcilers/instance/instance_types.h"
#include "reconcilers/instance/launch.h"
#include "reconcilers/instance/state.h"

namespace kubec2::reconcilers {

// Keeps an Instance until its VM and its deleteOnTermination volumes are gone.
inline constexpr const char* kInstanceFinalizer = "compute.kubec2.io/instance";

// A Secret the plan needs to read: the key pair's or the user data's.
struct SecretNeed {
  std::string name;
  std::optional<std::string> key;  // absent: every value (key pair)
  bool keyPair = false;            // true: SSH keys; false: user data
};

struct InstanceObservation {
  const v1::Instance* instance = nullptr;              // required
  const v1::LaunchTemplate* launchTemplate = nullptr;  // the referenced one, if it exists
  const InstanceTypeCatalog* catalog = nullptr;        // required
  std::vector<std::string> catalogProblems;            // bad entries of the ConfigMap
  bool kubevirtInstalled = true;  // the API server serves kubevirt.io/v1 virtualmachines
  const nlohmann::json* vm = nullptr;
  const nlohmann::json* vmi = nullptr;
  const nlohmann::json* networkPolicy = nullptr;  // "<instance>-sg", if it exists
  std::optional<std::string> nodeZone;
  bool volumesRemain = false;  // deleteOnTermination claims still exist
  // The Secrets of secretsNeeded(), read by the controller: SSH keys and
  // user data, or what was wrong ("Secret \"deploy-key\" not found").
  std::vector<std::string> sshPublicKeys;
  std::optional<std::string> userData;
  std::string secretProblem;
  std::chrono::system_clock::time_point now;
  std::chrono::seconds terminatedRetention{60};
};

struct InstanceEvent {
  bool warning = false;
  std::string reason;
  std::string message;
  bool operator==(const InstanceEvent&) const = default;
};

struct InstancePlan {
  bool addFinalizer = false;
  bool removeFinalizer = false;
  std::optional<nlohmann::json> applyVm;  // server-side apply configuration
  bool deleteVm = false;
  // DataVolumes (and so their claims) to release from the VM before it is
  // deleted: the volumes with deleteOnTermination false, which must outlive
  // the instance as EBS volumes do.
  std::vector<std::string> keepVolumes;
  std::optional<nlohmann::json> applyNetworkPolicy;
  bool deleteNetworkPolicy = false;
  std::optional<nlohmann::json> status;  // the whole new status, when it changed
  std::vector<InstanceEvent> events;
  // Come back after this long (a retention to wait out, a poll), or with
  // the key's exponential backoff (a Secret that has no watch).
  std::optional<std::chrono::milliseconds> requeueAfter;
  bool retryWithBackoff = false;
};

// The Secrets to read before planning: only when a VM is about to be
// written without the cloud-init it was launched with (user data and keys
// are read at launch, as EC2 reads them at first boot; docs/instances.md).
std::vector<SecretNeed> secretsNeeded(const v1::Instance& instance, const LaunchResolution& launch,
                                      const nlohmann::json* vm);

InstancePlan planInstance(const InstanceObservation& o);

// Whether every member of `want` is in `have` with the same value (arrays:
// same length, element by element): an applied configuration is in force.
bool containedIn(const nlohmann::json& want, const nlohmann::json& have);

}  // namespace kubec2::reconcilers
