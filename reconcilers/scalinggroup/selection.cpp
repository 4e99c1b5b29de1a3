#include "reconcilers/scalinggroup/selection.h"

#include <algorithm>
#include <utility>

namespace kubec2::reconcilers {
namespace {

// The instances that count in a zone: those of the group's capacity.
bool current(const Member& m) {
  return m.lifecycle == Lifecycle::Pending || m.lifecycle == Lifecycle::InService ||
         m.lifecycle == Lifecycle::Unhealthy;
}

bool candidate(const Member& m) {
  return current(m) && !m.protectedFromScaleIn;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Eligible and not unavailable, in the order of `eligible`.
std::vector<std::string> availableZones(const ZonePlan& zones) {
  std::vector<std::string> out;
  for (const auto& z : zones.eligible)
    if (!contains(zones.unavailable, z)) out.push_back(z);
  return out;
}

// Current instances per zone, every available zone present.
std::map<std::string, std::int64_t> countsIn(const std::vector<std::string>& available,
                                             const std::vector<Member>& members) {
  std::map<std::string, std::int64_t> counts;
  for (const auto& z : available) counts[z] = 0;
  for (const auto& m : members) {
    const auto it = counts.find(m.zone);
    if (it != counts.end() && current(m)) ++it->second;
  }
  return counts;
}

// The zone of `available` with the fewest instances, the first on ties.
const std::string& fewest(const std::vector<std::string>& available,
                          const std::map<std::string, std::int64_t>& counts) {
  const std::string* best = &available.front();
  for (const auto& z : available)
    if (counts.at(z) < counts.at(*best)) best = &z;
  return *best;
}

// FNV-1a, 64 bits: the same on every platform and library, unlike std::hash.
std::uint64_t stableHash(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

using Field = std::vector<const Member*>;

// Keeps the members of `field` with the lowest key.
template <typename Key>
void narrow(Field& field, Key key) {
  if (field.size() < 2) return;
  auto best = key(*field.front());
  for (const Member* m : field) best = std::min(best, key(*m));
  std::erase_if(field, [&](const Member* m) { return key(*m) != best; });
}

void applyPolicy(Field& field, const std::string& policy, std::int64_t groupVersion) {
  const auto oldestLaunchTemplate = [groupVersion](const Member& m) {
    return std::pair<int, std::int64_t>(m.launchTemplateVersion == groupVersion ? 1 : 0,
                                        m.launchTemplateVersion);
  };
  if (policy == "OldestLaunchTemplate") {
    narrow(field, oldestLaunchTemplate);
  } else if (policy == "OldestInstance") {
    narrow(field, [](const Member& m) { return m.created.time_since_epoch().count(); });
  } else if (policy == "NewestInstance") {
    narrow(field, [](const Member& m) { return -m.created.time_since_epoch().count(); });
  } else if (policy == "Default") {
    narrow(field, oldestLaunchTemplate);
    narrow(field, [](const Member& m) { return m.lifecycle == Lifecycle::InService ? 1 : 0; });
  }
  // Another name: the webhook refuses it; nothing to narrow by.
}

}  // namespace

ZonePlan zonesFor(const v1::ScalingGroupSpec& spec, const std::vector<NodeView>& nodes) {
  std::set<std::string> all;
  std::set<std::string> schedulable;
  for (const auto& n : nodes) {
    if (n.zone.empty()) continue;
    all.insert(n.zone);
    if (n.schedulable) schedulable.insert(n.zone);
  }
  ZonePlan plan;
  if (spec.availabilityZones && !spec.availabilityZones->empty()) {
    for (const auto& z : *spec.availabilityZones)
      if (!z.empty() && !contains(plan.eligible, z)) plan.eligible.push_back(z);
  } else {
    plan.eligible.assign(all.begin(), all.end());
  }
  for (const auto& z : plan.eligible)
    if (!schedulable.contains(z)) plan.unavailable.push_back(z);
  return plan;
}

std::vector<std::string> launchZones(const ZonePlan& zones, const std::vector<Member>& members,
                                     std::int64_t count) {
  if (count <= 0) return {};
  if (zones.eligible.empty()) return std::vector<std::string>(static_cast<std::size_t>(count));
  const std::vector<std::string> available = availableZones(zones);
  if (available.empty()) return {};
  auto counts = countsIn(available, members);
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string& z = fewest(available, counts);
    ++counts[z];
    out.push_back(z);
  }
  return out;
}

std::optional<Rebalance> rebalanceStep(const ZonePlan& zones, const std::vector<Member>& members) {
  if (zones.eligible.empty()) return std::nullopt;
  const std::vector<std::string> available = availableZones(zones);
  if (available.empty()) return std::nullopt;
  const auto counts = countsIn(available, members);
  const std::string& launchInto = fewest(available, counts);

  // Instances outside every eligible zone, that the group may terminate.
  std::map<std::string, std::int64_t> outside;
  std::set<std::string> terminable;  // zones with an instance scale-in may choose
  for (const auto& m : members) {
    if (!candidate(m)) continue;
    terminable.insert(m.zone);
    if (!contains(zones.eligible, m.zone)) ++outside[m.zone];
  }
  if (!outside.empty()) {
    auto most = outside.begin();
    for (auto it = outside.begin(); it != outside.end(); ++it)
      if (it->second > most->second) most = it;
    return Rebalance{launchInto, most->first};
  }

  const std::string* fullest = nullptr;
  for (const auto& z : available)
    if (terminable.contains(z) && (fullest == nullptr || counts.at(z) > counts.at(*fullest)))
      fullest = &z;
  if (fullest == nullptr || counts.at(*fullest) - counts.at(launchInto) <= 1) return std::nullopt;
  return Rebalance{launchInto, *fullest};
}

std::vector<std::string> scaleInOrder(const std::vector<Member>& members,
                                      const std::vector<std::string>& policies,
                                      std::int64_t groupVersion, const ZonePlan& zones,
                                      std::int64_t count) {
  static const std::vector<std::string> kDefault{"Default"};
  const std::vector<std::string>& inOrder = policies.empty() ? kDefault : policies;

  Field candidates;
  std::map<std::string, std::int64_t> counts;  // current instances per zone, protected too
  for (const auto& m : members) {
    if (!current(m)) continue;
    ++counts[m.zone];
    if (!m.protectedFromScaleIn) candidates.push_back(&m);
  }
  const auto outsideAvailable = [&](const Member& m) {
    return !contains(zones.eligible, m.zone) || contains(zones.unavailable, m.zone);
  };

  std::vector<std::string> chosen;
  while (static_cast<std::int64_t>(chosen.size()) < count && !candidates.empty()) {
    Field field;
    if (zones.eligible.empty()) {
      field = candidates;  // no zones to balance
    } else {
      for (const Member* m : candidates)
        if (outsideAvailable(*m)) field.push_back(m);
      if (field.empty()) {
        // The zones with the most instances and one the group may choose.
        std::int64_t most = 0;
        for (const Member* m : candidates) most = std::max(most, counts[m->zone]);
        for (const Member* m : candidates)
          if (counts[m->zone] == most) field.push_back(m);
      }
    }
    for (const auto& policy : inOrder) {
      if (field.size() < 2) break;
      applyPolicy(field, policy, groupVersion);
    }
    const Member* pick =
        *std::min_element(field.begin(), field.end(), [](const Member* a, const Member* b) {
          const std::uint64_t ha = stableHash(a->name);
          const std::uint64_t hb = stableHash(b->name);
          return ha != hb ? ha < hb : a->name < b->name;
        });
    chosen.push_back(pick->name);
    --counts[pick->zone];
    std::erase(candidates, pick);
  }
  return chosen;
}

}  // namespace kubec2::reconcilers
