// An Instance's snapshot schedule (spec.snapshotSchedule) as a pure
// function, as an Amazon Data Lifecycle Manager snapshot policy: at each
// time the recurrence names, a Snapshot of the instance; older scheduled
// Snapshots deleted beyond the newest `retain` completed ones (a copy is
// never deleted for one that has not completed: an outage of the
// snapshotter does not wipe the good copies). docs/snapshots.md, "Scheduled
// snapshots". The controller (controllers/snapshot/) observes the
// instance and its scheduled Snapshots and executes the plan, whose
// subject is the Instance (Events only: its status is the Instance
// controller's).
//
// A scheduled Snapshot is named scheduledSnapshotName() (one name per
// instance and time, so a create whose answer was lost is sent again
// under the same name), labelled compute.kubec2.io/instance=INSTANCE,
// compute.kubec2.io/instance-uid=UID and compute.kubec2.io/schedule=true,
// annotated
// compute.kubec2.io/scheduled-for=TIME (RFC 3339, UTC), and has no owner:
// it outlives the instance, as DLM's snapshots do.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "api/v1alpha1/types.h"
#include "reconcilers/common/plan.h"

namespace kubec2::reconcilers::snapshot {

namespace v1 = kubec2::api::v1alpha1;
using Time = std::chrono::system_clock::time_point;

struct ScheduledSnapshot {
  std::string name;
  std::string uid;
  Time scheduledFor{};    // its annotation
  bool deleting = false;  // metadata.deletionTimestamp set
  std::string state{};    // status.state: pending (or ""), completed, error
};

struct ScheduleObservation {
  const v1::Instance* instance = nullptr;  // never null
  // This instance's scheduled Snapshots: the schedule and instance labels,
  // the instance-uid label of this Instance's uid, and the annotation; in
  // any order and state.
  std::vector<ScheduledSnapshot> taken;
  // Names of every other Snapshot in the namespace (hand-made ones, an
  // earlier Instance's of the same name): never taken over.
  std::set<std::string> otherNames;
  Time now{};
};

// With no scheduled Snapshot yet, a time this far back still counts (a
// reconcile runs a little after the time it was asked for; a schedule
// added just after a time takes that one). Older times are not caught up.
inline constexpr std::chrono::minutes kFirstCatchUp{10};

Plan planSnapshotSchedule(const ScheduleObservation& o);

// INSTANCE-YYYYMMDD-HHMM (UTC), at most 63 characters: an instance name
// longer than 49 is cut to 42 and followed by 6 hex digits of its hash, so
// two long names sharing a prefix do not collide.
std::string scheduledSnapshotName(const std::string& instance, Time at);

// The Snapshot taken for the time `at` (without the applied stamp).
nlohmann::json renderScheduledSnapshot(const v1::Instance& instance, Time at);

}  // namespace kubec2::reconcilers::snapshot
