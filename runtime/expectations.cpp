#include "runtime/expectations.h"

#include <stdexcept>

#include "runtime/log.h"

namespace kube {

Expectations::Expectations(ExpectationsOptions opts)
    : opts_(opts), clock_(opts.clock ? *opts.clock : SystemClock::instance()) {
  if (opts_.ttl <= Clock::duration::zero())
    throw std::invalid_argument("expectations: ttl must be positive");
}

void Expectations::expectCreations(const std::string& key, std::int64_t n) {
  expect(key, n, {});
}

void Expectations::expectDeletions(const std::string& key, const std::vector<std::string>& uids) {
  expect(key, 0, uids);
}

void Expectations::expect(const std::string& key, std::int64_t creations,
                          const std::vector<std::string>& deletionUids) {
  if (creations < 0)
    throw std::invalid_argument("expectations: " + key + ": negative number of creations");
  Entry e;
  e.p.creations = creations;
  e.p.deletions.insert(deletionUids.begin(), deletionUids.end());
  e.p.since = clock_.now();
  std::lock_guard l(mu_);
  byKey_.insert_or_assign(key, std::move(e));
}

void Expectations::creationObserved(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = byKey_.find(key);
  if (it != byKey_.end() && it->second.p.creations > 0) --it->second.p.creations;
}

void Expectations::deletionObserved(const std::string& key, const std::string& uid) {
  std::lock_guard l(mu_);
  auto it = byKey_.find(key);
  if (it != byKey_.end()) it->second.p.deletions.erase(uid);
}

bool Expectations::satisfied(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = byKey_.find(key);
  if (it == byKey_.end()) return true;
  const Entry& e = it->second;
  if (e.p.creations == 0 && e.p.deletions.empty()) return true;
  const Clock::duration age = clock_.now() - e.p.since;
  if (age < opts_.ttl) return false;
  if (!e.expiredLogged) {
    e.expiredLogged = true;
    log::warn("Expectations expired: going ahead without the events awaited",
              {{"object", key},
               {"creations", e.p.creations},
               {"deletions", e.p.deletions.size()},
               {"ageSeconds", std::chrono::duration_cast<std::chrono::seconds>(age).count()}});
  }
  return true;
}

void Expectations::deleteExpectations(const std::string& key) {
  std::lock_guard l(mu_);
  byKey_.erase(key);
}

std::optional<Expectations::Pending> Expectations::pending(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = byKey_.find(key);
  if (it == byKey_.end()) return std::nullopt;
  return it->second.p;
}

}  // namespace kube
