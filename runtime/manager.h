// The manager, after controller-runtime's manager.go: owns the client, the
// shared informers, the controllers and other runnables, the metrics and
// health servers and leader election, and starts and stops them in order.
//
// run():
//  1. serves /healthz and /readyz (metrics are served from construction);
//  2. starts runnables that do not need leader election, and the informers,
//     each on its own thread;
//  3. with leader election, campaigns for the Lease;
//  4. once leading (at once without leader election) waits for every informer
//     to sync, then starts the controllers and leader-only runnables.
//
// Informers start before the Lease is won, in every replica, as
// controller-runtime starts its caches: a standby that takes over has warm
// caches and reconciles at once, and /readyz (which waits for the informers)
// turns ready in standbys too, so a rolling update of a 2-replica Deployment
// does not stall waiting for a standby that could never become ready.
//
// Stopping:
//  - stop requested (SIGTERM): /readyz fails, controllers drain (in-flight
//    reconciles finish), the Lease is released, informers stop; all within
//    gracefulShutdownTimeout. run() returns ok.
//  - Lease lost: controllers stop at once (no new reconcile starts; another
//    replica may already lead), and run() returns not ok ("leader election
//    lost") so that main exits non-zero and the pod restarts, as
//    controller-runtime does.
//  - A runnable or controller throwing: everything stops gracefully and run()
//    returns not ok with its error.
//
// With leader election, every write through client() and controllerClient()
// (create, update, patch, delete, and raw requests other than GET) is
// checked just before it is sent: unless this replica renewed the Lease
// within renewDeadline by its own monotonic clock (LeaderElector::
// holdsLease), it is not sent and throws ApiError (code 0, reason
// NotLeader). So a replica that was stopped (SIGSTOP, a VM pause) past the
// deadline writes nothing when it wakes, even before its elector notices;
// it then steps down and run() returns "leader election lost". Runnables
// that write in every replica (the webhook's certificates) use
// anyReplicaClient().
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "runtime/client.h"
#include "runtime/config.h"
#include "runtime/controller.h"
#include "runtime/informer.h"
#include "runtime/runnable.h"

namespace kube {

class HealthServer;
class LeaseClient;

struct ManagerOptions {
  std::string namespace_;  // informers watch this namespace; empty: all
  bool leaderElection = false;
  std::string leaderElectionNamespace;  // empty: the config's default (the pod's) namespace
  std::string leaderElectionID = "kubec2-operator";  // the Lease's name
  std::string leaderElectionIdentity;                // empty: hostname_uuid
  std::chrono::milliseconds leaseDuration{15000};
  std::chrono::milliseconds renewDeadline{10000};
  std::chrono::milliseconds retryPeriod{2000};
  std::string metricsBindAddress = ":8080";      // "0": no metrics server
  std::string healthProbeBindAddress = ":8081";  // "0": no health server
  std::chrono::milliseconds gracefulShutdownTimeout{30000};
  // Informers not synced by then fail run(): the pod restarts rather than
  // sit there not reconciling. 0: wait forever.
  std::chrono::milliseconds cacheSyncTimeout{120000};
  // The default for controllers built without withMaxConcurrentReconciles.
  int maxConcurrentReconciles = 1;
  // For tests: the clock of the controllers built with ControllerBuilder
  // (their work queues' delays and backoff, ReconcileContext::clock), unless
  // their queue options name one; nullptr: the system clock. Must outlive
  // the manager. Leader election, informers and shutdown keep real time.
  const Clock* clock = nullptr;
  // For tests: the Lease client (default: over the manager's client).
  std::function<std::unique_ptr<LeaseClient>(Client&)> leaseClientFactory;
};

struct RunResult {
  bool ok = true;
  std::string error;  // why, when not ok: "leader election lost", a runnable's error, ...
  // Some threads had not stopped within gracefulShutdownTimeout and were left
  // running (detached). The manager must then not be destroyed: exit the
  // process with std::_Exit, as a Go program's goroutines die with it.
  bool threadsLeftRunning = false;
};

class Manager : public ControllerRegistry {
 public:
  // Creates the client, validates the options, and binds the metrics and
  // health servers (so a bad or busy address fails here, with a
  // std::runtime_error naming the flag and value). Throws ConfigError when
  // leader election has no namespace, std::invalid_argument on bad lease
  // timings.
  Manager(RestConfig config, ManagerOptions opts);
  // The same over a given client (a FakeClient in tests). Leader election
  // then needs opts.leaderElectionNamespace, and its Lease goes through
  // opts.leaseClientFactory or, by default, this client.
  Manager(std::unique_ptr<Client> client, ManagerOptions opts);
  ~Manager() override;
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Reads from any replica; writes only while leading (see above).
  Client& client() { return leaderWrites_ ? *leaderWrites_ : *client_; }
  // The same client without the leader check, for runnables that write in
  // every replica, leader or not.
  Client& anyReplicaClient() { return *client_; }
  // A client of `controller`'s own, with its own QPS and burst, for a
  // controller whose writes should not queue behind the others' (a
  // ScalingGroup launching a thousand Instances while the Instance
  // controller applies their VMs), as kube-controller-manager builds one
  // client per controller (ControllerClientBuilder). The same client for
  // the same name; client() itself when the manager was given its client
  // (tests). Call before run().
  Client& controllerClient(const std::string& controller);
  const ManagerOptions& options() const { return opts_; }

