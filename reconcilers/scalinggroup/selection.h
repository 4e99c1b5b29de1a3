// Where a ScalingGroup launches and which instances it gives up, as EC2 Auto
// Scaling chooses: zones by balance, scale-in by termination policies.
// Pure; ties are broken by a stable hash of the instance's name, so the
// same state gives the same choice (EC2's "at random" is random among
// equals; a stable order keeps a retried reconcile from choosing another
// instance than the first attempt did).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reconcilers/scalinggroup/members.h"

namespace kubec2::reconcilers {

// The zones a group spreads over.
struct ZonePlan {
  // spec.availabilityZones, or every zone the cluster's nodes carry (their
  // topology.kubernetes.io/zone label); empty: no zone constraint at all
  // (nodes carry no zone label), instances launch without one.
  std::vector<std::string> eligible;
  // Of those, the zones with no schedulable node (none Ready, or all
  // cordoned): skipped for launches, and named in the ZonesAvailable
  // condition; their instances stay.
  std::vector<std::string> unavailable;
};

struct NodeView {
  std::string zone;         // "" when the node has no zone label
  bool schedulable = true;  // Ready, and not spec.unschedulable
};

ZonePlan zonesFor(const v1::ScalingGroupSpec& spec, const std::vector<NodeView>& nodes);

// The zone for each of `count` launches, one after the other, each into an
// available eligible zone with the fewest of the group's current instances
// (Pending, InService, Unhealthy; counting the launches chosen before it),
// ties to the zone first in `eligible`. Empty strings when the plan has no
// zones; fewer than `count` when every eligible zone is unavailable.
std::vector<std::string> launchZones(const ZonePlan& zones, const std::vector<Member>& members,
                                     std::int64_t count);

// AZRebalance: when the most and the fewest current instances of two
// available eligible zones differ by more than one, the zone to launch one
// more into and the instance to terminate once it is in service (from the
// fullest zone, by the termination order). nullopt when balanced. Instances
// in zones no longer eligible (or in none, "", while zones are eligible)
// always make a step: they are terminated from first, the zone holding the
// most of them (ties: the first by name). Only instances scale-in may choose
// count as terminable: the fullest zone is the fullest holding one that is
// not protected from scale-in, as EC2's scale-in chooses its zone.
// Instances in unavailable zones stay (launches skip those zones).
struct Rebalance {
  std::string launchInto;
  std::string terminateFrom;  // the zone
};
std::optional<Rebalance> rebalanceStep(const ZonePlan& zones, const std::vector<Member>& members);

// Scale-in: `count` instances to terminate among the candidates (not Warm,
// not Terminating, not protected from scale-in), as EC2 chooses one at a
// time: the zone with the most current instances first (among available
// zones, those in unavailable or ineligible zones before all; protected
// instances count, but only zones holding a candidate are chosen; zones
// tied for the most are chosen together and the policies decide between
// their instances, as in EC2), then each termination policy in order
// (spec.terminationPolicies, [Default] when absent) narrowing the field,
// then the stable tie-break (FNV-1a of the name, then the name):
//  - OldestLaunchTemplate: instances of a launch template version other
//    than `groupVersion` first, the lowest version first;
//  - OldestInstance / NewestInstance: by creation time;
//  - Default: OldestLaunchTemplate, then, where EC2 takes the instance
//    closest to its next billing hour (no meaning without hourly billing),
//    the instances not in service (Pending or Unhealthy) first, since
//    terminating them takes no serving capacity away.
// Returns member names, in the order chosen; fewer than `count` when the
// candidates run out.
std::vector<std::string> scaleInOrder(const std::vector<Member>& members,
                                      const std::vector<std::string>& policies,
                                      std::int64_t groupVersion, const ZonePlan& zones,
                                      std::int64_t count);

}  // namespace kubec2::reconcilers
