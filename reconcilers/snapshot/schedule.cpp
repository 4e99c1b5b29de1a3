#include "reconcilers/snapshot/schedule.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "api/well_known.h"
#include "reconcilers/scalinggroup/capacity.h"
#include "runtime/strings.h"
#include "runtime/timefmt.h"

namespace kubec2::reconcilers::snapshot {
namespace {

using nlohmann::json;

std::uint32_t fnv1a(const std::string& s) {
  std::uint32_t h = 2166136261u;
  for (const char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 16777619u;
  return h;
}

}  // namespace

std::string scheduledSnapshotName(const std::string& instance, Time at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "-%04d%02d%02d-%02d%02d", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min);
  if (instance.size() <= 49) return instance + stamp;
  char hash[16];
  std::snprintf(hash, sizeof hash, "-%06x", fnv1a(instance) & 0xffffffu);
  std::string prefix = instance.substr(0, 42);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix + hash + stamp;
}

json renderScheduledSnapshot(const v1::Instance& instance, Time at) {
  const v1::SnapshotSchedule& s = *instance.spec.snapshotSchedule;
  json spec = {
      {"instanceRef", {{"name", instance.metadata.name}}},
      {"description", "taken on the schedule \"" + s.recurrence + "\" (" +
                          s.timeZone.value_or("UTC") + ") for " + kube::formatRfc3339(at)}};
  if (s.volumes) spec["volumes"] = *s.volumes;
  if (s.volumeSnapshotClassName) spec["volumeSnapshotClassName"] = *s.volumeSnapshotClassName;
  return {{"apiVersion", api::kApiVersion},
          {"kind", "Snapshot"},
          {"metadata",
           {{"name", scheduledSnapshotName(instance.metadata.name, at)},
            {"namespace", instance.metadata.namespace_},
            {"labels",
             {{api::kManagedByLabel, api::kManagedByValue},
              {api::kInstanceLabel, instance.metadata.name},
              {api::kInstanceUidLabel, instance.metadata.uid},
              {api::kScheduleLabel, "true"}}},
            {"annotations", {{api::kScheduledForAnnotation, kube::formatRfc3339(at)}}}}},
          {"spec", std::move(spec)}};
}

Plan planSnapshotSchedule(const ScheduleObservation& o) {
  const v1::Instance& inst = *o.instance;
  Plan plan;
  // No schedule, or the instance is going: nothing more is taken; what was
  // taken stays (and is no longer trimmed).
  if (!inst.spec.snapshotSchedule || inst.metadata.deletionTimestamp) return plan;
  const v1::SnapshotSchedule& s = *inst.spec.snapshotSchedule;
  const std::string zone = s.timeZone.value_or("UTC");

  std::vector<ScheduledSnapshot> kept;
  for (const auto& t : o.taken)
    if (!t.deleting) kept.push_back(t);
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.scheduledFor > b.scheduledFor; });

  // The time to count from: the newest scheduled Snapshot's (any, also
  // one being deleted; a time still to come is not one taken), else a
  // little before now, and never before the instance was created (a
  // schedule added to an old instance does not catch up).
  Time last{};
  bool any = false;
  for (const auto& t : o.taken)
    if (t.scheduledFor <= o.now) {
      last = std::max(last, t.scheduledFor);
      any = true;
    }
  if (!any) {
    last = o.now - kFirstCatchUp;
    if (const auto created = kube::parseRfc3339Utc(inst.metadata.creationTimestamp))
      last = std::max(last, *created - std::chrono::seconds(1));
  }

  std::optional<Time> next;
  try {
    next = nextRecurrence(s.recurrence, zone, last);
    if (next && *next <= o.now) {
      // Times missed give one snapshot, for the latest of them.
      const Time at = latestRecurrence(s.recurrence, zone, *next, o.now).value_or(*next);
      const std::string name = scheduledSnapshotName(inst.metadata.name, at);
      if (o.otherNames.count(name)) {
        // Somebody else's Snapshot has the name: never taken over, and
        // nothing is trimmed for a snapshot not taken.
        plan.add(RecordEvent{true,
                             "ScheduledSnapshotNameTaken",
                             "a Snapshot " + name +
                                 " exists that this Instance's schedule did not take: the "
                                 "scheduled snapshot for " +
                                 kube::formatRfc3339(at) + " was not taken",
                             {}});
        if (const auto after = nextRecurrence(s.recurrence, zone, at))
          plan.requeueWithin(
              std::max(std::chrono::duration_cast<std::chrono::milliseconds>(*after - o.now),
                       std::chrono::milliseconds(1000)));
        return plan;
      }
      // Announced by the create that made it only: a second reconcile on a
      // cache that has not seen it yet sends the create again, answered
      // AlreadyExists.
      plan.add(CreateObject{v1::Snapshot::resource(), renderScheduledSnapshot(inst, at),
                            "ScheduledSnapshot",
                            "took Snapshot " + name + " (schedule \"" + s.recurrence + "\", " +
                                zone + ", for " + kube::formatRfc3339(at) + ")"});
      kept.insert(kept.begin(), ScheduledSnapshot{name, "", at, false, "pending"});
      next = nextRecurrence(s.recurrence, zone, at);
    }
  } catch (const std::invalid_argument& e) {
    // The webhook refuses these; an operator whose time zone database
    // lacks the zone says so and looks again later.
    plan.add(RecordEvent{true,
                         "SnapshotScheduleInvalid",
                         std::string("spec.snapshotSchedule cannot be read: ") + e.what(),
                         {}});
    plan.requeueWithin(std::chrono::hours(1));
    return plan;
  }

  // Count-based retention, newest first: the newest `retain` completed
  // ones are kept, with everything newer than the oldest of them (never a
  // good copy deleted for one not cut yet); older ones go, and so does a
  // failed one past the first `retain` places.
  std::int64_t completed = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    const ScheduledSnapshot& k = kept[i];
    bool drop = false;
    if (completed >= s.retain)
      drop = true;
    else if (k.state == "completed")
      ++completed;
    else if (k.state == "error")
      drop = i >= static_cast<size_t>(s.retain);
    else  // pending: kept while it may still complete, up to twice retain
      drop = i >= 2 * static_cast<size_t>(s.retain);
    if (!drop || k.uid.empty()) continue;  // uid empty: the one just asked for
    // Announced by the delete that deleted it only (a stale cache sends
    // it again, answered NotFound).
    plan.add(DeleteObject{v1::Snapshot::resource(), inst.metadata.namespace_, k.name, k.uid,
                          "ScheduledSnapshotsExpired",
                          "deleted Snapshot " + k.name + ": older than the newest " +
                              std::to_string(s.retain) + " completed (retain)"});
  }
  if (next)
    plan.requeueWithin(
        std::max(std::chrono::duration_cast<std::chrono::milliseconds>(*next - o.now),
                 std::chrono::milliseconds(1000)));
  return plan;
}

}  // namespace kubec2::reconcilers::snapshot
