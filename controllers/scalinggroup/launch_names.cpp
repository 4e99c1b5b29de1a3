#include "controllers/scalinggroup/launch_names.h"

#include <algorithm>
#include <utility>

namespace kubec2::controllers {

namespace {
// k8s.io/apimachinery/pkg/util/rand's alphabet for generated names.
constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
// A generated name's random part, and the room left for the prefix in a
// 63-character name (apiserver's names.SimpleNameGenerator).
constexpr std::size_t kSuffixLength = 5;
constexpr std::size_t kMaxPrefixLength = 63 - kSuffixLength;
}  // namespace

LaunchNames::LaunchNames(std::function<std::string()> suffix, kube::Clock::duration ttl)
    : suffix_(std::move(suffix)), ttl_(ttl), rng_(std::random_device{}()) {}

std::string LaunchNames::prefixOf(const std::string& groupName) {
  std::string prefix = groupName + "-";
  if (prefix.size() > kMaxPrefixLength) prefix.resize(kMaxPrefixLength);
  return prefix;
}

std::string LaunchNames::randomSuffix() {
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string s;
  for (std::size_t i = 0; i < kSuffixLength; ++i) s += kAlphabet[pick(rng_)];
  return s;
}

std::vector<std::string> LaunchNames::take(const std::string& key, const std::string& groupName,
                                           std::size_t n,
                                           const std::function<bool(const std::string&)>& exists,
                                           kube::Clock::time_point now) {
  std::lock_guard l(mu_);
  std::vector<std::string> names;
  names.reserve(n);
  if (const auto it = pending_.find(key); it != pending_.end()) {
    auto& waiting = it->second;
    std::erase_if(waiting,
                  [&](const Pending& p) { return now - p.since > ttl_ || exists(p.name); });
    // Those offered now leave the list; `unconfirmed` puts back any that
    // fail again. Those not needed now stay for a later launch.
    const std::size_t reuse = std::min(n, waiting.size());
    for (std::size_t i = 0; i < reuse; ++i) names.push_back(waiting[i].name);
    waiting.erase(waiting.begin(), waiting.begin() + static_cast<std::ptrdiff_t>(reuse));
    if (waiting.empty()) pending_.erase(it);
  }
  const std::string prefix = prefixOf(groupName);
  while (names.size() < n) {
    std::string name = prefix + (suffix_ ? suffix_() : randomSuffix());
    // Never the same name twice in one batch (1 in 14 million per pair).
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

void LaunchNames::unconfirmed(const std::string& key, const std::vector<std::string>& names,
                              kube::Clock::time_point now) {
  if (names.empty()) return;
  std::lock_guard l(mu_);
  auto& waiting = pending_[key];
  for (const auto& name : names)
    if (std::none_of(waiting.begin(), waiting.end(),
                     [&](const Pending& p) { return p.name == name; }))
      waiting.push_back({name, now});
}

void LaunchNames::forget(const std::string& key) {
  std::lock_guard l(mu_);
  pending_.erase(key);
}

std::size_t LaunchNames::pending(const std::string& key) const {
  std::lock_guard l(mu_);
  const auto it = pending_.find(key);
  return it == pending_.end() ? 0 : it->second.size();
}

}  // namespace kubec2::controllers
