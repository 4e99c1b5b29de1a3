#include "controllers/common/status_cache.h"

namespace kubec2::controllers {

void StatusCache::remember(const std::string& key, std::set<std::string> basedOn,
                           nlohmann::json status) {
  std::lock_guard l(mu_);
  entries_[key] = {std::move(basedOn), std::move(status)};
}

std::optional<nlohmann::json> StatusCache::lookup(const std::string& key,
                                                  const std::string& resourceVersion) {
  std::lock_guard l(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (!it->second.basedOn.count(resourceVersion)) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.status;
}

void StatusCache::forget(const std::string& key) {
  std::lock_guard l(mu_);
  entries_.erase(key);
}

}  // namespace kubec2::controllers
