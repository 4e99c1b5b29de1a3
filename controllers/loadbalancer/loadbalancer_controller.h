// The LoadBalancer controller's wiring: what it watches (LoadBalancers,
// the namespace's Instances, the Services, EndpointSlices and Ingresses it
// owns), the health-check prober it feeds and reads (runtime/prober.h,
// leader only: its results wake the load balancer through the work
// queue), the target health it keeps between reconciles, and the metrics.
// The decisions are reconcilers/loadbalancer/plan.h's; the writes the
// common executor's. docs/load-balancers.md describes the behaviour.
#pragma once

#include <string>

#include "controllers/common/deregistration.h"
#include "runtime/events.h"
#include "runtime/manager.h"

namespace kubec2::controllers {

struct LoadBalancerControllerOptions {
  std::string fieldManager = "kubec2-loadbalancer";
  // --ingress-class: the ingressClassName of application load balancers'
  // Ingresses ("": the cluster's default class). A LoadBalancer's
  // annotation compute.kubec2.io/ingress-class overrides it.
  std::string ingressClass{};
};

// Registers the informers, the prober and the controller with `mgr`
// (before run()). Asks discovery once (EndpointSlices v1 or v1beta1,
// Ingress v1): throws kube::ApiError when the API server cannot answer.
// `events` must outlive the manager's run(). Returns what the Instance
// controller asks before it stops a terminating instance's VM (the
// drain; controllers/common/deregistration.h): a target a load balancer's
// status reports draining holds it until its drainingUntil, and an
// endpoint in the load balancer's EndpointSlices that status reports
// healthy or not at all (the deletion, or the status write, not seen yet)
// holds it too; never longer than its deletion + the target group's
// deregistrationDelaySeconds + 30 s (a stopped operator does not hold
// instances for ever).
DeregistrationLookup addLoadBalancerController(kube::Manager& mgr, kube::Recorder& events,
                                               const LoadBalancerControllerOptions& opts);

}  // namespace kubec2::controllers
