#include "runtime/manager.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include <prometheus/exposer.h>

#include "runtime/client_wrapper.h"
#include "runtime/errors.h"
#include "runtime/health_server.h"
#include "runtime/leader_election.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/wait.h"

namespace kube {
namespace {

using SteadyClock = std::chrono::steady_clock;

const log::Logger& logger() {
  static const log::Logger l("manager");
  return l;
}

// Threads that can be waited for with a deadline, and abandoned after it
// (a reconcile stuck in a call cannot be interrupted in C++).
class TaskGroup {
 public:
  using OnError = std::function<void(const std::string& task, const std::string& error)>;

  ~TaskGroup() {
    // jthread's destructor requests stop and joins; detached ones are skipped.
    std::vector<std::jthread> ts;
    {
      std::lock_guard l(mu_);
      ts.swap(threads_);
    }
  }

  // Does nothing once requestStop() was called: a starter racing with a stop
  // must not start work nobody will stop.
  void launch(const std::string& name, std::function<void(std::stop_token)> fn, OnError onError) {
    std::lock_guard l(mu_);
    if (stopped_) return;
    running_.insert(name);
    threads_.emplace_back(
        [this, name, fn = std::move(fn), onError = std::move(onError)](std::stop_token st) {
          try {
            fn(std::move(st));
          } catch (const std::exception& e) {
            if (onError) onError(name, e.what());
          } catch (...) {
            if (onError) onError(name, "unknown exception");
          }
          std::lock_guard lk(mu_);
          running_.erase(running_.find(name));
          cv_.notify_all();
        });
  }

  void requestStop() {
    std::lock_guard l(mu_);
    stopped_ = true;
    for (auto& t : threads_) t.request_stop();
  }

  // True when every task has returned by `deadline`; otherwise the names of
  // the others are in `stuck`.
  bool waitUntil(SteadyClock::time_point deadline, std::vector<std::string>* stuck = nullptr) {
    std::unique_lock l(mu_);
    cv_.wait_until(l, deadline, [this] { return running_.empty(); });
    if (running_.empty()) return true;
    if (stuck) stuck->assign(running_.begin(), running_.end());
    return false;
  }

  // Lets the stuck threads run on, unjoined; they must not be waited for
  // again, and what they use must outlive the process (see RunResult).
  void abandon() {
    std::lock_guard l(mu_);
    for (auto& t : threads_)
      if (t.joinable()) t.detach();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::multiset<std::string> running_;
  std::vector<std::jthread> threads_;
};

struct OwnedClient {
  std::unique_ptr<Client> owned;
};

// Sends a write only while `mayWrite` holds (see manager.h); reads pass.
// Owns its target when given one.
class LeaderOnlyWrites final : private OwnedClient, public ClientWrapper {
 public:
  LeaderOnlyWrites(Client& target, std::function<bool()> mayWrite, std::string lease)
      : ClientWrapper(target), mayWrite_(std::move(mayWrite)), lease_(std::move(lease)) {}
  LeaderOnlyWrites(std::unique_ptr<Client> target, std::function<bool()> mayWrite,
                   std::string lease)
      : OwnedClient{std::move(target)},
        ClientWrapper(*OwnedClient::owned),
        mayWrite_(std::move(mayWrite)),
        lease_(std::move(lease)) {}

  nlohmann::json create(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {}) override {
    check("create", r);
    return ClientWrapper::create(r, ns, obj, opts);
  }
  nlohmann::json update(const Resource& r, const std::string& ns, const nlohmann::json& obj,
                        const WriteOptions& opts = {}) override {
    check("update", r);
    return ClientWrapper::update(r, ns, obj, opts);
  }
  nlohmann::json patch(const Resource& r, const std::string& ns, const std::string& name,
                       PatchType type, const nlohmann::json& body,
                       const PatchOptions& opts = {}) override {
    check("patch", r);
    return ClientWrapper::patch(r, ns, name, type, body, opts);
  }
  std::optional<nlohmann::json> del(const Resource& r, const std::string& ns,
                                    const std::string& name,
                                    const DeleteOptions& opts = {}) override {
    check("delete", r);
    return ClientWrapper::del(r, ns, name, opts);
  }
  std::string request(const std::string& method, const std::string& path,
                      const std::string& body = "",
                      const std::string& contentType = "application/json") override {
    if (method != "GET") check(method, path);
    return ClientWrapper::request(method, path, body, contentType);
  }

