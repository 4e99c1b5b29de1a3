// List-then-watch cache of one resource type, after client-go's reflector and
// kube-rs' watcher: resumes a broken watch from the last resourceVersion seen,
// relists on 410 Gone (swapping the store's contents when the list completes),
// and backs off with jitter (0.8 s .. 30 s) on errors. Event handlers run on
// the informer's own thread, in order; they must be quick (enqueue a key).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/client.h"
#include "runtime/clock.h"
#include "runtime/object.h"
#include "runtime/store.h"

namespace kube {

struct InformerOptions {
  std::string namespace_{};  // empty: all namespaces
  std::string labelSelector{};
  std::string fieldSelector{};
  // Page size of lists read from etcd (a relist after 410). The first list
  // asks for resourceVersion 0, which the API server answers from its watch
  // cache in one piece, as client-go's reflector does.
  long pageSize = 500;
  long watchTimeoutSeconds = 300;  // the server ends each watch after this; we resume
  std::chrono::milliseconds minBackoff{800};
  std::chrono::milliseconds maxBackoff{30000};
};

// Called for add, for both old and new on update, and for delete; the
// controller builder uses it to map any object to work-queue keys.
using MetaHandler = std::function<void(const ObjectMeta&)>;

// What every informer offers the manager and the controller builder.
class InformerBase {
 public:
  virtual ~InformerBase() = default;
  virtual const Resource& resource() const = 0;
  // Runs list/watch until `stop`; returns then.
  virtual void run(std::stop_token stop) = 0;
  virtual bool hasSynced() const = 0;
  virtual void addMetaHandler(MetaHandler h) = 0;
  // Last error seen (empty when the last list/watch succeeded), for readiness messages.
  virtual std::string lastError() const = 0;
};

// The JSON side: list/watch with resume, relist and backoff. Calls the sink
// for each list (replace) and watch event (upsert/erase).
class Reflector {
 public:
  struct Sink {
    virtual ~Sink() = default;
    // A list, item by item: beginList, listItem per item (the server's JSON
    // text of one object, valid during the call), then endList with the new
    // full contents, or abortList when the list failed half way.
    virtual void beginList() = 0;
    virtual void listItem(std::string_view text) = 0;
    virtual void endList() = 0;
    virtual void abortList() = 0;
    virtual void upsert(nlohmann::json&& obj) = 0;
    virtual void erase(nlohmann::json&& obj) = 0;
  };

  Reflector(Client& client, Resource resource, InformerOptions opts, Sink& sink);
  void run(std::stop_token stop);
  bool hasSynced() const { return synced_.load(); }
  std::string lastError() const;
  std::string lastResourceVersion() const;
  // Counters for tests and logs.
  long lists() const { return lists_.load(); }
  long watches() const { return watches_.load(); }

 private:
  // `fromCache`: resourceVersion 0 (any recent state, from the watch cache);
  // otherwise a consistent read from etcd, paged.
  void listAll(std::stop_token stop, bool fromCache);
  // Returns true when the watch ended normally (resume), false on 410 (relist).
  bool watchOnce(std::stop_token stop);
  void setError(const std::string& e);

  Client& client_;
  Resource resource_;
  InformerOptions opts_;
  Sink& sink_;
  std::atomic<bool> synced_{false};
  std::atomic<long> lists_{0}, watches_{0};
  mutable std::mutex mu_;
  std::string rv_;
  std::string lastError_;
};

// The typed informer. T needs `static T fromJson(const nlohmann::json&)` and
// an ObjectMeta reachable through metaOf(T) (a `metadata` member by default).
// A T with `static T fromText(std::string_view)` is built from the list's
// text directly, without a parsed tree per object (RawObject does this).
template <typename T>
class Informer final : public InformerBase, private Reflector::Sink {
 public:
  using Ptr = std::shared_ptr<const T>;
  struct Handler {
    std::function<void(const Ptr&)> onAdd;
    std::function<void(const Ptr& oldObj, const Ptr& newObj)> onUpdate;
    std::function<void(const Ptr&)> onDelete;
  };

  Informer(Client& client, Resource resource, InformerOptions opts = {})
      : resource_(std::move(resource)), reflector_(client, resource_, std::move(opts), *this) {}

  const Resource& resource() const override { return resource_; }
  void run(std::stop_token stop) override { reflector_.run(stop); }
  bool hasSynced() const override { return reflector_.hasSynced(); }
  std::string lastError() const override { return reflector_.lastError(); }
  const Reflector& reflector() const { return reflector_; }

  const Store<T>& store() const { return store_; }

  // Register before run(); handlers are not safe to add while events flow.
  void addHandler(Handler h) { handlers_.push_back(std::move(h)); }
  void addMetaHandler(MetaHandler h) override {
    addHandler({[h](const Ptr& o) { h(metaOf(*o)); },
                [h](const Ptr& o, const Ptr& n) {
                  h(metaOf(*o));
                  h(metaOf(*n));
                },
                [h](const Ptr& o) { h(metaOf(*o)); }});
  }

 private:
  // Each item is converted as it arrives, so a list never holds more than one
  // parsed object besides the page's text.
  void beginList() override { pending_.clear(); }
  void listItem(std::string_view text) override {
    if constexpr (requires { T::fromText(text); }) {
      pending_.push_back(std::make_shared<const T>(T::fromText(text)));
    } else {
      pending_.push_back(std::make_shared<const T>(T::fromJson(nlohmann::json::parse(text))));
    }
  }
  void endList() override {
    store_.replace(std::move(pending_), [this](const Ptr& o, const Ptr& n) { notify(o, n); });
    pending_ = {};
  }
  void abortList() override { pending_ = {}; }
  void upsert(nlohmann::json&& j) override {
    Ptr n = std::make_shared<const T>(T::fromJson(j));
    Ptr o = store_.upsert(n);
    notify(o, n);
  }
  void erase(nlohmann::json&& j) override {
    ObjectMeta m = ObjectMeta::fromJson(j.value("metadata", nlohmann::json::object()));
    Ptr o = store_.erase(m.key());
    // Deleted before we saw it: still report it, from the frame's last state.
    if (!o) o = std::make_shared<const T>(T::fromJson(j));
    notify(o, nullptr);
  }
  void notify(const Ptr& o, const Ptr& n) {
    for (auto& h : handlers_) {
      if (o && n) {
        if (h.onUpdate) h.onUpdate(o, n);
      } else if (n) {
        if (h.onAdd) h.onAdd(n);
      } else if (o) {
        if (h.onDelete) h.onDelete(o);
      }
    }
  }

  Resource resource_;
  Store<T> store_;
  std::vector<Ptr> pending_;  // the list being received
  std::vector<Handler> handlers_;
  Reflector reflector_;
};

}  // namespace kube
