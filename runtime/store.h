// The informer's thread-safe, indexed cache. One writer (the informer),
// many readers; readers get std::shared_ptr<const T> snapshots that stay valid
// after the store moves on. Indexed by namespace, owner UID and label.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/object.h"
#include "runtime/selector.h"

namespace kube {

template <typename T>
class Store {
 public:
  using Ptr = std::shared_ptr<const T>;

  Ptr get(const std::string& key) const {
    std::shared_lock l(mu_);
    auto it = items_.find(key);
    return it == items_.end() ? nullptr : it->second;
  }
  Ptr get(const std::string& ns, const std::string& name) const { return get(makeKey(ns, name)); }

  std::vector<Ptr> list() const {
    std::shared_lock l(mu_);
    std::vector<Ptr> out;
    out.reserve(items_.size());
    for (const auto& [k, v] : items_) out.push_back(v);
    return out;
  }
  std::vector<Ptr> byNamespace(const std::string& ns) const { return lookup(byNamespace_, ns); }
  std::vector<Ptr> byOwner(const std::string& ownerUid) const { return lookup(byOwner_, ownerUid); }
  std::vector<Ptr> byLabel(const std::string& key, const std::string& value) const {
    return lookup(byLabel_, key + "=" + value);
  }
  // Objects in `ns` (all namespaces when empty) whose labels match `sel`.
  std::vector<Ptr> select(const LabelSelector& sel, const std::string& ns = "") const {
    std::vector<Ptr> candidates = ns.empty() ? list() : byNamespace(ns);
    std::vector<Ptr> out;
    for (auto& p : candidates)
      if (sel.matches(metaOf(*p).labels)) out.push_back(std::move(p));
    return out;
  }
  size_t size() const {
    std::shared_lock l(mu_);
    return items_.size();
  }

  // Writer side (the informer). Returns the previous object, if any.
  Ptr upsert(Ptr obj) {
    std::unique_lock l(mu_);
    return upsertLocked(std::move(obj));
  }
  Ptr erase(const std::string& key) {
    std::unique_lock l(mu_);
    auto it = items_.find(key);
    if (it == items_.end()) return nullptr;
    Ptr old = it->second;
    unindex(key, *old);
    items_.erase(it);
    return old;
  }
  // Swaps the whole contents at once (a relist). `visit` sees every change:
  // (old, new) with nullptr on the missing side; unchanged objects (same
  // resourceVersion) are kept and not reported, so a relist emits no
  // duplicate events.
  void replace(std::vector<Ptr> objs, const std::function<void(const Ptr&, const Ptr&)>& visit) {
    std::vector<std::pair<Ptr, Ptr>> changes;
    {
      std::unique_lock l(mu_);
      std::unordered_set<std::string> seen;
      seen.reserve(objs.size());
      for (auto& o : objs) {
        std::string key = metaOf(*o).key();
        seen.insert(key);
        auto it = items_.find(key);
        if (it != items_.end() && metaOf(*it->second).resourceVersion == metaOf(*o).resourceVersion)
          continue;
        Ptr old = upsertLocked(o);
        changes.emplace_back(std::move(old), std::move(o));
      }
      for (auto it = items_.begin(); it != items_.end();) {
        if (seen.count(it->first)) {
          ++it;
          continue;
        }
        unindex(it->first, *it->second);
        changes.emplace_back(it->second, nullptr);
        it = items_.erase(it);
      }
    }
    for (auto& [o, n] : changes) visit(o, n);
  }

 private:
  using Index = std::unordered_map<std::string, std::unordered_set<std::string>>;

  Ptr upsertLocked(Ptr obj) {
    std::string key = metaOf(*obj).key();
    Ptr old;
    auto it = items_.find(key);
    if (it != items_.end()) {
      old = std::move(it->second);
      unindex(key, *old);
      it->second = obj;
    } else {
      items_.emplace(key, obj);
    }
    index(key, *obj);
    return old;
  }
  void index(const std::string& key, const T& o) {
    const ObjectMeta& m = metaOf(o);
    byNamespace_[m.namespace_].insert(key);
    for (const auto& r : m.ownerReferences) byOwner_[r.uid].insert(key);
    for (const auto& [k, v] : m.labels) byLabel_[k + "=" + v].insert(key);
  }
  static void drop(Index& idx, const std::string& value, const std::string& key) {
    auto it = idx.find(value);
    if (it == idx.end()) return;
    it->second.erase(key);
    if (it->second.empty()) idx.erase(it);
  }
  void unindex(const std::string& key, const T& o) {
    const ObjectMeta& m = metaOf(o);
    drop(byNamespace_, m.namespace_, key);
    for (const auto& r : m.ownerReferences) drop(byOwner_, r.uid, key);
    for (const auto& [k, v] : m.labels) drop(byLabel_, k + "=" + v, key);
  }
  std::vector<Ptr> lookup(const Index& idx, const std::string& value) const {
    std::shared_lock l(mu_);
    std::vector<Ptr> out;
    auto it = idx.find(value);
    if (it == idx.end()) return out;
    out.reserve(it->second.size());
    for (const auto& key : it->second) out.push_back(items_.at(key));
    return out;
  }

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Ptr> items_;
  Index byNamespace_, byOwner_, byLabel_;
};

}  // namespace kube
