#include "controllers/common/status_cache.h"

#include <algorithm>

namespace kubec2::controllers {

void StatusCache::remember(const std::string& key, nlohmann::json replaced,
                           nlohmann::json written) {
  std::lock_guard l(mu_);
  const auto it = entries_.find(key);
  if (it != entries_.end() && it->second.written == replaced) {
    it->second.replaced.push_back(std::move(replaced));
    it->second.written = std::move(written);
    return;
  }
  entries_[key] = {{std::move(replaced)}, std::move(written)};
}

std::optional<nlohmann::json> StatusCache::lookup(const std::string& key,
                                                  const nlohmann::json& cached) {
  std::lock_guard l(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  const auto& r = it->second.replaced;
  if (std::find(r.begin(), r.end(), cached) == r.end()) {
    entries_.erase(it);  // caught up with the write, or somebody wrote after it
    return std::nullopt;
  }
  return it->second.written;
}

bool StatusCache::holds(const std::string& key) {
  std::lock_guard l(mu_);
  return entries_.count(key) > 0;
}

void StatusCache::forget(const std::string& key) {
  std::lock_guard l(mu_);
  entries_.erase(key);
}

}  // namespace kubec2::controllers
