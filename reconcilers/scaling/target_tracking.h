// Target tracking, as EC2 Auto Scaling's TargetTrackingScaling policy
// (docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html):
// keep a metric near a target by making the capacity
//     wanted = ceil(in-service capacity x metric / target)
// Pure; docs/scaling-policies.md says how kubec2's defaults differ from
// EC2's and why, with the replay figures behind them.
//
// Rules:
//  - The metric of one evaluation is the mean of its samples (one
//    evaluation period: since the previous evaluation). Instances in
//    warmup are not in it (the controller averages over in-service
//    instances only) but count as capacity toward a scale-out in progress:
//    the policy scales out only when its wanted capacity exceeds the
//    capacity in force (which includes them), and never scales in while
//    any instance is warming up.
//  - Scale-out: when the wanted capacity exceeds the capacity in force for
//    `scaleOutAfter` (EC2: 3 one-minute periods above the target, so
//    180 s; kubec2: the first evaluation).
//  - Scale-in: when the metric is below `scaleInBelow` x target (EC2's low
//    alarm: 90 % of the target) and the wanted capacity is below the
//    capacity in force for `scaleInAfter` (EC2: 15 one-minute periods;
//    kubec2: 5 minutes, the HPA's stabilisation window); kubec2 then
//    scales in to the peak load of that window rather than to the last
//    period's. After a scale-in the window starts again. disableScaleIn:
//    never (the wanted capacity is then only a floor for the other
//    policies).
//  - The load is in capacity units: in-service x metric / target (the
//    instances needed at the target). kubec2 extrapolates its rising trend
//    (least squares over `trendWindow`, its slope at most that of the last
//    `trendRecentWindow`) over the time a launch takes to count
//    (GroupState::timeToInService plus one period), because what it
//    launches now serves the load of then, and keeps `headroom` above it.
//  - ASGAverageCPUUtilization cannot exceed 100 %: at the ceiling the load
//    is only known to be at least what it shows, and kubec2 multiplies it
//    by `saturatedGrowth`.
//  - Without valid data (decision.h's NoData), or without an instance in
//    service to measure it, the policy holds: no opinion (or the capacity
//    in force), `holds` set, ScalingActive False with the cause; a wait
//    toward scale-in ends there (nothing is observed while holding).
//  - After a gap in the evaluations (decision.h's unobservedGap: more than
//    3 x `interval` since the memory's last one, as after an operator
//    restart), the scale-in wait starts again at this evaluation, so
//    scale-in waits its whole `scaleInAfter` on loads observed since: the
//    loads remembered from before the gap can then never size a scale-in
//    (the window's peak is taken within that wait), and the time not
//    observed never counts toward one. A scale-out is not delayed: its
//    breach may still count from before the gap (the load then may have
//    been high; erring early errs toward capacity; kubec2's scale-out acts
//    at the first evaluation anyway), and the trend may still use loads
//    from before the gap (it only ever raises a scale-out).
#pragma once

#include <string>

#include "reconcilers/scaling/decision.h"

namespace kubec2::reconcilers::scaling {

struct TargetTrackingTuning {
  Seconds scaleOutAfter{0};   // how long the capacity must be short before scaling out
  Seconds scaleInAfter{300};  // how long it must be in excess before scaling in
  double scaleInBelow = 1.0;  // a period allows scale-in only below this fraction of the target
  bool scaleInToWindowPeak = true;  // scale in to the window's peak load (false: the last one)
  Seconds trendWindow{600};         // least-squares trend of the load; 0: none
  double trendMinT = 3;             // a trend counts when this many standard errors above 0
  // The slope extrapolated is at most the least-squares slope of this
  // recent part of the window (0: the whole window's): a step in the load
  // leaves a steep line through the trend window for as long as the step
  // is in it, but a flat one through the minutes after it.
  Seconds trendRecentWindow{180};
  double headroom = 0.0;          // capacity kept above the (extrapolated) load, a fraction
  double saturatedGrowth = 1.25;  // load factor when a percent metric is at 100 %
  // The interval the policy is evaluated at: more than 3 of them between
  // two evaluations is a gap (decision.h's unobservedGap). 0: no gap rule.
  Seconds interval{15};
};

// EC2's published behaviour: 3 one-minute periods above the target to scale
// out, 15 below 90 % of it to scale in, no extrapolation, no headroom.
inline constexpr TargetTrackingTuning kEc2TargetTracking{
    .scaleOutAfter = Seconds{180},
    .scaleInAfter = Seconds{900},
    .scaleInBelow = 0.9,
    .scaleInToWindowPeak = false,
    .trendWindow = Seconds{0},
    .trendMinT = 0,
    .trendRecentWindow = Seconds{0},
    .headroom = 0.0,
    .saturatedGrowth = 1.0,
    .interval = Seconds{60},
};

// kubec2's defaults (docs/scaling-policies.md, "Target tracking").
inline constexpr TargetTrackingTuning kKubec2TargetTracking{};

// The decision of target tracking policy `name` at `now`. `metric` holds
// the samples of this evaluation period; `memory` what the last
// evaluation returned.
Decision decideTargetTracking(const std::string& name, const v1::TargetTrackingScaling& spec,
                              const Metric& metric, const GroupState& group,
                              const PolicyMemory& memory, TimePoint now,
                              const TargetTrackingTuning& tuning = kKubec2TargetTracking);

}  // namespace kubec2::reconcilers::scaling
