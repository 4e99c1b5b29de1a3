// Informers of an API that may be installed after the operator starts (a
// CRD-based add-on such as KubeVirt): discovery is asked until every
// resource is served, then the informers run. So an operator started before
// the add-on keeps running and can say so on its objects, instead of failing
// its cache sync; and one failed discovery request is not taken as "not
// installed".
//
// The informers are created before the manager runs, so a controller
// builder can watch them; they are not the manager's (its cache sync and
// readiness do not wait for them).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/client.h"
#include "runtime/clock.h"
#include "runtime/informer.h"
#include "runtime/manager.h"

namespace kube {

class OptionalApi {
 public:
  enum class State {
    Unknown,  // not asked yet, or discovery failed (retried every retryPeriod)
    Missing,  // the API server does not serve every resource (asked every missingPeriod)
    Served,   // the informers run
  };

  struct Options {
    std::string name{};                              // for logs: "KubeVirt"
    std::string namespace_{};                        // the informers'; empty: all
    std::chrono::milliseconds retryPeriod{2000};     // after a failed discovery
    std::chrono::milliseconds missingPeriod{30000};  // while not installed
    const Clock* clock = &SystemClock::instance();   // of the waits between asks
    // Called once, when every resource is served (before the informers
    // sync): objects waiting for the API can be looked at again.
    std::function<void()> onServed{};
  };

  // `client` must outlive this object.
  OptionalApi(Client& client, Options opts);

  // An informer of `r` (namespaced ones in Options::namespace_). Call before
  // runnable() runs. The resource must be one of those discovery checks:
  // every resource asked for here is.
  Informer<RawObject>& informer(const Resource& r, InformerOptions opts = {});

  // The runnable that asks discovery and then runs the informers (every
  // replica, as the manager's own informers: needsLeaderElection false).
  // It keeps `api` alive while it runs.
  static std::unique_ptr<Runnable> runnable(std::shared_ptr<OptionalApi> api);

  State state() const { return state_.load(); }
  // Served, and every informer has synced.
  bool synced() const;

 private:
  void run(std::stop_token stop);

  Client& client_;
  Options opts_;
  std::vector<std::unique_ptr<Informer<RawObject>>> informers_;
  std::atomic<State> state_{State::Unknown};
};

}  // namespace kube
