// A ScalingGroup's warm pool (spec.warmPool), as EC2's: prepared instances
// beside the group, labelled compute.kubec2.io/warm-pool=true, that do not
// count in its capacity, take no traffic and are not in its selector's
// service; scale-out takes them before launching new ones. Pure.
//
//  - Size: max(warmPool.minSize, maxGroupPreparedCapacity - desired), where
//    maxGroupPreparedCapacity defaults to the group's maxSize in force.
//  - A warm instance launches running (its user data runs, as EC2's warm
//    instances boot once), is marked prepared (annotation
//    compute.kubec2.io/warm-pool-prepared=true) once it has been running,
//    and then waits in poolState: stopped (desiredState stopped) or running.
//  - Scale-out: prepared warm instances of the group's launch template
//    version move into the group (label removed, desiredState running)
//    before new instances launch; unprepared ones are not taken.
//  - Scale-in with reuseOnScaleIn: instances of the group's version go back
//    to the pool (label set, stopped when poolState is Stopped) instead of
//    terminating; others terminate.
//  - Warm instances of another version, and those beyond the pool's size
//    (oldest first), terminate; the pool is refilled by launching.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reconcilers/scalinggroup/members.h"

namespace kubec2::reconcilers {

struct WarmPoolDecision {
  std::int64_t size = 0;                 // the pool's target size
  std::vector<std::string> intoService;  // warm instances the group takes now
  std::vector<std::string> toPool;       // in-service instances returned on scale-in
  std::vector<std::string> terminate;    // warm instances to terminate
  std::int64_t launches = 0;             // new warm instances to launch
  std::vector<std::string> prepare;      // warm instances to mark prepared and put in poolState
};

// `scaleOut`: instances the group needs beyond those it has; `scaleIn`: the
// instances chosen to leave it (selection.h's scaleInOrder), which go to the
// pool or are terminated by the caller. No decision (size 0, nothing to do)
// without spec.warmPool.
WarmPoolDecision decideWarmPool(const v1::ScalingGroup& group, const std::vector<Member>& members,
                                std::int64_t desired, std::int64_t maxSize,
                                std::int64_t groupVersion, std::int64_t scaleOut,
                                const std::vector<std::string>& scaleIn);

}  // namespace kubec2::reconcilers
