#include "reconcilers/scaling/combine.h"

#include <algorithm>

namespace kubec2::reconcilers::scaling {

Combined combine(const std::vector<Decision>& decisions, const GroupState& group) {
  Combined c;
  c.desired = group.desired;
  c.maxSize = group.maxSize;

  // The maximum in force: raised while a predictive policy needs it.
  for (const auto& d : decisions) {
    if (d.maxSizeWanted && *d.maxSizeWanted > c.maxSize) c.maxSize = *d.maxSizeWanted;
  }

  const Decision* top = nullptr;
  bool holds = false, vote = false;
  for (const auto& d : decisions) {
    holds = holds || d.holds;
    vote = vote || (d.scaleIn && d.wanted && *d.wanted < group.desired);
    if (d.wanted && (!top || *d.wanted > *top->wanted)) top = &d;
  }

  std::int64_t target = group.desired;
  if (top && *top->wanted > group.desired) {
    target = *top->wanted;
  } else if (top && *top->wanted < group.desired && vote && !holds) {
    // Every policy with a say wants less: the largest of them. Prefer
    // naming a policy that voted for scale-in.
    target = *top->wanted;
    for (const auto& d : decisions) {
      if (d.scaleIn && d.wanted && *d.wanted == target) top = &d;
    }
  }

  const std::int64_t lo = std::min(group.minSize, c.maxSize);
  std::int64_t clamped = std::clamp(target, lo, c.maxSize);
  if (target > c.maxSize && target > group.desired) c.stoppedAtMax = true;
  // A desired capacity above a maximum just lowered by a schedule is not
  // this function's to change unless a policy moved it.
  if (target == group.desired) clamped = group.desired;
  if (clamped != group.desired && top) {
    c.desired = clamped;
    c.changed = true;
    c.policy = top->policy;
    c.cause = top->cause;
    if (c.stoppedAtMax) {
      c.cause += ", stopped at maxSize " + std::to_string(c.maxSize);
    } else if (clamped != target) {
      c.cause += ", clamped to minSize " + std::to_string(lo);
    }
  } else if (c.stoppedAtMax && top) {
    c.cause = top->cause + ", stopped at maxSize " + std::to_string(c.maxSize);
  }

  c.scalingActive = {true, "ValidMetrics", "every policy reads its metric"};
  std::string messages;
  for (const auto& d : decisions) {
    if (d.status.active) continue;
    if (c.scalingActive.active) c.scalingActive = {false, d.status.reason, ""};
    if (!messages.empty()) messages += "; ";
    messages += d.status.message;
  }
  if (!c.scalingActive.active) c.scalingActive.message = messages;
  if (decisions.empty()) c.scalingActive = {false, "NoPolicies", "no enabled scaling policy"};
  return c;
}

}  // namespace kubec2::reconcilers::scaling
