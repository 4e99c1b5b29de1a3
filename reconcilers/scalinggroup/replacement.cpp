#include "reconcilers/scalinggroup/replacement.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "runtime/timefmt.h"

namespace kubec2::reconcilers {

namespace {

// The group annotation whose new value asks for a refresh of every
// instance (named here only; no other code reads it).
constexpr const char* kInstanceRefreshAnnotation = "compute.kubec2.io/instance-refresh";

constexpr std::int64_t kDefaultMinHealthy = 90;
constexpr std::int64_t kDefaultMaxHealthy = 100;
constexpr std::int64_t kDefaultCheckpointDelay = 3600;
constexpr std::int64_t kDefaultGracePeriod = 300;

bool isCurrent(const Member& m) {
  return !m.warm && (m.lifecycle == Lifecycle::Pending || m.lifecycle == Lifecycle::InService ||
                     m.lifecycle == Lifecycle::Unhealthy);
}

bool warmedUp(const Member& m, std::chrono::seconds warmup, Time now) {
  return m.lifecycle == Lifecycle::InService && m.inServiceSince &&
         now - *m.inServiceSince >= warmup;
}

std::int64_t ceilPercent(std::int64_t n, std::int64_t pct) {
  return n <= 0 || pct <= 0 ? 0 : (n * pct + 99) / 100;
}
std::int64_t floorPercent(std::int64_t n, std::int64_t pct) {
  return n <= 0 || pct <= 0 ? 0 : n * pct / 100;
}

std::int64_t count(std::size_t n) {
  return static_cast<std::int64_t>(n);
}

std::string plural(std::int64_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

}  // namespace

RollingStep rollingStep(const std::vector<Member>& members,
                        const std::vector<std::string>& toReplace, std::int64_t desired,
                        std::int64_t minHealthyPercentage, std::int64_t maxHealthyPercentage,
                        std::chrono::seconds warmup, Time now) {
  RollingStep step;
  desired = std::max<std::int64_t>(desired, 0);
  const std::int64_t minHealthy = ceilPercent(desired, minHealthyPercentage);
  const std::int64_t maxTotal = std::max(desired, floorPercent(desired, maxHealthyPercentage));

  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < toReplace.size(); ++i) position.emplace(toReplace[i], i);

  std::int64_t currentCount = 0;
  std::int64_t healthy = 0;
  bool othersSettled = true;  // every current instance not to replace is in service, warmed up
  std::vector<const Member*> old;
  for (const auto& m : members) {
    if (!isCurrent(m)) continue;
    ++currentCount;
    const bool warmed = warmedUp(m, warmup, now);
    if (warmed) ++healthy;
    if (position.contains(m.name)) {
      old.push_back(&m);
    } else if (!warmed) {
      othersSettled = false;
    }
  }
  // Not in service first (Unhealthy, then Pending), then in service but not
  // warmed up (it does not count towards the minimum), then the rest; the
  // caller's order within each.
  auto rank = [&](const Member* m) {
    if (m->lifecycle == Lifecycle::Unhealthy) return 0;
    if (m->lifecycle == Lifecycle::Pending) return 1;
    return warmedUp(*m, warmup, now) ? 3 : 2;
  };
  std::stable_sort(old.begin(), old.end(), [&](const Member* a, const Member* b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    return position[a->name] < position[b->name];
  });

  std::int64_t budget = healthy - minHealthy;  // warmed-up instances that may go
  std::size_t next = 0;
  // Not in service: they serve nothing, so they go at once.
  for (; next < old.size() && rank(old[next]) < 2; ++next)
    step.terminate.push_back(old[next]->name);
  // In service but still warming up: they serve, and do not count towards
  // the minimum, so they wait until warmed up (as EC2 waits for warming
  // instances rather than replacing them).
  std::size_t warming = 0;
  while (next + warming < old.size() && rank(old[next + warming]) == 2) ++warming;
  std::size_t taken = next + warming;
  for (; taken < old.size() && budget > 0; ++taken, --budget)
    step.terminate.push_back(old[taken]->name);
  next = taken;
  const std::int64_t oldLeft = count(old.size() - step.terminate.size());
  step.extraLaunches = std::min(maxTotal - desired, oldLeft);
  // One at a time at the least: nothing chosen, no launch ahead allowed,
  // the group full and settled.
  if (step.terminate.empty() && step.extraLaunches == 0 && oldLeft > 0 && othersSettled &&
      currentCount >= desired && warming == 0 && next < old.size()) {
    step.terminate.push_back(old[next]->name);
  }

