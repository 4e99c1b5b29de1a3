// The labels and owner reference every object of an Instance carries.
#pragma once

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

// kubec2's own labels (api/well_known.h): the instance, its scaling group
// when the Instance carries that label, and managed-by.
nlohmann::json instanceLabels(const v1::Instance& instance);

// The VM's labels, on the VM and its template (so the VMI, its pod and
// KubeVirt's metrics carry them): the tags that are valid labels, the
// Instance's own labels over them, then kubec2's over both. Tags and labels
// under compute.kubec2.io/ are skipped: that prefix is the operator's, and a
// tag must not make an Instance look like a scaling group's member.
nlohmann::json vmLabels(const v1::Instance& instance, const v1::LaunchSpec& launch);

// The controller ownerReference to the Instance.
nlohmann::json instanceOwnerReference(const v1::Instance& instance);

}  // namespace kubec2::reconcilers
