// Where the Instance controller and the LoadBalancer controller meet: a
// terminating Instance that a load balancer drains keeps its VM running
// until the deregistration delay ends (ELB's connection draining; EC2 Auto
// Scaling waits for it before it terminates the instance). The
// LoadBalancer controller answers; the Instance controller asks.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "api/v1alpha1/types.h"

namespace kubec2::controllers {

struct Deregistration {
  std::chrono::system_clock::time_point until;  // when the last drain ends
  std::string from;                             // "LoadBalancer web, target group app", for people
};

// For an Instance being deleted, at `now`: nullopt when no load balancer
// still sends it traffic (or drains it). Thread-safe; reads caches only.
using DeregistrationLookup = std::function<std::optional<Deregistration>(
    const api::v1alpha1::Instance&, std::chrono::system_clock::time_point now)>;

}  // namespace kubec2::controllers
