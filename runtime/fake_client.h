// An in-memory Kubernetes API for unit tests of controllers' wiring, after
// controller-runtime's pkg/client/fake and client-go's object tracker, and
// LevelDB's NewMemEnv: the same Client interface as the API server, with the
// API server's rules as far as the operator relies on them:
//  - resourceVersion on every write, 409 Conflict on a stale update, 404
//    NotFound, 409 AlreadyExists, generateName, uid, creationTimestamp,
//    generation (bumped when anything but metadata and status changes);
//  - label selectors and the metadata.name / metadata.namespace field
//    selectors on list and watch; paging with limit and continue;
//  - finalizers and deletionTimestamp (a delete with finalizers only marks
//    the object, bumping its generation as the server does; it goes when the
//    last finalizer is removed; no new finalizer once deleting), delete
//    preconditions (uid, resourceVersion);
//  - owner references: when an object goes, its dependents go too
//    (background propagation, synchronously) or are released (Orphan);
//    Foreground is treated as Background;
//  - the status subresource (writes to /status change only .status, other
//    writes leave .status alone) and the scale subresource (autoscaling/v1
//    Scale from the kind's replica and selector paths);
//  - merge patches (RFC 7386; strategic merge is treated as one), JSON
//    patches (RFC 6902; a failed `test` answers 422 as the server does) and
//    server-side apply: per field manager ownership of leaf fields (lists
//    are atomic, as in a CRD without list-type markers), fields a manager
//    stops applying are removed unless another owns them, 409 Conflict on
//    another manager's field with a different value unless forced, and
//    metadata.managedFields in FieldsV1 as the server writes it, so code
//    that asks "who changed this field" reads the same thing;
//  - watch from a resourceVersion, with synthetic ADDED events for "" and
//    "0", an ERROR frame with 410 Expired when the version is older than
//    the kept history (compactHistory()), and closeWatches() to end every
//    stream as a server timeout would.
// Requests for resources not served (serve()) answer 404 as an API server
// without that CRD does, and isServed() says false.
// Not modelled: admission, validation against schemas, pruning, defaults,
// bookmarks, real field-manager names from user agents ("unknown" when a
// write names none), and the garbage collector's delay (dependents go at
// once, not some seconds later).
// Thread-safe: informers may watch on their threads while a test writes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/client.h"
#include "runtime/clock.h"

namespace kube {

struct FakeResourceOptions {
  bool statusSubresource = true;
  // The scale subresource, as a CRD declares it (JSON paths such as
  // ".spec.desiredCapacity"); empty specReplicasPath: none.
  std::string specReplicasPath{};
  std::string statusReplicasPath{};
  std::string labelSelectorPath{};
};

class FakeClient final : public Client {
 public:
  // Timestamps come from `clock`'s wall time (nullptr: the system clock).
  explicit FakeClient(const Clock* clock = nullptr);
  ~FakeClient() override;

  // Makes `r` served (isServed() true, requests answered). Call before use.
  void serve(const Resource& r, FakeResourceOptions opts = {});
  // Stops serving `r` (as when a CRD is deleted); its objects are dropped.
  void unserve(const Resource& r);

  // --- test access, bypassing the API's rules but not its bookkeeping ---
  // The stored object (with managedFields), or nullopt.
  std::optional<nlohmann::json> object(const Resource& r, const std::string& ns,
                                       const std::string& name) const;
  // Every stored object of `r` in `ns` (all namespaces when empty).
  std::vector<nlohmann::json> objects(const Resource& r, const std::string& ns = "") const;
  // Writes of each verb so far (create, update, patch, delete), by resource
  // plural ("" counts all): what a test asserts as "acted once".
  int writes(const std::string& verb, const std::string& resource = "") const;
  // The current resourceVersion of the store.
  std::uint64_t resourceVersion() const;