  if (count(old.size()) > count(step.terminate.size())) {
    for (const auto& m : members) {
      if (!isCurrent(m) || m.lifecycle != Lifecycle::InService || !m.inServiceSince) continue;
      const Time ready = *m.inServiceSince + warmup;
      if (ready > now && (!step.wakeUp || ready < *step.wakeUp)) step.wakeUp = ready;
    }
  }
  return step;
}

namespace {

using RefreshStatus = v1::ScalingGroupInstanceRefreshStatus;

bool isActive(const std::optional<RefreshStatus>& s) {
  return s && (s->status == "Pending" || s->status == "InProgress");
}

std::string versionText(const RefreshStatus& s) {
  return s.targetVersion ? "version " + std::to_string(*s.targetVersion) : "an unknown version";
}

std::chrono::seconds warmupOf(const v1::ScalingGroupSpec& spec,
                              const v1::ScalingGroupInstanceRefresh& refresh) {
  if (refresh.instanceWarmupSeconds) return std::chrono::seconds(*refresh.instanceWarmupSeconds);
  if (spec.defaultInstanceWarmupSeconds)
    return std::chrono::seconds(*spec.defaultInstanceWarmupSeconds);
  if (spec.healthCheck && spec.healthCheck->gracePeriodSeconds)
    return std::chrono::seconds(*spec.healthCheck->gracePeriodSeconds);
  return std::chrono::seconds(kDefaultGracePeriod);
}

// The cut-off for "launched before the refresh": its startTime, to the
// second as the API server writes creation timestamps.
std::optional<Time> startOf(const RefreshStatus& s) {
  if (!s.startTime) return std::nullopt;
  return kube::parseRfc3339Utc(*s.startTime);
}

// Where a refresh in progress stands against the group.
struct Progress {
  std::vector<std::string> toReplace;  // in the order to replace them (oldest first)
  std::int64_t total = 0;              // instances the refresh replaces, done or not
  std::int64_t complete = 0;           // replaced, successor in service and warmed up
  std::int64_t percentage = 100;
  std::optional<Time> nextWarmedUp;  // when a successor in service ends its warmup
};

Progress progressOf(const std::vector<Member>& members, std::int64_t target, bool skipMatching,
                    std::optional<Time> start, std::int64_t desired, std::chrono::seconds warmup,
                    Time now) {
  Progress p;
  std::vector<const Member*> old;
  std::int64_t current = 0;
  std::int64_t launched = 0;  // successors: launched by the refresh, at the target version
  for (const auto& m : members) {
    if (!isCurrent(m)) continue;
    ++current;
    if (m.launchTemplateVersion == 0) continue;  // not known yet: left alone
    const bool before = start && m.created < *start;
    if (m.launchTemplateVersion != target || (!skipMatching && (before || !start))) {
      old.push_back(&m);
      continue;
    }
    if (before) continue;  // already matching when the refresh started: skipped
    ++launched;
    if (warmedUp(m, warmup, now)) {
      ++p.complete;
    } else if (m.lifecycle == Lifecycle::InService && m.inServiceSince) {
      const Time ready = *m.inServiceSince + warmup;
      if (!p.nextWarmedUp || ready < *p.nextWarmedUp) p.nextWarmedUp = ready;
    }
  }
  std::stable_sort(old.begin(), old.end(), [](const Member* a, const Member* b) {
    if (a->created != b->created) return a->created < b->created;
    return a->name < b->name;
  });
  for (const auto* m : old) p.toReplace.push_back(m->name);
  const std::int64_t left = count(old.size());
  const std::int64_t surplus = std::max<std::int64_t>(0, current - desired);
  p.total = left + std::max<std::int64_t>(0, launched - surplus);
  p.complete = std::min(p.complete, p.total - left);
  p.percentage = p.total == 0 ? 100 : p.complete * 100 / p.total;
  return p;
}

}  // namespace

RefreshDecision decideRefresh(const v1::ScalingGroup& group, const std::vector<Member>& members,
                              std::int64_t targetVersion,
                              std::optional<std::int64_t> previousVersion,
                              const RefreshMemory& memory, std::int64_t desired, bool suspended,
                              Time now) {
  RefreshDecision d;
  d.memory = memory;
  const std::optional<RefreshStatus> previous =
      group.status ? group.status->instanceRefresh : std::nullopt;
  d.status = previous;
  const std::string nowText = kube::formatRfc3339(now);

  // A refresh on request: the annotation's value differs from the one last
  // taken into account. A group never reconciled takes the value in as is.
  const auto& annotations = group.metadata.annotations;
  const auto annotation = annotations.find(kInstanceRefreshAnnotation);
  const std::string token = annotation == annotations.end() ? "" : annotation->second;
  const bool requested = annotation != annotations.end() && token != memory.requestToken &&
                         previousVersion.has_value();
  d.memory.requestToken = token;

  auto cancel = [&](const std::string& why) {
    RefreshStatus s = *previous;
    s.status = "Cancelled";
    s.endTime = nowText;
    s.message = why;
    d.status = s;
    d.activities.push_back("instance refresh to " + versionText(s) + " cancelled: " + why);
    d.memory.checkpointPercentage = 0;
    d.memory.checkpointTime.reset();
  };

  const auto& spec = group.spec.instanceRefresh;
  if (!spec) {
    if (isActive(previous)) cancel("spec.instanceRefresh was removed");
    if (requested)
      d.activities.push_back("instance refresh requested (" +
                             std::string(kInstanceRefreshAnnotation) + "=" + token +
                             ") ignored: spec.instanceRefresh is not set");
    return d;
  }

  // Start, supersede or carry on.
  bool start = false;
  bool skipMatching = true;
  if (requested) {
    if (isActive(previous)) cancel("superseded by a refresh on request");
    start = true;
    skipMatching = false;
  } else if (isActive(previous) && previous->targetVersion != targetVersion) {
    cancel("superseded by version " + std::to_string(targetVersion));
    start = true;
  } else if (!isActive(previous) && previousVersion && *previousVersion != targetVersion) {
    start = true;
  }

  RefreshStatus s;
  if (start) {
    d.memory.skipMatching = skipMatching;
    d.memory.checkpointPercentage = 0;
    d.memory.checkpointTime.reset();
    s.targetVersion = targetVersion;
  } else if (isActive(previous)) {
    s = *previous;
  } else {
    return d;  // nothing in progress
  }

  const std::int64_t minHealthy = spec->minHealthyPercentage.value_or(kDefaultMinHealthy);
  const std::int64_t maxHealthy = spec->maxHealthyPercentage.value_or(kDefaultMaxHealthy);
  const std::chrono::seconds warmup = warmupOf(group.spec, *spec);
  const std::string what = "instance refresh to " + versionText(s);
  d.inProgress = true;

  if (suspended) {
    if (!start && s.status != "Pending")
      d.activities.push_back(what + " paused: the InstanceRefresh process is suspended");
    s.status = "Pending";
    s.message = "waiting: the InstanceRefresh process is suspended";
    if (start) {
      Progress p = progressOf(members, targetVersion, d.memory.skipMatching, std::nullopt, desired,
                              warmup, now);
      s.percentageComplete = 0;
      s.instancesToUpdate = count(p.toReplace.size());
      d.activities.push_back(what + " pending (" + plural(*s.instancesToUpdate, "instance") +
                             " to replace): the InstanceRefresh process is suspended");
    }
    d.conditionMessage = what + " pending: the InstanceRefresh process is suspended";
    d.status = s;
    return d;
  }

  s.status = "InProgress";
  // When it first runs: instances launched since are its successors (kept
  // when a suspension paused it, so they are not replaced again).
  if (!s.startTime) s.startTime = nowText;
  const std::optional<Time> startTime = startOf(s);
  Progress p =
      progressOf(members, targetVersion, d.memory.skipMatching, startTime, desired, warmup, now);
  s.percentageComplete = p.percentage;
  s.instancesToUpdate = p.total - p.complete;
  if (start) {
    d.activities.push_back(what + " started (" + plural(p.total, "instance") + " to replace" +
                           (d.memory.skipMatching ? "" : ", on request") + ")");
  }

  auto succeed = [&](const std::string& why) {
    s.status = "Successful";
    s.endTime = nowText;
    s.message = why;
    d.status = s;
    d.inProgress = false;
    d.conditionMessage = what + " successful";
    d.activities.push_back(what + " successful: " + why);
    d.memory.checkpointTime.reset();
  };
  if (p.toReplace.empty() && p.complete == p.total) {
    succeed("every instance replaced");
    return d;
  }

  // Checkpoints: wait out the one reached, then head for the next.
  const std::vector<std::int64_t> checkpoints =
      spec->checkpointPercentages.value_or(std::vector<std::int64_t>{});
  const auto delay =
      std::chrono::seconds(spec->checkpointDelaySeconds.value_or(kDefaultCheckpointDelay));
  if (d.memory.checkpointTime) {
    const Time until = *d.memory.checkpointTime + delay;
    if (now < until) {
      s.message = "checkpoint " + std::to_string(d.memory.checkpointPercentage) +
                  "%: waiting until " + kube::formatRfc3339(until);
      d.conditionMessage = what + ": " + *s.message;
      d.step.wakeUp = until;
      d.status = s;
      return d;
    }
    d.memory.checkpointTime.reset();
    d.activities.push_back(what + ": checkpoint " + std::to_string(d.memory.checkpointPercentage) +
                           "% passed, resuming");
  }
  std::int64_t reached = 0;  // the highest checkpoint not yet taken that the progress reached
  std::optional<std::int64_t> ahead;
  for (std::int64_t c : checkpoints) {
    if (c <= d.memory.checkpointPercentage) continue;
    if (p.percentage >= c) {
      reached = c;
    } else {
      if (!ahead) ahead = c;
    }
  }
  if (reached > 0) {
    d.memory.checkpointPercentage = reached;
    if (!ahead) {  // the last checkpoint, below 100 (at 100 the refresh is done above)
      succeed("stopped at its last checkpoint, " + std::to_string(reached) + "%");
      return d;
    }
    d.memory.checkpointTime = now;
    s.message = "checkpoint " + std::to_string(reached) + "%: waiting until " +
                kube::formatRfc3339(now + delay);
    d.activities.push_back("checkpoint " + std::to_string(reached) + "%: waiting " +
                           std::to_string(delay.count()) + " s");
    d.conditionMessage = what + ": " + *s.message;
    d.step.wakeUp = now + delay;
    d.status = s;
    return d;
  }

  d.step = rollingStep(members, p.toReplace, desired, minHealthy, maxHealthy, warmup, now);
  if (ahead) {
    // Replace no more than the next checkpoint needs: instances done or in
    // flight count against it.
    const std::int64_t needed = (p.total * *ahead + 99) / 100;
    const std::int64_t allowance =
        std::max<std::int64_t>(0, needed - (p.total - count(p.toReplace.size())));
    if (count(d.step.terminate.size()) > allowance)
      d.step.terminate.resize(static_cast<std::size_t>(allowance));
    d.step.extraLaunches =
        std::min(d.step.extraLaunches,
                 std::max<std::int64_t>(0, allowance - count(d.step.terminate.size())));
  }
  if (p.nextWarmedUp && (!d.step.wakeUp || *p.nextWarmedUp < *d.step.wakeUp))
    d.step.wakeUp = p.nextWarmedUp;

  std::map<std::string, const Member*> byName;
  for (const auto& m : members) byName.emplace(m.name, &m);
  for (const auto& name : d.step.terminate) {
    const Member* m = byName[name];
    if (m->launchTemplateVersion != targetVersion) {
      d.activities.push_back("replacing " + name + " (launch template version " +
                             std::to_string(m->launchTemplateVersion) + ", group at " +
                             std::to_string(targetVersion) + ")");
    } else {
      d.activities.push_back("replacing " + name + " (launched before the refresh on request)");
    }
  }
  s.message = std::to_string(p.percentage) + "% complete, " +
              plural(p.total - p.complete, "instance") + " to update";
  d.conditionMessage = what + ": " + *s.message;
  d.status = s;
  return d;
}

std::vector<std::string> pastLifetime(const v1::ScalingGroupSpec& spec,
                                      const std::vector<Member>& members, Time now) {
  if (!spec.maxInstanceLifetimeSeconds || *spec.maxInstanceLifetimeSeconds <= 0) return {};
  const auto limit = std::chrono::seconds(*spec.maxInstanceLifetimeSeconds);
  std::vector<const Member*> old;
  for (const auto& m : members)
    if (isCurrent(m) && now - m.created > limit) old.push_back(&m);
  std::stable_sort(old.begin(), old.end(), [](const Member* a, const Member* b) {
    if (a->created != b->created) return a->created < b->created;
    return a->name < b->name;
  });
  std::vector<std::string> out;
  out.reserve(old.size());
  for (const auto* m : old) out.push_back(m->name);
  return out;
}

}  // namespace kubec2::reconcilers
