#include "api/target_health.h"

namespace kubec2::api {

std::optional<std::int64_t> healthCheckPortNumber(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  std::int64_t n = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  if (n < 1 || n > 65535) return std::nullopt;
  return n;
}

namespace {

// Which report counts when several load balancers or target groups list
// the same instance: lower wins.
int rank(const std::string& state) {
  if (state == "unhealthy") return 0;
  if (state == "initial") return 1;
  if (state == "healthy") return 2;
  if (state == "draining") return 3;
  return 4;  // unused, or a state this reader does not know
}

}  // namespace

void TargetHealthIndex::add(const v1alpha1::LoadBalancer& lb) {
  if (!lb.status || !lb.status->targetGroups) return;
  for (const auto& tg : *lb.status->targetGroups) {
    if (!tg.targets) continue;
    for (const auto& t : *tg.targets) {
      TargetHealthReport r{t.state, t.reason.value_or(""), t.description.value_or(""),
                           lb.metadata.name, tg.name};
      const auto it = byInstance_.find(t.instance);
      if (it == byInstance_.end() || rank(r.state) < rank(it->second.state))
        byInstance_[t.instance] = std::move(r);
    }
  }
}

std::optional<TargetHealthReport> TargetHealthIndex::of(const std::string& instance) const {
  const auto it = byInstance_.find(instance);
  if (it == byInstance_.end()) return std::nullopt;
  return it->second;
}

bool TargetHealthIndex::unhealthy(const std::string& instance) const {
  const auto r = of(instance);
  return r && r->state == "unhealthy";
}

}  // namespace kubec2::api
