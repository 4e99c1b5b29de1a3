// A LoadBalancer's reconcile as a pure function: which Instances are each
// target group's targets, how the health checks since the last reconcile
// move them (target_health.h), and the Service, EndpointSlices, Ingress,
// status and Events that follow (render.h). The controller
// (controllers/loadbalancer/) observes, calls planLoadBalancer, applies the
// plan, keeps `tracked` for the next reconcile and hands `checks` to the
// prober. docs/load-balancers.md describes the behaviour.
//
// Targets, as ELB registers them (docs/load-balancers.md, "Targets"):
//  - scalingGroupRef: the group's Instances (controller ownerReference to a
//    ScalingGroup of that name), except warm-pool ones; while the group
//    has AddToLoadBalancer in spec.suspendedProcesses (EC2 Auto Scaling's
//    process of that name), none that is not registered yet is added;
//    those registered stay. On resume every one is registered (EC2 leaves
//    the ones launched meanwhile to be registered by hand);
//  - instanceSelector: the namespace's Instances whose labels match;
//  - instanceRefs: the named Instances.
// An Instance being deleted, or no longer selected, leaves its target
// groups: a healthy target drains for deregistrationDelaySeconds (its
// endpoint terminating: open connections finish, no new ones), any other
// goes at once. A target whose Instance is not running (no state running
// or no private IP) is unused, and starts again from initial when it runs.
//
// A target group removed from spec (a rename is a removal and a new group)
// deregisters its targets the same way, draining for the delay the group
// last had (ELB's 300 s when this process never saw it): while one drains
// the group keeps its status entry and its EndpointSlices (with the ports
// they had), then both go. ELB's identity of a registration is
// instance:port, so a group whose port changes registers its targets anew
// (initial, not ready) and the healthy registrations at the old port drain;
// those are kept under the key "<instance>:<old port>" and shown in status
// only (a slice has one ports list). A health check setting (its port too)
// is no registration change: ELB keeps the targets' health.
//
// The health of targets lives in the leader's memory between reconciles
// (`tracked`). A new leader (or a restarted operator) rebuilds it from
// what it wrote: the EndpointSlices (a ready endpoint was healthy, a
// terminating one draining) and status.targetGroups[].targets (unhealthy
// and initial targets, drainingUntil). So a handover drops no healthy
// target from service and lets no draining one run past its delay.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"
#include "reconcilers/common/applied.h"
#include "reconcilers/common/plan.h"
#include "reconcilers/loadbalancer/render.h"
#include "reconcilers/loadbalancer/target_health.h"

