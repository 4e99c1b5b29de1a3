#include "reconcilers/scalinggroup/warm_pool.h"

#include <algorithm>
#include <map>
#include <set>

namespace kubec2::reconcilers {

namespace {

// The warm pool's names on an Instance, named here only (the label is read
// by memberOf as Member::warm; the caller writes both).
constexpr const char* kWarmPoolPreparedAnnotation = "compute.kubec2.io/warm-pool-prepared";

bool prepared(const Member& m) {
  if (!m.instance) return false;
  const auto& annotations = m.instance->metadata.annotations;
  const auto it = annotations.find(kWarmPoolPreparedAnnotation);
  return it != annotations.end() && it->second == "true";
}

bool running(const Member& m) {
  return m.instance && m.instance->status && m.instance->status->state == "running";
}

bool olderFirst(const Member* a, const Member* b) {
  if (a->created != b->created) return a->created < b->created;
  return a->name < b->name;
}

std::int64_t count(std::size_t n) {
  return static_cast<std::int64_t>(n);
}

}  // namespace

WarmPoolDecision decideWarmPool(const v1::ScalingGroup& group, const std::vector<Member>& members,
                                std::int64_t desired, std::int64_t maxSize,
                                std::int64_t groupVersion, std::int64_t scaleOut,
                                const std::vector<std::string>& scaleIn) {
  WarmPoolDecision d;
  const auto& pool = group.spec.warmPool;
  if (!pool) return d;
  const std::int64_t maxPrepared = pool->maxGroupPreparedCapacity.value_or(maxSize);
  d.size = std::max<std::int64_t>({pool->minSize.value_or(0), maxPrepared - desired, 0});

  // The pool: warm members not already terminating. Another version goes
  // (one not known yet, 0, stays until it is).
  std::vector<const Member*> keep;
  for (const auto& m : members) {
    if (!m.warm || m.lifecycle == Lifecycle::Terminating) continue;
    if (m.launchTemplateVersion != 0 && m.launchTemplateVersion != groupVersion) {
      d.terminate.push_back(m.name);
    } else {
      keep.push_back(&m);
    }
  }
  std::stable_sort(keep.begin(), keep.end(), olderFirst);

  // Scale-out: prepared instances of the group's version, running ones
  // first (ready at once), then the oldest.
  std::vector<const Member*> ready;
  for (const auto* m : keep)
    if (prepared(*m) && m->launchTemplateVersion == groupVersion) ready.push_back(m);
  std::stable_sort(ready.begin(), ready.end(),
                   [](const Member* a, const Member* b) { return running(*a) && !running(*b); });
  std::set<std::string> taken;
  for (const auto* m : ready) {
    if (count(d.intoService.size()) >= scaleOut) break;
    d.intoService.push_back(m->name);
    taken.insert(m->name);
  }
  std::erase_if(keep, [&](const Member* m) { return taken.contains(m->name); });

  // Beyond the pool's size: the oldest go.
  const std::int64_t excess = count(keep.size()) - d.size;
  for (std::int64_t i = 0; i < excess; ++i)
    d.terminate.push_back(keep[static_cast<std::size_t>(i)]->name);
  if (excess > 0) keep.erase(keep.begin(), keep.begin() + excess);

  // Scale-in with reuse: in-service instances of the group's version return
  // to the pool while it has room; the others are the caller's to terminate.
  if (pool->reuseOnScaleIn.value_or(false)) {
    std::map<std::string, const Member*> byName;
    for (const auto& m : members) byName.emplace(m.name, &m);
    for (const auto& name : scaleIn) {
      if (count(keep.size() + d.toPool.size()) >= d.size) break;
      const auto it = byName.find(name);
      if (it == byName.end()) continue;
      const Member& m = *it->second;
      if (m.warm || m.lifecycle != Lifecycle::InService || m.launchTemplateVersion != groupVersion)
        continue;
      d.toPool.push_back(name);
    }
  }

  d.launches = std::max<std::int64_t>(0, d.size - count(keep.size() + d.toPool.size()));
  for (const auto* m : keep)
    if (!prepared(*m) && running(*m)) d.prepare.push_back(m->name);
  return d;
}

}  // namespace kubec2::reconcilers
