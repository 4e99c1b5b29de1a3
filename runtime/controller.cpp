#include "runtime/controller.h"

#include "runtime/client.h"
#include "runtime/errors.h"

#include <array>
#include <cstdio>
#include <random>
#include <thread>
#include <utility>

#include "runtime/log.h"

namespace kube {
namespace {

// A random UUID (version 4), so that every line of one reconcile can be
// found in the logs, across retries of the same key.
std::string newReconcileID() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t hi = (rng() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const std::uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  std::array<char, 37> buf{};
  std::snprintf(buf.data(), buf.size(), "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xffff),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return std::string(buf.data(), 36);
}

class FuncReconciler final : public Reconciler {
 public:
  using Fn = std::function<Result(const Request&, const ReconcileContext&)>;
  explicit FuncReconciler(Fn fn) : fn_(std::move(fn)) {}
  Result reconcile(const Request& req, const ReconcileContext& ctx) override {
    return fn_(req, ctx);
  }

 private:
  Fn fn_;
};

// A bounded "no deadline" for the watchdog's waits (time_point::max()
// overflows in clock arithmetic), as the work queue's.
constexpr Clock::duration kIdleWait = std::chrono::hours(1);

const log::Logger& logger() {
  static const log::Logger l("controller");
  return l;
}

}  // namespace

std::string Request::key() const {
  return namespace_.empty() ? name : namespace_ + "/" + name;
}

Request Request::fromKey(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

void ReconcileContext::throwIfStopped() const {
  if (stop.stop_requested()) throw ReconcileCancelled("controller " + controller + ": stopped");
}

void ReconcileContext::event(const ObjectRef& obj, EventType type, const std::string& reason,
                             const std::string& message) const {
  if (recorder) recorder->event(obj, type, reason, message);
}

std::shared_ptr<Reconciler> reconcilerFunc(
    std::function<Result(const Request&, const ReconcileContext&)> fn) {
  if (!fn) throw std::invalid_argument("reconcilerFunc: empty function");
  return std::make_shared<FuncReconciler>(std::move(fn));
}

std::shared_ptr<Reconciler> reconcilerFunc(std::function<Result(const Request&)> fn) {
  if (!fn) throw std::invalid_argument("reconcilerFunc: empty function");
  return std::make_shared<FuncReconciler>(
      [fn = std::move(fn)](const Request& req, const ReconcileContext&) { return fn(req); });
}

std::string_view apiGroupOf(std::string_view apiVersion) {
  const auto slash = apiVersion.find('/');
  return slash == std::string_view::npos ? std::string_view() : apiVersion.substr(0, slash);
}

namespace {
ControllerOptions validated(ControllerOptions o) {
  if (o.name.empty()) throw std::invalid_argument("controller: name is empty");
  if (o.maxConcurrentReconciles < 1) {
    throw std::invalid_argument("controller " + o.name +
                                ": maxConcurrentReconciles must be at least 1");
  }
  if (o.reconcileTimeout.count() < 0) {
    throw std::invalid_argument("controller " + o.name + ": negative reconcileTimeout");
  }
  o.queue.name = o.name;  // workqueue_* metrics labelled with the controller's name
  return o;
}
}  // namespace

Controller::Controller(ControllerOptions opts, std::shared_ptr<Reconciler> reconciler)
    : opts_(validated(std::move(opts))),
      reconciler_(std::move(reconciler)),
      clock_(opts_.queue.clock ? *opts_.queue.clock : SystemClock::instance()),
      queue_(opts_.queue),
      metrics_(metrics::reconcile(opts_.name)) {
  if (!reconciler_) throw std::invalid_argument("controller " + opts_.name + ": no reconciler");
}

Controller::~Controller() {
  // Destroyed while start() runs on another thread: stop it and wait for it
  // to leave, rather than free what its workers use.
  stopNow();
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return !running_; });
}

void Controller::enqueue(const Request& req) {
  queue_.add(req.key());
}

void Controller::enqueueAfter(const Request& req, std::chrono::milliseconds delay) {
  queue_.addAfter(req.key(), delay);
}

void Controller::start(std::stop_token stop) {  // NOLINT(performance-unnecessary-value-param)
  if (started_.exchange(true)) {
    throw std::logic_error("controller " + opts_.name + ": start() called twice");
  }
  {
    std::lock_guard l(mu_);
    running_ = true;
  }
  const int n = opts_.maxConcurrentReconciles;
  metrics_.maxConcurrent->Set(n);
  logger().info("Starting workers", {{"controller", opts_.name}, {"workerCount", n}});
  std::jthread watchdogThread;
  if (opts_.reconcileTimeout.count() > 0) watchdogThread = std::jthread([this] { watchdog(); });
  std::vector<std::jthread> workers;
  workers.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) workers.emplace_back([this] { worker(); });

