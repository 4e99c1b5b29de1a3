// Creations and deletions in flight per owner, after Kubernetes'
// pkg/controller/controller_utils.go (ControllerExpectations and
// UIDTrackingControllerExpectations), as the ReplicaSet controller uses them.
//
// A controller that creates or deletes children reads them from its informer
// cache, which lags its own writes: right after creating 3 children the cache
// may still show none, and a second reconcile would create 3 more. So, before
// writing, the owner records what it expects to see; the child informer's
// handlers lower the expectation as the events arrive; and the reconciler
// does not act on the owner's children (it may still update status) until
// satisfied(key):
//
//   if (!exp.satisfied(key)) return Result::after(...);  // the cache lags
//   exp.expectCreations(key, 3);
//   for (...) try { create(...); } catch (...) { exp.creationObserved(key); throw; }
//   // child informer: onAdd -> creationObserved(ownerKey(child))
//   //                 onDelete -> deletionObserved(ownerKey(child), child.uid)
//   //                 onUpdate with a deletionTimestamp -> deletionObserved(...)
//
// A child that has a deletionTimestamp is being deleted: count its
// deletion as observed then, as the ReplicaSet controller does, not when it
// finally goes (a child held by a finalizer, such as an Instance waiting
// out its terminated retention, would stall its owner that long).
//
// A create or delete that fails must be reported as observed too (no event
// will come for it), as the ReplicaSet controller does.
//
// An expectation as old as the TTL (5 minutes, as Kubernetes) counts as
// satisfied, so a lost watch event (a relist that skipped a short-lived
// child, say) never wedges an owner: it only delays it by the TTL.
//
// Keys are the owner's work-queue keys (Request::key()). Thread-safe: the
// informer's thread lowers what workers raise.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/clock.h"

namespace kube {

struct ExpectationsOptions {
  // How long an unmet expectation holds the owner back; > 0.
  Clock::duration ttl{std::chrono::minutes(5)};
  const Clock* clock = nullptr;  // nullptr: the system clock; must outlive this object
};

class Expectations {
 public:
  // What is still awaited for one owner.
  struct Pending {
    std::int64_t creations = 0;
    std::set<std::string> deletions;  // UIDs
    Clock::time_point since;          // when it was set, by the clock
    bool operator==(const Pending&) const = default;
  };

  // Throws std::invalid_argument when ttl <= 0.
  explicit Expectations(ExpectationsOptions opts = {});

  // Replaces whatever `key` expected by `n` creations (n >= 0; n < 0 throws
  // std::invalid_argument), stamped now. As Kubernetes' SetExpectations: call
  // it only when satisfied(key), before the writes.
  void expectCreations(const std::string& key, std::int64_t n);
  // Replaces whatever `key` expected by the deletion of these UIDs (duplicates
  // count once), stamped now.
  void expectDeletions(const std::string& key, const std::vector<std::string>& uids);
  // Both at once, for a reconcile that creates and deletes (replacing a child).
  void expect(const std::string& key, std::int64_t creations,
              const std::vector<std::string>& deletionUids);

  // One creation seen (the child's add event) or given up on (the create
  // failed). No-op when nothing is expected for `key`; never goes below zero.
  void creationObserved(const std::string& key);
  // The child `uid` seen deleted (or its delete failed). No-op for a UID not
  // expected, so a repeated delete event counts once.
  void deletionObserved(const std::string& key, const std::string& uid);

  // True when nothing is pending for `key`, or what is pending was set at
  // least the TTL ago (logged once per expectation, at warn).
  bool satisfied(const std::string& key) const;

  // Forgets `key` (the owner was deleted).
  void deleteExpectations(const std::string& key);

  // What `key` still waits for; nullopt when no expectation is recorded
  // (including one that was fulfilled and not replaced: that is Pending{0, {}}).
  std::optional<Pending> pending(const std::string& key) const;

 private:
  struct Entry {
    Pending p;
    mutable bool expiredLogged = false;
  };
  ExpectationsOptions opts_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> byKey_;
};

}  // namespace kube