 private:
  void check(const std::string& verb, const Resource& r) const { check(verb, r.resource); }
  void check(const std::string& verb, const std::string& what) const {
    if (mayWrite_()) return;
    throw ApiError(Status{0,
                          "NotLeader",
                          verb + " " + what + ": not sent: this replica has not renewed Lease " +
                              lease_ + " within the renew deadline, so another may lead",
                          {},
                          {}});
  }

  std::function<bool()> mayWrite_;
  std::string lease_;
};

std::string civetAddress(const BindAddress& ba) {
  if (ba.host.empty()) return std::to_string(ba.port);  // all IPv4 interfaces
  if (ba.host.find(':') != std::string::npos) return "[" + ba.host + "]:" + std::to_string(ba.port);
  return ba.host + ":" + std::to_string(ba.port);
}

}  // namespace

struct Manager::Impl {
  Manager& mgr;
  explicit Impl(Manager& m) : mgr(m) {}

  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<HealthServer> health;
  std::unique_ptr<LeaderElector> elector;
  std::string lease;  // "namespace/name" of the Lease, for messages

  // Whether a write may be sent now: this replica holds the Lease.
  std::function<bool()> mayWrite() const {
    return [e = elector.get()] { return e->holdsLease(); };
  }

  mutable std::mutex mu;
  bool running = false;                                            // guarded by mu
  std::map<std::string, std::unique_ptr<InformerBase>> informers;  // guarded by mu
  std::vector<InformerBase*> informerOrder;                        // creation order
  std::vector<std::unique_ptr<Controller>> controllers;
  std::vector<std::unique_ptr<Runnable>> runnables;

  std::stop_source runStop;  // external stop, or a fatal error
  std::atomic<bool> leading{false};
  std::string fatalError;                           // guarded by mu
  std::optional<SteadyClock::time_point> deadline;  // guarded by mu; set when stopping starts
  bool leftRunning = false;                         // guarded by mu

  // Declared last: destroyed (stopped and joined) first.
  TaskGroup everywhere;  // informers and runnables that run in every replica
  TaskGroup leaderOnly;  // the starter, controllers and leader-only runnables
  std::atomic<bool> leaderStopped{false};

  void fail(const std::string& task, const std::string& error) {
    {
      std::lock_guard l(mu);
      if (fatalError.empty()) fatalError = task + ": " + error;
    }
    logger().error("Runnable failed; stopping", {{"runnable", task}, {"error", error}});
    runStop.request_stop();
  }
  TaskGroup::OnError onError() {
    return [this](const std::string& t, const std::string& e) { fail(t, e); };
  }

  // The shutdown deadline, fixed the first time anything starts stopping.
  SteadyClock::time_point shutdownDeadline() {
    std::lock_guard l(mu);
    if (!deadline) deadline = SteadyClock::now() + mgr.opts_.gracefulShutdownTimeout;
    return *deadline;
  }

  std::string unsynced() const {
    std::string out;
    for (auto* inf : informerOrder) {
      if (inf->hasSynced()) continue;
      if (!out.empty()) out += "; ";
      out += inf->resource().resource;
      const std::string err = inf->lastError();
      if (!err.empty()) out += " (last error: " + err + ")";
    }
    return out;
  }

  // Waits for every informer to sync. False when stopped or timed out (the
  // latter is a fatal error).
  bool waitForSync(const std::stop_token& stop) {
    const auto timeout = mgr.opts_.cacheSyncTimeout;
    const auto until = SteadyClock::now() + timeout;
    while (!stop.stop_requested()) {
      if (mgr.cachesSynced()) return true;
      if (timeout.count() > 0 && SteadyClock::now() >= until) {
        fail("cache sync", "timed out waiting for informers to sync: " + unsynced());
        return false;
      }
      waitFor(SystemClock::instance(), std::chrono::milliseconds(50), stop);
    }
    return false;
  }

