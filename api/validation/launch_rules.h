// The rules of the launch fields an Instance and a LaunchTemplate version
// share (LaunchSpec: tags, volumes, security groups; api/v1alpha1/instance.yaml),
// written once for both.
#pragma once

#include <string>

#include "api/v1alpha1/types.h"
#include "api/validation/validator.h"

namespace kubec2::api::validation {

// Checks the launch fields of `s`, found at `path` (spec, or
// spec.versions[i].spec):
// - tags: keys of 1 to 128 characters (EC2's tag key limit, counted in
//   UTF-8 characters), not starting with "kubec2:" in any case (reserved
//   for the operator's own tags, as EC2 reserves "aws:");
// - volumes.root: Forbidden with a containerDisk image, whose root disk is
//   ephemeral; volumes.extra[i].name: not root or cloudinit (the instance's
//   own disks), no duplicates;
// - securityGroups: unique names; ports Forbidden with protocol all (which
//   allows every port); toPort only with fromPort and not below it (EC2's
//   port range rule); instance selectors as Kubernetes' label selectors.
void checkLaunchFields(Context& c, const std::string& path, const v1alpha1::InstanceSpec& s);
void checkLaunchFields(Context& c, const std::string& path, const v1alpha1::LaunchSpec& s);

// Warnings about the launch fields of `spec` (raw JSON at `path`): an
// instanceType the catalog does not know, an availabilityZone no node is in.
void warnLaunchFields(const std::string& path, const nlohmann::json& spec,
                      const AdmissionLookups& lookups, Warnings& out);

}  // namespace kubec2::api::validation
