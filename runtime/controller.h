// Level-based reconciling by key, after controller-runtime's pkg/reconcile and
// pkg/internal/controller: informer events (and other sources: a Channel)
// become namespace/name keys in a work queue; N workers take keys and call
// the reconciler with a ReconcileContext (clock, stop token, names, event
// recorder); it reads current state from the cache and converges. The
// event's content is never passed on.
//
// Outcomes, as controller-runtime's reconcileHandler:
//  - Result::done(): the key's backoff is forgotten;
//  - Result::after(d): forgotten, then re-added after d;
//  - Result::requeueNow(): re-added with the key's rate-limited backoff;
//  - any exception: logged, counted (result="error" and
//    controller_runtime_reconcile_errors_total), re-added with backoff; an
//    ApiError carrying Retry-After (429 Too Many Requests) is re-added after
//    that long instead, as the server asked;
//  - TerminalError: logged and counted as an error, but not retried (the
//    key's backoff is forgotten too, so the next event reconciles at once).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/clock.h"
#include "runtime/events.h"
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

// Thrown by ReconcileContext::throwIfStopped(): the reconcile gave up because
// its stop token was requested. Retried with backoff like any error (after a
// timeout); after Controller::stopNow() nothing is retried.
class ReconcileCancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a reconcile gets besides its key, after kube-rs' reconcile(obj, ctx)
// and controller-runtime's context. Valid for the length of the call only.
// Reconcilers' own tests build one directly: `kube::ReconcileContext ctx{};`
// (system clock, a token never requested, no recorder), or with
// `{.clock = fakeClock, .stop = source.get_token()}`.
struct ReconcileContext {
  // The controller's clock (ControllerOptions::queue.clock): read now() and
  // wait (runtime/wait.h) by it, so tests drive reconciles in simulated time.
  const Clock& clock = SystemClock::instance();
  // Requested when this reconcile should end early:
  //  - the controller was stopped without drain (Controller::stopNow(), as on
  //    a lost Lease: another replica may already be acting on these objects);
  //  - the reconcile ran past ControllerOptions::reconcileTimeout.
  // Not requested on a graceful stop (SIGTERM): in-flight reconciles finish.
  // Check it between steps and pass it to waits; C++ cannot interrupt a call.
  std::stop_token stop{};
  std::string controller{};   // the controller's name
  std::string reconcileID{};  // the UUID in this reconcile's log lines
  // Events about the objects reconciled; null when the controller has none.
  Recorder* recorder = nullptr;

  bool stopRequested() const { return stop.stop_requested(); }
  // Throws ReconcileCancelled (naming the controller) when stop is requested.
  void throwIfStopped() const;
  // Records an event through `recorder`; does nothing without one.
  void event(const ObjectRef& obj, EventType type, const std::string& reason,
             const std::string& message) const;
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Called with one key at a time per key (never concurrently for the same
  // key), possibly concurrently for different keys. Throw on failure.
  virtual Result reconcile(const Request& req, const ReconcileContext& ctx) = 0;
};

// A Reconciler from a function, for small controllers and tests; with or
// without the context. Throws std::invalid_argument on an empty function.
std::shared_ptr<Reconciler> reconcilerFunc(
    std::function<Result(const Request&, const ReconcileContext&)> fn);
std::shared_ptr<Reconciler> reconcilerFunc(std::function<Result(const Request&)> fn);

struct ControllerOptions {
  std::string name;  // metric label, log field and work-queue name; required
  int maxConcurrentReconciles = 1;
  // Backoff, token bucket and clock of the queue; its name is set to `name`.
  // queue.clock is the controller's clock: ReconcileContext::clock, and the
  // one reconcileTimeout is measured by.
  WorkQueueOptions queue;
  // A reconcile running longer has its context's stop token requested (and a
  // warning logged); it still runs until it returns. 0: no limit.
  std::chrono::milliseconds reconcileTimeout{0};
  // Passed to reconciles as ReconcileContext::recorder; may be null. Must
  // outlive the controller.
  Recorder* recorder = nullptr;
};

class Controller {
 public:
  // Throws std::invalid_argument on an empty name, a null reconciler,
  // maxConcurrentReconciles < 1 or a negative reconcileTimeout.
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
  // with drain (reconciles in flight finish, their stop tokens untouched;
  // waiting keys are dropped) and returns once every worker has exited.
  // Call once (std::logic_error on a second call).
  void start(std::stop_token stop);
  // Stops at once, without drain: no new reconcile starts; those in flight
  // have their context's stop token requested and are waited for (C++ cannot
  // interrupt them), then start() returns. For a lost Lease.
  void stopNow();

  bool started() const { return started_.load(); }
  WorkQueue& queue() { return queue_; }

 private:
  struct InFlight {
    std::stop_source stop;
    Clock::time_point deadline;  // max(): no timeout
    std::string key;
    bool stopped = false;  // its stop was requested already
  };

  void worker();
  void processItem(const std::string& key);
  // Requests stop of reconciles past their deadline; runs while start() does
  // when there is a reconcileTimeout.
  void watchdog();

  ControllerOptions opts_;
  std::shared_ptr<Reconciler> reconciler_;
  const Clock& clock_;
  WorkQueue queue_;
  metrics::ReconcileMetrics metrics_;
  std::atomic<bool> started_{false};

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool abort_ = false;    // guarded by mu_
  bool running_ = false;  // guarded by mu_: start() is between its first and last line