  // Ends every open watch as a server-side timeout does (the informer resumes).
  void closeWatches();
  // Forgets the event history: a watch from an older resourceVersion gets
  // an ERROR frame with 410 Expired, as after etcd compaction.
  void compactHistory();

  // --- Client ---
  nlohmann::json get(const Resource& r, const std::string& ns, const std::string& name,
                     const std::string& subresource = "") override;
  ListPage listPage(const Resource& r, const std::string& ns,
                    const ListOptions& opts = {}) override;
  nlohmann::json create(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {}) override;
  nlohmann::json update(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {}) override;
  nlohmann::json patch(const Resource& r, const std::string& ns, const std::string& name,
                       PatchType type, const nlohmann::json& body,
                       const PatchOptions& opts = {}) override;
  std::optional<nlohmann::json> del(const Resource& r, const std::string& ns,
                                    const std::string& name,
                                    const DeleteOptions& opts = {}) override;
  void watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
             const std::function<bool(WatchEvent&&)>& onEvent, std::stop_token stop = {}) override;
  bool isServed(const std::string& group, const std::string& version,
                const std::string& resource) override;
  // GET /version answers a fixed version; anything else 404.
  std::string request(const std::string& method, const std::string& path,
                      const std::string& body = "",
                      const std::string& contentType = "application/json") override;

 private:
  struct Served {
    Resource resource;
    FakeResourceOptions opts;
  };
  // One metadata.managedFields entry: a field manager's fields written
  // through one subresource ("" or "status") by one operation.
  struct Owner {
    std::string manager;
    std::string subresource;
    std::string operation;         // Apply or Update
    std::string time;              // of its last write
    std::set<std::string> fields;  // leaf JSON pointers
  };
  struct Stored {
    nlohmann::json object;  // without managedFields
    // By manager, operation and subresource ("ctrl|Apply|status"), as the
    // server keys managedFields entries.
    std::map<std::string, Owner> owners;
    Owner& owner(const std::string& manager, const std::string& operation,
                 const std::string& subresource);
  };
  struct Event {
    std::uint64_t rv;
    std::string resourceKey;
    std::string type;
    nlohmann::json object;
    nlohmann::json previous;  // MODIFIED: the object before
  };
  using Key = std::string;  // resourceKey|ns|name

  const Served& served(const Resource& r) const;
  static std::string resourceKey(const Resource& r);
  static Key keyOf(const Resource& r, const std::string& ns, const std::string& name);
  Stored& mustFind(const Resource& r, const std::string& ns, const std::string& name);
  nlohmann::json withManagedFields(const Stored& s) const;
  std::string now() const;
  std::string nextRv();
  void record(const Resource& r, const std::string& type, const nlohmann::json& obj,
              const nlohmann::json& previous = nullptr);
  nlohmann::json createLocked(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                              const WriteOptions& opts);
  // Stores a changed object: bumps resourceVersion (and generation when the
  // spec changed), removes it when deleting with no finalizer left.
  nlohmann::json commit(const Resource& r, const Key& key, Stored& s, nlohmann::json next,
                        const std::string& manager, bool isApply, bool isStatus);
  void removeLocked(const Resource& r, const Key& key);
  void markDeleting(const Resource& r, Stored& s);
  void collectGarbageLocked(const std::string& ownerUid);
  nlohmann::json scaleOf(const Served& sv, const nlohmann::json& obj) const;
  nlohmann::json applyConfig(const Resource& r, const std::string& ns, const std::string& name,
                             const nlohmann::json& config, const PatchOptions& opts);
  void countWrite(const std::string& verb, const Resource& r);

  const Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, Served> served_;  // by resourceKey
  std::map<Key, Stored> objects_;
  std::uint64_t rv_ = 1;
  std::uint64_t uids_ = 0;
  std::deque<Event> history_;
  std::uint64_t historyStart_ = 0;  // events after this rv are in history_
  std::uint64_t watchEpoch_ = 0;    // bumped by closeWatches()
  std::map<std::string, int> writes_;
};

}  // namespace kube
