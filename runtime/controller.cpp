#include "runtime/controller.h"

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
  explicit FuncReconciler(std::function<Result(const Request&)> fn) : fn_(std::move(fn)) {}
  Result reconcile(const Request& req) override { return fn_(req); }

 private:
  std::function<Result(const Request&)> fn_;
};

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

std::shared_ptr<Reconciler> reconcilerFunc(std::function<Result(const Request&)> fn) {
  if (!fn) throw std::invalid_argument("reconcilerFunc: empty function");
  return std::make_shared<FuncReconciler>(std::move(fn));
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
  o.queue.name = o.name;  // workqueue_* metrics labelled with the controller's name
  return o;
}
}  // namespace

Controller::Controller(ControllerOptions opts, std::shared_ptr<Reconciler> reconciler)
    : opts_(validated(std::move(opts))),
      reconciler_(std::move(reconciler)),
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
}

void Controller::worker() {
  while (auto key = queue_.get()) processItem(*key);
}

void Controller::processItem(const std::string& key) {
  const Request req = Request::fromKey(key);
  const log::LogContext ctx({{"controller", opts_.name},
                             {"object", key},
                             {"namespace", req.namespace_},
                             {"name", req.name},
                             {"reconcileID", newReconcileID()}});
  metrics_.activeWorkers->Increment();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    const Result r = reconciler_->reconcile(req);
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
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  metrics_.time->Observe(took.count());
  metrics_.activeWorkers->Decrement();
  queue_.done(key);
}

// --- builder -------------------------------------------------------------

ControllerBuilder::ControllerBuilder(ControllerRegistry& registry, std::string name)
    : registry_(registry), name_(std::move(name)) {}

ControllerBuilder& ControllerBuilder::forResource(InformerBase& informer) {
  watches_.push_back({&informer, [](const ObjectMeta& m) {
                        return std::vector<Request>{{m.namespace_, m.name}};
                      }});
  return *this;
}

ControllerBuilder& ControllerBuilder::owns(InformerBase& informer, std::string ownerKind,
                                           const std::string& ownerApiVersion,
                                           bool ownerNamespaced) {
  std::string group(apiGroupOf(ownerApiVersion));
  watches_.push_back(
      {&informer, [kind = std::move(ownerKind), group = std::move(group),
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
       }});
  return *this;
}

ControllerBuilder& ControllerBuilder::watches(InformerBase& informer, MapFunc mapper) {
  if (!mapper) throw std::invalid_argument("controller " + name_ + ": watches() without mapper");
  watches_.push_back({&informer, std::move(mapper)});
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

Controller& ControllerBuilder::complete(std::shared_ptr<Reconciler> reconciler) {
  if (completed_) throw std::logic_error("controller " + name_ + ": complete() called twice");
  if (watches_.empty()) {
    throw std::logic_error("controller " + name_ +
                           ": nothing to watch (call forResource, owns or watches)");
  }
  ControllerOptions o;
  o.name = name_;
  o.maxConcurrentReconciles =
      maxConcurrent_ > 0 ? maxConcurrent_ : registry_.defaultMaxConcurrentReconciles();
  o.queue = queueOpts_;
  Controller& c =
      registry_.addController(std::make_unique<Controller>(std::move(o), std::move(reconciler)));
  completed_ = true;
  for (auto& w : watches_) {
    w.informer->addMetaHandler([&c, map = std::move(w.map)](const ObjectMeta& m) {
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
  watches_.clear();
  return c;
}

}  // namespace kube
