// Several policies at once, as EC2 Auto Scaling combines them
// (docs.aws.amazon.com/autoscaling/ec2/userguide/as-scale-based-on-demand.html,
// "Multiple dynamic scaling policies"): the largest wanted capacity wins
// for scale-out; scale-in happens only when no policy holds (no valid
// data) and the policies that have a say agree, to the largest capacity
// any of them still wants; the result is clamped to the bounds in force.
// Pure.
//
// Rules:
//  - Every wanted capacity is a floor: the result is never below any
//    policy's wanted capacity (a disableScaleIn target tracking policy, a
//    predictive forecast).
//  - Above the capacity in force: scale out to the largest (EC2: "the
//    policy that provides the largest capacity").
//  - Below it: scale in only when at least one policy votes for scale-in
//    (Decision::scaleIn), none holds (Decision::holds: never scale in
//    blind) and none wants the capacity kept; to the largest wanted.
//  - Clamped to minSize..maxSize in force; a predictive policy with
//    IncreaseMaxCapacity may raise the maximum (Decision::maxSizeWanted,
//    never above the forecast capacity plus maxCapacityBuffer). A
//    scale-out stopped by the maximum says so in the cause.
//  - ScalingActive is False when any enabled policy is inactive, with the
//    first such policy's reason and every inactive policy's message.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reconcilers/scaling/decision.h"

namespace kubec2::reconcilers::scaling {

struct Combined {
  std::int64_t desired = 0;  // the capacity in force after the decisions
  std::int64_t maxSize = 0;  // the maximum in force after them (raised by IncreaseMaxCapacity)
  bool changed = false;      // desired differs from the group's
  std::string policy;        // the policy whose decision set it, when changed
  // "target tracking cpu-60: average CPU 82% above target 60%, 4 -> 6",
  // with ", stopped at maxSize 10" when the maximum cut it.
  std::string cause;
  bool stoppedAtMax = false;   // a scale-out wanted more than the maximum in force
  PolicyStatus scalingActive;  // the group's ScalingActive condition
};

Combined combine(const std::vector<Decision>& decisions, const GroupState& group);

}  // namespace kubec2::reconcilers::scaling