  // The shared informer for this resource, namespace and selectors, created
  // on first use (the first caller's paging and backoff options win). An
  // empty opts.namespace_ means the manager's namespace; cluster-scoped
  // resources ignore it. Call before run(). Throws std::logic_error when the
  // same informer was asked for with another T, or after run() started.
  template <typename T>
  Informer<T>& informer(const Resource& resource, InformerOptions opts = {});

  Controller& addController(std::unique_ptr<Controller> c) override;
  int defaultMaxConcurrentReconciles() const override { return opts_.maxConcurrentReconciles; }
  const Clock* defaultClock() const override { return opts_.clock; }
  void add(std::unique_ptr<Runnable> r);

  // Runs until `stop` is requested, the Lease is lost or something fails;
  // see the top of this file. Call once.
  RunResult run(std::stop_token stop);

  // Bound ports (useful with port 0); 0 when that server is disabled.
  int metricsPort() const { return metricsPort_; }
  int healthPort() const;
  // Every informer has synced.
  bool cachesSynced() const;
  // Whether this replica leads now (always true without leader election once
  // running).
  bool isLeader() const;

 private:
  struct Impl;
  Manager(std::unique_ptr<Client> client, ManagerOptions opts,
          std::optional<RestConfig> restConfig);
  InformerBase& registerInformer(const std::string& key, std::unique_ptr<InformerBase> inf);
  InformerBase* findInformer(const std::string& key);
  void checkNotRunning(const char* what) const;
  static std::string informerKey(const Resource& r, const InformerOptions& o);

  ManagerOptions opts_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<Client> leaderWrites_;  // client_ behind the leader check; null without election
  std::optional<RestConfig> restConfig_;
  std::map<std::string, std::unique_ptr<Client>> controllerClients_;
  int metricsPort_ = 0;
  std::unique_ptr<Impl> impl_;  // last: its threads stop before the rest goes
};

template <typename T>
Informer<T>& Manager::informer(const Resource& resource, InformerOptions opts) {
  checkNotRunning("informer()");
  if (!resource.namespaced) {
    opts.namespace_.clear();
  } else if (opts.namespace_.empty()) {
    opts.namespace_ = opts_.namespace_;
  }
  const std::string key = informerKey(resource, opts);
  if (InformerBase* existing = findInformer(key)) {
    auto* typed = dynamic_cast<Informer<T>*>(existing);
    if (!typed) {
      throw std::logic_error("informer " + key + " was already created for another type");
    }
    return *typed;
  }
  return static_cast<Informer<T>&>(
      registerInformer(key, std::make_unique<Informer<T>>(*client_, resource, std::move(opts))));
}

// Makes SIGTERM and SIGINT request stop on the returned source (from a
// sigwait thread, so no work happens in a signal handler); a second signal
// exits at once with status 1. Call first thing in main, before any other
// thread starts: threads inherit the blocked signal mask. Later calls return
// the same source.
std::stop_source installSignalHandlers();

}  // namespace kube
