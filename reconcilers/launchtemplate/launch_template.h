// A LaunchTemplate's status: its latest and default version numbers and a
// Ready condition, as a plan (no other object is written for a template).
#pragma once

#include <chrono>

#include "api/v1alpha1/types.h"
#include "reconcilers/common/plan.h"

namespace kubec2::reconcilers {

namespace v1 = kubec2::api::v1alpha1;

// status.latestVersion = the number of versions; status.defaultVersion =
// spec.defaultVersion (1 when unset); Ready True (Published) while the
// default version exists, False (DefaultVersionMissing) otherwise, with a
// message such as "3 versions; $Latest is version 3, $Default is version 2".
// An empty plan when the status already says so.
Plan planLaunchTemplate(const v1::LaunchTemplate& lt, std::chrono::system_clock::time_point now);

}  // namespace kubec2::reconcilers
