// The names of the Instances a ScalingGroup launches.
//
// The operator picks them itself instead of leaving it to the API server
// (metadata.generateName), so that a create whose answer was lost (a
// timeout, a connection cut after the request went out) is sent again
// under the same name. If the first one was committed, the API server
// answers the second with 409 AlreadyExists (which the executor takes as
// done, controllers/common/executor.h) instead of creating a second
// Instance: one launch per need, whenever the answer goes missing.
// (Kubernetes' ReplicaSet controller instead keeps its expectation after a
// timeout, holding the owner for up to 5 minutes when the create was in
// fact lost; with generateName it has no way to tell the two apart.)
//
// Names have generateName's shape (the API server's SimpleNameGenerator):
// the group's name and "-", cut to 58 characters, then 5 characters from
// Kubernetes' alphabet for random names (k8s.io/apimachinery/pkg/util/rand:
// no vowels, no 0, 1 or 3).
// A name offered again is dropped once the Instance shows in the informer
// (`exists`), or after `ttl` (the create that was in flight will have been
// answered or abandoned by the API server long before).
//
// Thread-safe; one reconcile per key at a time is the caller's rule.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "runtime/clock.h"

namespace kubec2::controllers {

class LaunchNames {
 public:
  // `suffix` returns 5 characters (tests pass a sequence); default random.
  explicit LaunchNames(std::function<std::string()> suffix = {},
                       kube::Clock::duration ttl = std::chrono::minutes(5));

  // `n` names for group `key` (its work-queue key) named `groupName`: first
  // those whose create did not complete (see `unconfirmed`), oldest first,
  // skipping any that `exists` already, then fresh ones.
  std::vector<std::string> take(const std::string& key, const std::string& groupName, std::size_t n,
                                const std::function<bool(const std::string&)>& exists,
                                kube::Clock::time_point now);
  // These creates of `key` did not complete (failed or never sent): their
  // names are offered again first.
  void unconfirmed(const std::string& key, const std::vector<std::string>& names,
                   kube::Clock::time_point now);
  // The group is gone.
  void forget(const std::string& key);
  // Names waiting to be offered again for `key` (for tests and logs).
  std::size_t pending(const std::string& key) const;

  // generateName's prefix for a group: its name and "-", cut to 58 characters.
  static std::string prefixOf(const std::string& groupName);

 private:
  struct Pending {
    std::string name;
    kube::Clock::time_point since;
  };
  std::string randomSuffix();

  std::function<std::string()> suffix_;
  kube::Clock::duration ttl_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Pending>> pending_;  // by group key, oldest first
  std::mt19937_64 rng_;
};

}  // namespace kubec2::controllers