  // Runs on its own thread once leading: sync, then start leader-only work.
  void startLeaderWork(const std::stop_token& stop) {
    if (!waitForSync(stop)) return;
    logger().info("Caches synced; starting controllers", {{"controllers", controllers.size()}});
    for (auto& c : controllers) {
      Controller* cp = c.get();
      leaderOnly.launch(
          "controller " + cp->name(), [cp](std::stop_token st) { cp->start(std::move(st)); },
          onError());
    }
    for (auto& r : runnables) {
      if (!r->needsLeaderElection()) continue;
      Runnable* rp = r.get();
      leaderOnly.launch(
          rp->name(), [rp](std::stop_token st) { rp->start(std::move(st)); }, onError());
    }
  }

  // Stops leader-only work: draining, or at once (lost Lease). Returns once
  // it has stopped or the deadline passed.
  void stopLeaderWork(bool graceful) {
    if (leaderStopped.exchange(true)) return;
    leading = false;
    if (!graceful) {
      logger().error("Leader election lost; stopping controllers at once");
      for (auto& c : controllers) c->stopNow();
    } else {
      logger().info("Stopping controllers; waiting for reconciles in flight");
    }
    leaderOnly.requestStop();
    std::vector<std::string> stuck;
    if (!leaderOnly.waitUntil(shutdownDeadline(), &stuck)) abandon(leaderOnly, stuck);
  }

