#include "runtime/runnable.h"

#include <algorithm>
#include <exception>
#include <random>
#include <stdexcept>
#include <utility>

#include "runtime/log.h"
#include "runtime/wait.h"

namespace kube {
namespace {

const log::Logger& logger() {
  static const log::Logger l("runnable");
  return l;
}

class FuncRunnable final : public Runnable {
 public:
  FuncRunnable(std::string name, std::function<void(std::stop_token)> fn, bool le)
      : name_(std::move(name)), fn_(std::move(fn)), le_(le) {}
  std::string name() const override { return name_; }
  void start(std::stop_token stop) override { fn_(std::move(stop)); }
  bool needsLeaderElection() const override { return le_; }

 private:
  std::string name_;
  std::function<void(std::stop_token)> fn_;
  bool le_;
};

// The message of the exception being handled.
std::string currentError() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

class PeriodicRunnable final : public Runnable {
 public:
  PeriodicRunnable(std::string name, std::function<Next(const std::stop_token&)> fn,
                   PeriodicOptions o)
      : name_(std::move(name)),
        fn_(std::move(fn)),
        opts_(o),
        clock_(o.clock ? *o.clock : SystemClock::instance()),
        rng_(std::random_device{}()) {}

  std::string name() const override { return name_; }
  bool needsLeaderElection() const override { return opts_.needsLeaderElection; }

  void start(std::stop_token stop) override {
    Clock::duration backoff = opts_.minBackoff;
    while (!stop.stop_requested()) {
      Clock::duration wait{};
      try {
        const Next next = fn_(stop);
        if (stop.stop_requested() || next.kind == Next::Kind::Done) return;
        wait = next.kind == Next::Kind::After ? next.delay : jittered();
        backoff = opts_.minBackoff;
      } catch (...) {
        if (stop.stop_requested()) return;
        wait = backoff;
        backoff = std::min(backoff * 2, opts_.maxBackoff);
        logger().error("Periodic run failed; retrying",
                       {{"runnable", name_},
                        {"error", currentError()},
                        {"retryAfterMs",
                         std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()}});
      }
      if (!waitFor(clock_, wait, stop)) return;
    }
  }

 private:
  Clock::duration jittered() {
    if (opts_.jitter <= 0) return opts_.period;
    std::uniform_real_distribution<double> u(0.0, opts_.jitter);
    return opts_.period + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double, Clock::duration::period>(
                                  static_cast<double>(opts_.period.count()) * u(rng_)));
  }

  std::string name_;
  std::function<Next(const std::stop_token&)> fn_;
  PeriodicOptions opts_;
  const Clock& clock_;
  std::mt19937_64 rng_;  // used by start()'s thread only
};

}  // namespace

std::unique_ptr<Runnable> makeRunnable(std::string name, std::function<void(std::stop_token)> fn,
                                       bool needsLeaderElection) {
  if (!fn) throw std::invalid_argument("makeRunnable: empty function");
  return std::make_unique<FuncRunnable>(std::move(name), std::move(fn), needsLeaderElection);
}

std::unique_ptr<Runnable> makePeriodicRunnable(std::string name,
                                               std::function<Next(const std::stop_token&)> fn,
                                               PeriodicOptions options) {
  const std::string what = "periodic runnable " + name + ": ";
  if (!fn) throw std::invalid_argument(what + "empty function");
  if (options.period <= Clock::duration::zero())
    throw std::invalid_argument(what + "period must be positive");
  if (!(options.jitter >= 0)) throw std::invalid_argument(what + "jitter must be >= 0");
  if (options.minBackoff <= Clock::duration::zero() || options.maxBackoff < options.minBackoff)
    throw std::invalid_argument(what + "want 0 < minBackoff <= maxBackoff");
  return std::make_unique<PeriodicRunnable>(std::move(name), std::move(fn), options);
}

}  // namespace kube