  bool abort = false;
  {
    std::unique_lock l(mu_);
    cv_.wait(l, std::move(stop), [this] { return abort_; });
    abort = abort_;
  }
  if (abort) {
    queue_.shutDown();
  } else {
    logger().info("Shutdown signal received, waiting for all workers to finish",
                  {{"controller", opts_.name}});
    queue_.shutDownWithDrain();
  }
  workers.clear();  // joins
  if (watchdogThread.joinable()) {
    {
      std::lock_guard l(flightMu_);
      watchdogDone_ = true;
    }
    flightCv_.notify_all();
    watchdogThread.join();
  }
  logger().info("All workers finished", {{"controller", opts_.name}});
  std::lock_guard l(mu_);
  running_ = false;
  cv_.notify_all();
}

void Controller::stopNow() {
  {
    std::lock_guard l(mu_);
    abort_ = true;
  }
  cv_.notify_all();
  // Here as well as in start(): workers stop taking keys even before start()
  // wakes, and even if start() is already waiting on a drain.
  queue_.shutDown();
  // Copies share the state: requested outside the lock, as request_stop()
  // runs the reconcilers' stop callbacks.
  std::vector<std::stop_source> stops;
  {
    std::lock_guard l(flightMu_);
    stopAll_ = true;
    for (auto& [id, f] : inFlight_) {
      if (f.stopped) continue;
      f.stopped = true;
      stops.push_back(f.stop);
    }
  }
  for (auto& s : stops) s.request_stop();
}

void Controller::watchdog() {
  std::unique_lock l(flightMu_);
  while (!watchdogDone_) {
    const Clock::time_point now = clock_.now();
    Clock::time_point next = now + kIdleWait;
    std::vector<std::pair<std::stop_source, std::string>> expired;
    for (auto& [id, f] : inFlight_) {
      if (f.stopped) continue;
      if (f.deadline <= now) {
        f.stopped = true;
        expired.emplace_back(f.stop, f.key);
      } else {
        next = std::min(next, f.deadline);
      }
    }
    if (expired.empty()) {
      clock_.waitUntil(flightCv_, l, next);
      continue;
    }
    l.unlock();
    for (auto& [stop, key] : expired) {
      logger().warn("Reconcile timed out; its stop token is requested",
                    {{"controller", opts_.name},
                     {"object", key},
                     {"timeoutMs", opts_.reconcileTimeout.count()}});
      stop.request_stop();
    }
    l.lock();
  }
}

void Controller::worker() {
  while (auto key = queue_.get()) processItem(*key);
}

void Controller::processItem(const std::string& key) {
  const Request req = Request::fromKey(key);
  const std::string reconcileID = newReconcileID();
  const log::LogContext logCtx({{"controller", opts_.name},
                                {"object", key},
                                {"namespace", req.namespace_},
                                {"name", req.name},
                                {"reconcileID", reconcileID}});
  std::stop_source stop;
  std::uint64_t flight = 0;
  {
    std::lock_guard l(flightMu_);
    flight = nextFlight_++;
    InFlight f{stop, Clock::time_point::max(), key};
    if (opts_.reconcileTimeout.count() > 0) f.deadline = clock_.now() + opts_.reconcileTimeout;
    // Handed out just before stopNow(): stopped from the start.
    if (stopAll_) {
      f.stopped = true;
      stop.request_stop();
    }
    inFlight_.emplace(flight, std::move(f));
  }
  flightCv_.notify_all();  // the watchdog may have an earlier deadline to wait for
  const ReconcileContext ctx{clock_, stop.get_token(), opts_.name, reconcileID, opts_.recorder};
  metrics_.activeWorkers->Increment();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    // The client's requests on this thread end when the reconcile's stop is requested.
    const RequestStop requests(ctx.stop);
    const Result r = reconciler_->reconcile(req, ctx);
    if (r.requeueAfter.count() > 0) {
      logger().debug("Reconcile done, requeueing after",
                     {{"requeueAfterMs", r.requeueAfter.count()}});
      queue_.forget(key);
      queue_.addAfter(key, r.requeueAfter);
      metrics_.requeueAfter->Increment();
    } else if (r.requeue) {
      logger().debug("Reconcile done, requeueing");
      queue_.addRateLimited(key);
      metrics_.requeue->Increment();
    } else {
      logger().debug("Reconcile successful");
      queue_.forget(key);
      metrics_.success->Increment();
    }
  } catch (const TerminalError& e) {
    // Forgotten, unlike controller-runtime: the key's failure count should not
    // slow down the reconcile the next change to the object triggers.
    logger().error("Reconciler error", {{"error", e.what()}, {"terminal", true}});
    queue_.forget(key);
    metrics_.errors->Increment();
    metrics_.error->Increment();
  } catch (const ApiError& e) {
    logger().error("Reconciler error", {{"error", e.what()}});
    // The API server said when to come back (429, or a 5xx with
    // Retry-After): sooner would only be refused again.
    if (e.status().retryAfter) {
      queue_.addAfter(
          key, std::max<Clock::duration>(*e.status().retryAfter, std::chrono::milliseconds(1)));
    } else {
      queue_.addRateLimited(key);
    }
    metrics_.errors->Increment();
    metrics_.error->Increment();
  } catch (const std::exception& e) {
    logger().error("Reconciler error", {{"error", e.what()}});
    queue_.addRateLimited(key);
    metrics_.errors->Increment();
    metrics_.error->Increment();
  } catch (...) {
    logger().error("Reconciler error", {{"error", "unknown exception"}});
    queue_.addRateLimited(key);
    metrics_.errors->Increment();
    metrics_.error->Increment();
  }
  {
    std::lock_guard l(flightMu_);
    inFlight_.erase(flight);
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  metrics_.time->Observe(took.count());
  metrics_.activeWorkers->Decrement();
  queue_.done(key);
}

