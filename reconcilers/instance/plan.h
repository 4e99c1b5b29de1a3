// The Instance reconciler's decision: from what was observed (the Instance,
// its template, the VM, its VMI, ...) to the plan of writes that make the
// cluster match (reconcilers/common/plan.h). Pure, so every path is
// table-tested without a cluster; controllers/instance observes and the
// common executor writes. docs/instances.md describes the behaviour.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconcilers/common/applied.h"
#include "reconcilers/common/plan.h"
#include "reconcilers/instance/cloud_init.h"
#include "reconcilers/instance/instance_types.h"
#include "reconcilers/instance/state.h"
#include "reconcilers/launchtemplate/launch.h"

namespace kubec2::reconcilers {

struct InstanceObservation {
  const v1::Instance* instance = nullptr;              // required
  const v1::LaunchTemplate* launchTemplate = nullptr;  // the referenced one, if it exists
  const InstanceTypeCatalog* catalog = nullptr;        // required
  std::vector<std::string> catalogProblems;            // bad entries of the ConfigMap
  bool kubevirtInstalled = true;  // the API server serves kubevirt.io/v1 virtualmachines
  const nlohmann::json* vm = nullptr;
  const nlohmann::json* vmi = nullptr;
  const nlohmann::json* networkPolicy = nullptr;  // networkPolicyName(), if it exists
  std::optional<std::string> nodeZone;            // of the VMI's node
  // The Secrets of secretsToRead(), by name (nullopt: not found).
  std::map<std::string, SecretData> secrets;
  // The operator's cloud-init Secret (cloudInitSecretName()), when
  // cloudInitSecretToRead() asked for it and it exists.
  const nlohmann::json* cloudInitSecret = nullptr;
  // The Snapshots of snapshotsToRead(), by name (nullptr: not found).
  std::map<std::string, std::shared_ptr<const v1::Snapshot>> snapshots;
  // Of restoredDataVolumesToRead(), the DataVolumes that exist, by name.
  std::map<std::string, nlohmann::json> dataVolumes;
  // Of claimsToCheck(), the claims that still exist.
  std::vector<std::string> claimsRemaining;
  // The operator's last apply of each object, when remembered.
  const AppliedRecord* vmApplied = nullptr;
  const AppliedRecord* networkPolicyApplied = nullptr;
  const AppliedRecord* cloudInitApplied = nullptr;
  std::chrono::system_clock::time_point now;
  std::chrono::seconds terminatedRetention{60};
  // Terminating while a load balancer drains it (ELB's deregistration
  // delay): the VM is stopped only after this time. `deregisteringFrom`
  // names the load balancers and target groups, for the status message.
  std::optional<std::chrono::system_clock::time_point> deregisteringUntil{};
  std::string deregisteringFrom{};
};

// What the Instance launches with: its template's version overlaid with its
// own fields. The version is the one in status.launchTemplateVersion, or,
// before status records it, the one the VM's annotation pins, so $Latest
// cannot move between the VM's creation and the first status.
LaunchResolution launchOf(const InstanceObservation& o);

// The Secrets to read before planning: only when the VM is about to be
// rendered for a start (no VM or no VMI: user data and keys are read when
// the instance starts, as EC2 reads them at boot; docs/instances.md).
std::vector<SecretNeed> secretsToRead(const InstanceObservation& o, const LaunchResolution& launch);

// The Snapshots to read before planning a start: those that volumes not
// made yet restore from (a volume a previous start made, in
// status.volumes, has its data already; its Snapshot may be gone).
std::vector<std::string> snapshotsToRead(const InstanceObservation& o,
                                         const LaunchResolution& launch);
// The DataVolumes those volumes would be (INSTANCE-VOLUME): one left from an
// earlier volume of the name (kept when it was removed) would be attached
// instead of the restore, so a start checks first.
std::vector<std::string> restoredDataVolumesToRead(const InstanceObservation& o,
                                                   const LaunchResolution& launch);

// Whether to read the operator's cloud-init Secret: for a start whose user
// data or keys come from a Secret, or whose VM used one (it may go).
bool cloudInitSecretToRead(const InstanceObservation& o, const LaunchResolution& launch);

// The claims to look for while terminating, once the VM is gone: those that
// go with the instance, as its last start made them (status.volumes;
// volumes.h applies EC2's defaults).
std::vector<std::string> claimsToCheck(const InstanceObservation& o,
                                       const LaunchResolution& launch);

// The plan. Its subject is the Instance (status, finalizer, Events).
Plan planInstance(const InstanceObservation& o);

}  // namespace kubec2::reconcilers
