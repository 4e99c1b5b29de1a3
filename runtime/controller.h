// Level-based reconciling by key, after controller-runtime's pkg/reconcile and
// pkg/internal/controller: informer events become namespace/name keys in a
// work queue; N workers take keys and call the reconciler, which reads current
// state from the cache and converges. The event's content is never passed on.
//
// Outcomes, as controller-runtime's reconcileHandler:
//  - Result::done(): the key's backoff is forgotten;
//  - Result::after(d): forgotten, then re-added after d;
//  - Result::requeueNow(): re-added with the key's rate-limited backoff;
//  - any exception: logged, counted (result="error" and
//    controller_runtime_reconcile_errors_total), re-added with backoff;
//  - TerminalError: logged and counted as an error, but not retried (the
//    key's backoff is forgotten too, so the next event reconciles at once).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/informer.h"
#include "runtime/metrics.h"
#include "runtime/object.h"
#include "runtime/workqueue.h"

namespace kube {

struct Request {
  std::string namespace_;  // empty for cluster-scoped objects
  std::string name;

  // "namespace/name", or "name" when cluster-scoped: the work-queue key.
  std::string key() const;
  static Request fromKey(std::string_view key);
  bool operator==(const Request&) const = default;
};

struct Result {
  bool requeue = false;
  std::chrono::milliseconds requeueAfter{0};  // > 0 wins over requeue

  static Result done() { return {}; }
  static Result after(std::chrono::milliseconds d) { return {false, d}; }
  static Result requeueNow() { return {true, std::chrono::milliseconds{0}}; }
  bool operator==(const Result&) const = default;
};

// Throw to report an error that retrying cannot fix (an invalid spec, say):
// it is logged and counted, and the key waits for the next change.
class TerminalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Called with one key at a time per key (never concurrently for the same
  // key), possibly concurrently for different keys. Throw on failure.
  virtual Result reconcile(const Request& req) = 0;
};

// A Reconciler from a function, for small controllers and tests.
std::shared_ptr<Reconciler> reconcilerFunc(std::function<Result(const Request&)> fn);

struct ControllerOptions {
  std::string name;  // metric label, log field and work-queue name; required
  int maxConcurrentReconciles = 1;
  // Backoff, token bucket and clock of the queue; its name is set to `name`.
  WorkQueueOptions queue;
};

class Controller {
 public:
  // Throws std::invalid_argument on an empty name, a null reconciler or
  // maxConcurrentReconciles < 1.
  Controller(ControllerOptions opts, std::shared_ptr<Reconciler> reconciler);
  // Stops as stopNow() and waits for a running start() to return.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  const std::string& name() const { return opts_.name; }
  int maxConcurrentReconciles() const { return opts_.maxConcurrentReconciles; }

  // Queue a key. Safe from any thread, before or during start(): keys queued
  // before start() wait for it (informers fill the queue while caches sync).
  void enqueue(const Request& req);
  void enqueueAfter(const Request& req, std::chrono::milliseconds delay);

  // Runs the workers until `stop` is requested, then shuts the queue down
  // with drain (reconciles in flight finish; waiting keys are dropped) and
  // returns once every worker has exited. Call once.
  void start(std::stop_token stop);
  // Stops at once, without drain: no new reconcile starts; those in flight
  // finish (C++ cannot interrupt them) and start() returns. For a lost lease.
  void stopNow();

  bool started() const { return started_.load(); }
  WorkQueue& queue() { return queue_; }

 private:
  void worker();
  void processItem(const std::string& key);

  ControllerOptions opts_;
  std::shared_ptr<Reconciler> reconciler_;
  WorkQueue queue_;
  metrics::ReconcileMetrics metrics_;
  std::atomic<bool> started_{false};

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool abort_ = false;    // guarded by mu_
  bool running_ = false;  // guarded by mu_: start() is between its first and last line
};

// What the builder needs from a manager: somewhere to keep and run the
// controller, and the process-wide default for concurrency. Manager
// implements it; tests can use a small fake.
class ControllerRegistry {
 public:
  virtual ~ControllerRegistry() = default;
  virtual Controller& addController(std::unique_ptr<Controller> c) = 0;
  virtual int defaultMaxConcurrentReconciles() const { return 1; }
};

// Maps any watched object to the keys to reconcile.
using MapFunc = std::function<std::vector<Request>(const ObjectMeta&)>;

// Declarative wiring, like controller-runtime's builder:
//
//   ControllerBuilder(mgr, "scalinggroup")
//       .forResource(groups)                        // the group's own key
//       .owns(instances, "ScalingGroup", "compute.kubec2.io/v1alpha1")
//       .watches(templates, groupsUsingTemplate)    // mapper
//       .withMaxConcurrentReconciles(4)
//       .complete(reconciler);
//
// Handlers are added to the informers at complete(), so call it before the
// manager runs (informers take no handlers once running).
class ControllerBuilder {
 public:
  ControllerBuilder(ControllerRegistry& registry, std::string name);

  // Enqueue the object's own key.
  ControllerBuilder& forResource(InformerBase& informer);
  // Enqueue the owner named by the object's controller ownerReference when
  // that owner's kind matches `ownerKind` and its apiVersion's group matches
  // `ownerApiVersion`'s (versions may differ, as in controller-runtime). The
  // owner is looked up in the object's namespace, or cluster-scoped when
  // `ownerNamespaced` is false.
  ControllerBuilder& owns(InformerBase& informer, std::string ownerKind,
                          const std::string& ownerApiVersion, bool ownerNamespaced = true);
  // Enqueue whatever `mapper` returns for the object.
  ControllerBuilder& watches(InformerBase& informer, MapFunc mapper);
  ControllerBuilder& withMaxConcurrentReconciles(int n);
  ControllerBuilder& withQueueOptions(WorkQueueOptions q);

  // Builds the controller, registers it and wires the handlers. Throws
  // std::logic_error when nothing is watched or complete() was called twice.
  Controller& complete(std::shared_ptr<Reconciler> reconciler);

 private:
  struct Watch {
    InformerBase* informer;
    MapFunc map;
  };
  ControllerRegistry& registry_;
  std::string name_;
  bool completed_ = false;
  int maxConcurrent_ = 0;  // 0: the registry's default
  WorkQueueOptions queueOpts_;
  std::vector<Watch> watches_;
};

// The group of an apiVersion: "apps/v1" -> "apps", "v1" -> "" (core).
std::string_view apiGroupOf(std::string_view apiVersion);

}  // namespace kube