  // Reconciles in flight, for stopNow() and the watchdog.
  std::mutex flightMu_;
  std::condition_variable flightCv_;            // watchdog: a new deadline, or leaving
  std::map<std::uint64_t, InFlight> inFlight_;  // guarded by flightMu_
  std::uint64_t nextFlight_ = 0;                // guarded by flightMu_
  bool stopAll_ = false;                        // guarded by flightMu_: stopNow() was called
  bool watchdogDone_ = false;                   // guarded by flightMu_
};

// Something that feeds keys to controllers, after controller-runtime's
// source.Source: informers (InformerSource, which the builder's forResource,
// owns and watches create), a Channel, or a source of your own.
class Source {
 public:
  virtual ~Source() = default;
  // Called by ControllerBuilder::complete(), once per controller built on
  // this source, before anything runs: deliver keys to `c` (c.enqueue) from
  // now on. `c` lives as long as its manager (or registry); a source must
  // not deliver to it after that. May throw (complete() then throws).
  virtual void connect(Controller& c) = 0;
};

// Maps any watched object to the keys to reconcile.
using MapFunc = std::function<std::vector<Request>(const ObjectMeta&)>;

// A mapper that enqueues every object `informer` holds, for a change that
// concerns them all (the instance-type catalog, a node going away).
// `informer` must outlive the controller.
template <typename T>
MapFunc enqueueAllOf(const Informer<T>& informer) {
  return [&informer](const ObjectMeta&) {
    std::vector<Request> out;
    for (const auto& o : informer.store().list())
      out.push_back({metaOf(*o).namespace_, metaOf(*o).name});
    return out;
  };
}

// An informer's events mapped to keys. Mapping runs on the informer's thread;
// a mapper that throws is logged, and that event enqueues nothing.
class InformerSource final : public Source {
 public:
  // Throws std::invalid_argument on an empty mapper.
  InformerSource(InformerBase& informer, MapFunc map);
  // Adds an event handler to the informer: call before the informer runs.
  void connect(Controller& c) override;

 private:
  InformerBase& informer_;
  MapFunc map_;
};

// Keys sent by code outside informers, after controller-runtime's
// source.Channel: health-check results, metric evaluations from a
// leader-only runnable, anything that learns "this object needs a look".
//
//   kube::Channel health;                                 // outlives the wiring
//   kube::ControllerBuilder(mgr, "loadbalancer").forResource(lbs).watches(health)...;
//   // in the prober: health.send({ns, lbName});
//
// Thread-safe. Sends before any controller is connected are held (each key
// once) and delivered to the first controller connected, as informer events
// wait in a controller's queue until it starts; later sends go to every
// connected controller. A send reaches the controller's work queue, so it is
// deduplicated with the informers' keys and waits for start() like them.
// Once the controllers are destroyed (the manager is), sends must stop:
// senders inside the same manager are stopped and joined first.
class Channel final : public Source {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  void send(const Request& req);
  void connect(Controller& c) override;
  // Keys held for want of a controller.
  size_t held() const;

 private:
  mutable std::mutex mu_;
  std::vector<Controller*> targets_;  // guarded by mu_
  std::vector<Request> held_;         // guarded by mu_, in the order sent
  std::set<std::string> heldKeys_;    // guarded by mu_
};

// What the builder needs from a manager: somewhere to keep and run the
// controller, and the process-wide default for concurrency. Manager
// implements it; tests can use a small fake.
class ControllerRegistry {
 public:
  virtual ~ControllerRegistry() = default;
  virtual Controller& addController(std::unique_ptr<Controller> c) = 0;
  virtual int defaultMaxConcurrentReconciles() const { return 1; }
  // The clock of controllers built without one in withQueueOptions
  // (nullptr: the system clock).
  virtual const Clock* defaultClock() const { return nullptr; }
};

// Declarative wiring, like controller-runtime's builder:
//
//   ControllerBuilder(mgr, "scalinggroup")
//       .forResource(groups)                        // the group's own key
//       .owns(instances, "ScalingGroup", "compute.kubec2.io/v1alpha1")
//       .watches(templates, groupsUsingTemplate)    // mapper
//       .watches(healthResults)                     // a Channel (any Source)
//       .withMaxConcurrentReconciles(4)
//       .withRecorder(events)
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
  // Enqueue what the source delivers (a Channel, say). `source` is connected
  // at complete() and must stay valid until then.
  ControllerBuilder& watches(Source& source);
  ControllerBuilder& withMaxConcurrentReconciles(int n);
  ControllerBuilder& withQueueOptions(WorkQueueOptions q);
  // See ControllerOptions::reconcileTimeout and ::recorder.
  ControllerBuilder& withReconcileTimeout(std::chrono::milliseconds timeout);
  ControllerBuilder& withRecorder(Recorder& recorder);

  // Builds the controller, registers it and connects the sources. Throws
  // std::logic_error when nothing is watched or complete() was called twice,
  // and what the Controller constructor throws.
  Controller& complete(std::shared_ptr<Reconciler> reconciler);

 private:
  ControllerRegistry& registry_;
  std::string name_;
  bool completed_ = false;
  int maxConcurrent_ = 0;  // 0: the registry's default
  WorkQueueOptions queueOpts_;
  std::chrono::milliseconds timeout_{0};
  Recorder* recorder_ = nullptr;
  std::vector<std::unique_ptr<Source>> owned_;  // informer sources made here
  std::vector<Source*> sources_;                // in the order given
};

// The group of an apiVersion: "apps/v1" -> "apps", "v1" -> "" (core).
std::string_view apiGroupOf(std::string_view apiVersion);

}  // namespace kube
