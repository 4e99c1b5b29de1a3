// Step scaling, as EC2 Auto Scaling's StepScaling policy with its
// CloudWatch alarm declared inline
// (docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html). Pure.
//
// Rules:
//  - The alarm: the metric of each evaluation (the mean of its samples,
//    aggregated over in-service instances by the controller as
//    metricAggregationType says) compared with threshold by
//    comparisonOperator; breached when it has compared so for
//    evaluationPeriods x periodSeconds (CloudWatch's consecutive periods).
//  - While breached, the step whose interval holds (metric - threshold)
//    applies: lower bound inclusive, upper exclusive, an absent bound
//    open. No step holds it: nothing happens.
//  - ChangeInCapacity adds the adjustment; ExactCapacity sets it;
//    PercentChangeInCapacity adds that percent of the capacity in force,
//    rounded as EC2 documents: above 1 down (12.7 -> 12), between 0 and 1
//    to 1, between -1 and 0 to -1, below -1 up (-6.67 -> -6); then at
//    least minAdjustmentMagnitude instances.
//  - Warmup (EC2): while instances launched by a scale-out are warming up,
//    a scale-out is computed from the capacity without them and acts only
//    when it exceeds the capacity in force (so the same alarm does not add
//    the same step twice).
//  - Cooldown: after this policy's scaling activity it does not act again
//    for cooldownSeconds (absent: spec.defaultCooldownSeconds, which the
//    caller resolves); EC2 applies cooldowns to simple scaling, kubec2's
//    API has them on step policies (a one-step policy is EC2's simple
//    scaling).
//  - A negative adjustment votes for scale-in (Decision::scaleIn); a
//    policy whose alarm is not breached has no opinion. Without valid
//    data the policy holds, and its alarm's breach ends.
//  - After a gap in the evaluations (decision.h's unobservedGap: more than
//    3 x `interval` since the memory's last one, as after an operator
//    restart), the alarm's breach starts again at this evaluation, so its
//    evaluationPeriods are all observed ones: the time not observed never
//    counts toward a step that may lower the capacity. An alarm whose
//    steps all add capacity (ChangeInCapacity or PercentChangeInCapacity,
//    every adjustment above 0) keeps counting across the gap instead: a
//    scale-out is not delayed by it.
#pragma once

#include <string>

#include "reconcilers/scaling/decision.h"

namespace kubec2::reconcilers::scaling {

// The change a PercentChangeInCapacity step makes to `capacity`, rounded
// as EC2 does and at least `minMagnitude` instances (0 for none).
std::int64_t percentChange(std::int64_t capacity, double percent, std::int64_t minMagnitude);

// The decision of step scaling policy `name` at `now`. `cooldown`: the
// policy's cooldownSeconds, or else the group's defaultCooldownSeconds.
// `interval`: the interval the policy is evaluated at (the gap rule; 0:
// none).
Decision decideStepScaling(const std::string& name, const v1::StepScaling& spec,
                           const Metric& metric, const GroupState& group,
                           const PolicyMemory& memory, TimePoint now, Seconds cooldown,
                           Seconds interval);

}  // namespace kubec2::reconcilers::scaling
