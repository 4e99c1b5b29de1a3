// What the manager (manager.h) starts and stops, after controller-runtime's
// manager.Runnable and LeaderElectionRunnable, and a periodic runnable for
// work repeated on a timer (discovery, certificate upkeep, health probes,
// metric evaluations), after k8s.io/apimachinery's wait.JitterUntil with
// backoff on failure.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "runtime/clock.h"

namespace kube {

// Something the manager starts and stops.
class Runnable {
 public:
  virtual ~Runnable() = default;
  virtual std::string name() const = 0;
  // Runs until `stop` is requested, then returns. Throwing stops the manager
  // with that error. Returning early is allowed: the manager carries on.
  // `stop` is requested on SIGTERM, on a fatal error elsewhere, and, for a
  // runnable that needs leader election, when the Lease is lost.
  virtual void start(std::stop_token stop) = 0;
  // True: runs only in the leader (controllers). False: in every replica
  // (servers, webhooks).
  virtual bool needsLeaderElection() const { return true; }
};

// A Runnable from a function. Throws std::invalid_argument on an empty one.
std::unique_ptr<Runnable> makeRunnable(std::string name, std::function<void(std::stop_token)> fn,
                                       bool needsLeaderElection);

// What a periodic function wants next.
struct Next {
  enum class Kind { Period, After, Done };
  Kind kind = Kind::Period;
  Clock::duration delay{};  // Kind::After only

  // Run again after the options' period (with its jitter).
  static Next period() { return {}; }
  // Run again after `d` exactly (no jitter); d <= 0: at once.
  static Next after(Clock::duration d) { return {Kind::After, d}; }
  // Stop running: the runnable's start() returns and the manager carries on.
  static Next done() { return {Kind::Done, {}}; }
};

struct PeriodicOptions {
  // Wait between runs after a run that returned Next::period(); must be > 0.
  Clock::duration period{std::chrono::seconds(60)};
  // Each such wait is period * (1 + U), U uniform in [0, jitter), so replicas
  // and runnables started together drift apart. >= 0; 0 (the default): exact.
  double jitter = 0;
  // A run that throws is logged (level error, with the runnable's name) and
  // retried after minBackoff, doubling per consecutive failure up to
  // maxBackoff; a run that returns resets it. 0 < minBackoff <= maxBackoff.
  Clock::duration minBackoff{std::chrono::seconds(1)};
  Clock::duration maxBackoff{std::chrono::seconds(60)};
  // True: runs in the leader only, and is stopped when the Lease is lost.
  bool needsLeaderElection = true;
  const Clock* clock = nullptr;  // nullptr: the system clock; must outlive the runnable
};

// A Runnable that calls `fn` at once on start(), then again as each call's
// Next says, until stop is requested or fn returns Next::done(). Waits are on
// options.clock and end at once on stop. `fn` gets the stop token to cut its
// own work short; once stop is requested its result or exception is
// ignored and start() returns without waiting again. Failures never stop
// the manager (retried with backoff for as long as it runs); return
// Next::done() to give up. Calls never overlap (one thread).
// Throws std::invalid_argument on an empty fn or options out of range.
std::unique_ptr<Runnable> makePeriodicRunnable(std::string name,
                                               std::function<Next(const std::stop_token&)> fn,
                                               PeriodicOptions options);

}  // namespace kube