namespace kubec2::reconcilers::loadbalancer {

namespace v1 = kubec2::api::v1alpha1;

// A target (one registration) between reconciles.
struct TrackedTarget {
  std::string uid;
  std::string ip;         // where it was checked and where traffic goes
  std::int64_t port = 0;  // with the Instance, the registration's identity (ELB's)
  std::string nodeName{};
  std::string zone{};
  TargetHealth health{};
  // The group's deregistrationDelaySeconds when last planned: how long the
  // target drains if its group is removed.
  std::int64_t deregistrationDelaySeconds = 300;
};
// Target group name (those of spec, and removed ones still draining) ->
// Instance name, or "<instance>:<port>" for a registration at a port the
// group no longer has (draining; ':' is never in an Instance name) -> target.
using TrackedTargets = std::map<std::string, std::map<std::string, TrackedTarget>>;

// One health check's raw outcome, as the prober (runtime/prober.h) reports
// it; the plan judges it with the target group's matcher.
struct RawCheck {
  enum class Kind { Answered, Connected, Timeout, Failed };
  std::string targetGroup;
  std::string instance;
  std::string ip;  // the address checked: a result for an older address is ignored
  Time at{};
  Kind kind = Kind::Failed;
  int httpStatus = 0;  // Answered
  std::string detail{};
};

// A check the prober should run: one per target in state initial, healthy
// or unhealthy.
struct HealthCheckTarget {
  std::string targetGroup;
  std::string instance;
  std::string ip;
  CheckSettings settings;  // port resolved ("traffic-port" is the group's port)
};

// What the controller found of an HTTPS listener's certificate Secret
// (a GET by name; its data is not kept).
enum class CertificateCheck {
  Found,       // a Secret with non-empty data tls.crt and tls.key
  NotFound,    // no Secret of that name in the namespace
  Incomplete,  // the Secret lacks tls.crt or tls.key
};

struct LoadBalancerObservation {
  const v1::LoadBalancer* loadBalancer = nullptr;  // never null
  std::vector<const v1::Instance*> instances{};    // the namespace's, from the cache
  // The namespace's ScalingGroups, from the cache: whether a
  // scalingGroupRef names one, and its suspendedProcesses
  // (AddToLoadBalancer).
  std::vector<const v1::ScalingGroup*> scalingGroups{};
  // The HTTPS listeners' certificate Secrets, by Secret name; a name
  // absent here was not checked and is taken as found.
  std::map<std::string, CertificateCheck> certificates{};
  // The last apply of the Service was refused as Invalid on spec.ports
  // (a port a field manager other than the operator added or changed,
  // which server-side apply merges with: 422 Duplicate value).
  bool serviceRefused = false;
  // A Service (Ingress) of the load balancer's name exists that it does not
  // control (a user's, or an old load balancer's not yet collected): kubec2
  // never takes it over (docs/load-balancers.md, "Names").
  bool serviceNameTaken = false;
  bool ingressNameTaken = false;
  // What this process tracked at its last reconcile of this object (same
  // uid); null when it has none: rebuilt from the slices and status.
  const TrackedTargets* tracked = nullptr;
  std::vector<RawCheck> checks{};  // since the last reconcile, oldest first
  // The objects the load balancer owns, from the cache (null: absent),
  // with the records of the operator's last applies of them.
  const nlohmann::json* service = nullptr;
  const AppliedRecord* serviceApplied = nullptr;
  const nlohmann::json* ingress = nullptr;
  const AppliedRecord* ingressApplied = nullptr;
  std::vector<const nlohmann::json*> endpointSlices{};  // those labelled with its name
  std::map<std::string, AppliedRecord> sliceApplied{};  // by slice name
  DiscoveryVersion discovery = DiscoveryVersion::V1;
  std::string ingressClass{};  // --ingress-class
  bool ingressServed = true;   // networking.k8s.io/v1 ingresses are served
  Time now{};
};

// Targets per state, for kubec2_loadbalancer_targets.
struct TargetCounts {
  int initial = 0, healthy = 0, unhealthy = 0, draining = 0, unused = 0;
};

struct LoadBalancerDecision {
  Plan plan;
  TrackedTargets tracked;                      // keep for the next reconcile
  std::vector<HealthCheckTarget> checks;       // what the prober should check now
  std::map<std::string, TargetCounts> counts;  // by target group
  // The checks judged in this reconcile: target group -> outcome (pass,
  // timeout, response_code_mismatch, failed) -> how many.
  std::map<std::string, std::map<std::string, int>> outcomes;
};

// Conditions besides Ready, HealthyTargets and IngressSynced
// (docs/load-balancers.md, "What a user sees"):
//  - TargetsResolved: False, reason ScalingGroupNotFound or
//    InstanceNotFound, when a scalingGroupRef or instanceRefs names an
//    object that does not exist (at most kNamesInMessage names listed);
//    True otherwise (reason AddToLoadBalancerSuspended when a group's new
//    instances are held back). One Warning Event TargetsNotFound when the
//    message changes to a new not-found one.
//  - CertificatesFound: False, reason CertificateNotFound, naming each
//    HTTPS listener whose Secret is missing or lacks tls.crt/tls.key; the
//    Ingress is written anyway (the ingress controller serves its default
//    certificate for those hosts). One Warning Event CertificateNotFound
//    when the message changes. Absent when there is no HTTPS listener.
// Either False requeues the load balancer within kRecheckMissing (a
// Secret is not watched; the Instances and ScalingGroups are, but a
// requeue costs little).
//  - A Service of the load balancer's name that it does not control:
//    nothing is written to it and no EndpointSlice names it (those of the
//    load balancer are deleted) nor the Ingress (its backends would be
//    that Service), Ready False reason NameConflict, one Warning Event
//    NameConflict; an Ingress likewise: not written, IngressSynced False
//    reason NameConflict. Requeued within
//    kRecheckMissing (that Service is not watched).
inline constexpr std::size_t kNamesInMessage = 5;
inline constexpr std::chrono::seconds kRecheckMissing{30};

// The Service: applied (server-side apply); when the Service holds a port
// the operator did not write (a port with one of its names but another
// number or protocol, or another name) and changed after the operator's
// last apply, or that apply was refused (serviceRefused), its spec.ports
// is first replaced whole by a merge patch (MergePatchObject, keeping the
// node ports of ports that stay) and an Event ServiceRestored says so,
// naming who changed it: the Service keeps its cluster IP, which a delete
// and re-create would change.

// At most this many targets per target group in status (not healthy first).
inline constexpr std::size_t kStatusTargetsPerGroup = 100;

LoadBalancerDecision planLoadBalancer(const LoadBalancerObservation& o);

// The targets of `group` among `instances` (the rules above), by name;
// each with whether it runs (state running and a private IP). Instances
// being deleted are not selected: they are leaving.
struct SelectedTarget {
  const v1::Instance* instance = nullptr;
  bool running = false;
};
std::map<std::string, SelectedTarget> selectTargets(
    const v1::TargetGroup& group, const std::vector<const v1::Instance*>& instances);

}  // namespace kubec2::reconcilers::loadbalancer