// --- sources -------------------------------------------------------------

InformerSource::InformerSource(InformerBase& informer, MapFunc map)
    : informer_(informer), map_(std::move(map)) {
  if (!map_) throw std::invalid_argument("informer source: empty mapper");
}

void InformerSource::connect(Controller& c) {
  informer_.addMetaHandler([&c, map = map_](const ObjectMeta& m) {
    // Runs on the informer's thread: a throwing mapper must not end the watch.
    try {
      for (const auto& r : map(m)) c.enqueue(r);
    } catch (const std::exception& e) {
      logger().error("Mapping event to requests failed",
                     {{"controller", c.name()},
                      {"object", Request{m.namespace_, m.name}.key()},
                      {"error", e.what()}});
    }
  });
}

void Channel::send(const Request& req) {
  std::lock_guard l(mu_);
  if (targets_.empty()) {
    if (heldKeys_.insert(req.key()).second) held_.push_back(req);
    return;
  }
  for (Controller* c : targets_) c->enqueue(req);
}

void Channel::connect(Controller& c) {
  std::lock_guard l(mu_);
  targets_.push_back(&c);
  if (targets_.size() > 1) return;
  for (const auto& r : held_) c.enqueue(r);
  held_.clear();
  heldKeys_.clear();
}

size_t Channel::held() const {
  std::lock_guard l(mu_);
  return held_.size();
}

// --- builder -------------------------------------------------------------

ControllerBuilder::ControllerBuilder(ControllerRegistry& registry, std::string name)
    : registry_(registry), name_(std::move(name)) {}

ControllerBuilder& ControllerBuilder::forResource(InformerBase& informer) {
  return watches(informer, [](const ObjectMeta& m) {
    return std::vector<Request>{{m.namespace_, m.name}};
  });
}

ControllerBuilder& ControllerBuilder::owns(InformerBase& informer, std::string ownerKind,
                                           const std::string& ownerApiVersion,
                                           bool ownerNamespaced) {
  std::string group(apiGroupOf(ownerApiVersion));
  return watches(informer, [kind = std::move(ownerKind), group = std::move(group),
                            ownerNamespaced](const ObjectMeta& m) {
    std::vector<Request> out;
    for (const auto& ref : m.ownerReferences) {
      if (!ref.controller) continue;  // only the controlling owner, as OnlyControllerOwner
      if (ref.kind == kind && apiGroupOf(ref.apiVersion) == group) {
        out.push_back({ownerNamespaced ? m.namespace_ : std::string(), ref.name});
      }
      break;  // at most one controller reference
    }
    return out;
  });
}

ControllerBuilder& ControllerBuilder::watches(InformerBase& informer, MapFunc mapper) {
  if (!mapper) throw std::invalid_argument("controller " + name_ + ": watches() without mapper");
  owned_.push_back(std::make_unique<InformerSource>(informer, std::move(mapper)));
  sources_.push_back(owned_.back().get());
  return *this;
}

ControllerBuilder& ControllerBuilder::watches(Source& source) {
  sources_.push_back(&source);
  return *this;
}

ControllerBuilder& ControllerBuilder::withMaxConcurrentReconciles(int n) {
  maxConcurrent_ = n;
  return *this;
}

ControllerBuilder& ControllerBuilder::withQueueOptions(WorkQueueOptions q) {
  queueOpts_ = std::move(q);
  return *this;
}

ControllerBuilder& ControllerBuilder::withReconcileTimeout(std::chrono::milliseconds timeout) {
  timeout_ = timeout;
  return *this;
}

ControllerBuilder& ControllerBuilder::withRecorder(Recorder& recorder) {
  recorder_ = &recorder;
  return *this;
}

Controller& ControllerBuilder::complete(std::shared_ptr<Reconciler> reconciler) {
  if (completed_) throw std::logic_error("controller " + name_ + ": complete() called twice");
  if (sources_.empty()) {
    throw std::logic_error("controller " + name_ +
                           ": nothing to watch (call forResource, owns or watches)");
  }
  ControllerOptions o;
  o.name = name_;
  o.maxConcurrentReconciles =
      maxConcurrent_ > 0 ? maxConcurrent_ : registry_.defaultMaxConcurrentReconciles();
  o.queue = queueOpts_;
  if (o.queue.clock == nullptr) o.queue.clock = registry_.defaultClock();
  o.reconcileTimeout = timeout_;
  o.recorder = recorder_;
  Controller& c =
      registry_.addController(std::make_unique<Controller>(std::move(o), std::move(reconciler)));
  completed_ = true;
  for (Source* s : sources_) s->connect(c);
  sources_.clear();
  owned_.clear();
  return c;
}

}  // namespace kube