  void abandon(TaskGroup& g, const std::vector<std::string>& stuck) {
    std::string names;
    for (const auto& s : stuck) names += (names.empty() ? "" : ", ") + s;
    logger().error("Graceful shutdown timed out; leaving threads running",
                   {{"timeoutMs", mgr.opts_.gracefulShutdownTimeout.count()}, {"running", names}});
    g.abandon();
    std::lock_guard l(mu);
    leftRunning = true;
  }
};

Manager::Manager(RestConfig config, ManagerOptions opts)
    : Manager(std::make_unique<RestClient>(config), std::move(opts), config) {}

Manager::Manager(std::unique_ptr<Client> client, ManagerOptions opts)
    : Manager(std::move(client), std::move(opts), std::nullopt) {}

Client& Manager::controllerClient(const std::string& controller) {
  checkNotRunning("controllerClient()");
  if (!restConfig_) return client();
  auto& c = controllerClients_[controller];
  if (!c) {
    c = std::make_unique<RestClient>(*restConfig_);
    if (impl_->elector) {
      c = std::make_unique<LeaderOnlyWrites>(std::move(c), impl_->mayWrite(), impl_->lease);
    }
  }
  return *c;
}

Manager::Manager(std::unique_ptr<Client> client, ManagerOptions opts,
                 std::optional<RestConfig> restConfig)
    : opts_(std::move(opts)), client_(std::move(client)), restConfig_(restConfig) {
  impl_ = std::make_unique<Impl>(*this);
  if (opts_.maxConcurrentReconciles < 1) {
    throw std::invalid_argument("manager: maxConcurrentReconciles must be at least 1");
  }
  if (opts_.leaderElection) {
    LeaderElectionOptions le;
    le.namespace_ = opts_.leaderElectionNamespace;
    if (le.namespace_.empty() && restConfig) le.namespace_ = restConfig->defaultNamespace;
    if (le.namespace_.empty()) {
      throw ConfigError(
          "leader election needs a namespace for its Lease: set --leader-election-namespace "
          "(in a cluster it defaults to the pod's namespace)");
    }
    if (opts_.leaderElectionID.empty()) throw ConfigError("leader election ID is empty");
    le.name = opts_.leaderElectionID;
    le.identity = opts_.leaderElectionIdentity;
    le.leaseDuration = opts_.leaseDuration;
    le.renewDeadline = opts_.renewDeadline;
    le.retryPeriod = opts_.retryPeriod;
    Impl* impl = impl_.get();
    le.onStartedLeading = [impl](const std::stop_token&) {
      impl->leading = true;
      // The callback must return promptly: sync and start on another thread.
      impl->leaderOnly.launch(
          "leader start", [impl](const std::stop_token& st) { impl->startLeaderWork(st); },
          impl->onError());
    };
    // Also called on stop (SIGTERM): then drain; the Lease is released after.
    le.onStoppedLeading = [impl] { impl->stopLeaderWork(impl->runStop.stop_requested()); };
    le.onNewLeader = [](const std::string& id) {
      logger().info("New leader elected", {{"identity", id}});
    };
    // A third of renewDeadline per request: two failed attempts and the
    // retry period between them still fit before the deadline.
    auto lc = opts_.leaseClientFactory ? opts_.leaseClientFactory(*client_)
              : restConfig             ? makeLeaseClient(*restConfig, opts_.renewDeadline / 3)
                                       : makeLeaseClient(*client_);
    impl_->lease = le.namespace_ + "/" + le.name;
    impl_->elector = std::make_unique<LeaderElector>(std::move(le), std::move(lc));
    leaderWrites_ = std::make_unique<LeaderOnlyWrites>(*client_, impl_->mayWrite(), impl_->lease);
  }
  if (opts_.metricsBindAddress != "0" && !opts_.metricsBindAddress.empty()) {
    const BindAddress ba = parseBindAddress(opts_.metricsBindAddress, "--metrics-bind-address");
    try {
      impl_->exposer = std::make_unique<prometheus::Exposer>(civetAddress(ba));
    } catch (const std::exception& e) {
      throw std::runtime_error("--metrics-bind-address=\"" + opts_.metricsBindAddress +
                               "\": cannot listen: " + e.what());
    }
    impl_->exposer->RegisterCollectable(metrics::registry());
    const auto ports = impl_->exposer->GetListeningPorts();
    metricsPort_ = ports.empty() ? 0 : ports.front();
  }
  if (opts_.healthProbeBindAddress != "0" && !opts_.healthProbeBindAddress.empty()) {
    impl_->health =
        std::make_unique<HealthServer>(opts_.healthProbeBindAddress, "--health-probe-bind-address");
    impl_->health->addHealthzCheck("ping", [] { return std::string(); });
    Impl* impl = impl_.get();
    impl_->health->addReadyzCheck("shutdown", [impl] {
      return impl->runStop.stop_requested() ? std::string("shutting down") : std::string();
    });
  }
}

Manager::~Manager() {
  // Only reached with everything joined, or (threadsLeftRunning) never.
  if (impl_ && impl_->health) impl_->health->stop();
}

int Manager::healthPort() const {
  return impl_->health ? impl_->health->port() : 0;
}

bool Manager::cachesSynced() const {
  for (auto* inf : impl_->informerOrder)
    if (!inf->hasSynced()) return false;
  return true;
}

bool Manager::isLeader() const {
  return impl_->leading.load();
}

void Manager::checkNotRunning(const char* what) const {
  std::lock_guard l(impl_->mu);
  if (impl_->running) {
    throw std::logic_error(std::string("manager: ") + what + " called after run() started");
  }
}

std::string Manager::informerKey(const Resource& r, const InformerOptions& o) {
  std::string k = r.resource + "." + r.apiVersion();
  if (!o.namespace_.empty()) k += " in " + o.namespace_;
  if (!o.labelSelector.empty()) k += " labels " + o.labelSelector;
  if (!o.fieldSelector.empty()) k += " fields " + o.fieldSelector;
  return k;
}

InformerBase* Manager::findInformer(const std::string& key) {
  std::lock_guard l(impl_->mu);
  auto it = impl_->informers.find(key);
  return it == impl_->informers.end() ? nullptr : it->second.get();
}

InformerBase& Manager::registerInformer(const std::string& key, std::unique_ptr<InformerBase> inf) {
  InformerBase* p = inf.get();
  {
    std::lock_guard l(impl_->mu);
    if (impl_->running) throw std::logic_error("manager: informer() called after run() started");
    impl_->informers.emplace(key, std::move(inf));
    impl_->informerOrder.push_back(p);
  }
  if (impl_->health) {
    impl_->health->addReadyzCheck("informer " + key, [p] {
      if (p->hasSynced()) return std::string();
      const std::string err = p->lastError();
      return err.empty() ? std::string("not synced") : "not synced; last error: " + err;
    });
  }
  return *p;
}

Controller& Manager::addController(std::unique_ptr<Controller> c) {
  checkNotRunning("addController()");
  if (!c) throw std::invalid_argument("manager: null controller");
  for (const auto& existing : impl_->controllers) {
    if (existing->name() == c->name()) {
      throw std::invalid_argument("manager: a controller named " + c->name() + " already exists");
    }
  }
  impl_->controllers.push_back(std::move(c));
  return *impl_->controllers.back();
}

void Manager::add(std::unique_ptr<Runnable> r) {
  checkNotRunning("add()");
  if (!r) throw std::invalid_argument("manager: null runnable");
  impl_->runnables.push_back(std::move(r));
}

RunResult Manager::run(std::stop_token stop) {  // NOLINT(performance-unnecessary-value-param)
  Impl& m = *impl_;
  {
    std::lock_guard l(m.mu);
    if (m.running) throw std::logic_error("manager: run() called twice");
    m.running = true;
  }
  std::stop_callback forward(stop, [&m] { m.runStop.request_stop(); });
  const std::stop_token runToken = m.runStop.get_token();

  logger().info("Starting manager",
                {{"namespace", opts_.namespace_.empty() ? "(all)" : opts_.namespace_},
                 {"leaderElection", opts_.leaderElection},
                 {"metricsPort", metricsPort_},
                 {"healthPort", healthPort()}});
  if (m.health) m.health->start();

  for (auto& r : m.runnables) {
    if (r->needsLeaderElection()) continue;
    Runnable* rp = r.get();
    m.everywhere.launch(
        rp->name(), [rp](std::stop_token st) { rp->start(std::move(st)); }, m.onError());
  }
  for (auto* inf : m.informerOrder) {
    m.everywhere.launch(
        "informer " + inf->resource().resource,
        [inf](std::stop_token st) { inf->run(std::move(st)); }, m.onError());
  }

  bool lost = false;
  if (m.elector) {
    logger().info("Campaigning for leadership",
                  {{"lease", opts_.leaderElectionID}, {"identity", m.elector->identity()}});
    m.elector->run(runToken);
    // run() returns on stop (after onStoppedLeading and the release) or when
    // leadership was lost (after onStoppedLeading).
    lost = !runToken.stop_requested();
    // Never led, or lost: leader-only work may still need stopping.
    m.stopLeaderWork(!lost);
  } else {
    m.leading = true;
    m.leaderOnly.launch(
        "start", [&m](const std::stop_token& st) { m.startLeaderWork(st); }, m.onError());
    waitForStop(runToken);
    m.stopLeaderWork(true);
  }
  if (lost) m.runStop.request_stop();  // readyz reports shutting down from here

  logger().info("Stopping informers and runnables");
  m.everywhere.requestStop();
  std::vector<std::string> stuck;
  if (!m.everywhere.waitUntil(m.shutdownDeadline(), &stuck)) m.abandon(m.everywhere, stuck);
  if (m.health) m.health->stop();

  RunResult res;
  {
    std::lock_guard l(m.mu);
    res.threadsLeftRunning = m.leftRunning;
    if (lost) {
      res.ok = false;
      res.error = "leader election lost";
    } else if (!m.fatalError.empty()) {
      res.ok = false;
      res.error = m.fatalError;
    }
  }
  logger().info("Manager stopped", {{"ok", res.ok}, {"error", res.error}});
  return res;
}

// --- signals ---------------------------------------------------------------

std::stop_source installSignalHandlers() {
  static std::mutex mu;
  static std::optional<std::stop_source> installed;
  std::lock_guard l(mu);
  if (installed) return *installed;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Blocked here and, by inheritance, in every thread started later, so the
  // signals are only ever taken by sigwait below.
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    throw std::runtime_error(std::string("pthread_sigmask: ") + std::strerror(rc));
  }
  std::stop_source src;
  std::thread([set, src]() mutable {
    int received = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (++received == 1) {
        logger().info("Received signal; shutting down gracefully", {{"signal", strsignal(sig)}});
        src.request_stop();
      } else {
        // As controller-runtime: a second signal means "now".
        logger().error("Received second signal; exiting", {{"signal", strsignal(sig)}});
        std::_Exit(1);
      }
    }
  }).detach();
  installed = src;
  return src;
}

}  // namespace kube
