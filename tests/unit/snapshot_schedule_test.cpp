// An Instance's snapshot schedule, table-tested on a simulated clock: when a
// Snapshot is taken, what it is named and labelled, missed times, time
// zones, and count-based retention (Amazon DLM's idea).
#include "reconcilers/snapshot/schedule.h"

#include <gtest/gtest.h>

#include "api/well_known.h"
#include "runtime/timefmt.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace snap = kubec2::reconcilers::snapshot;
namespace rec = kubec2::reconcilers;
namespace v1 = kubec2::api::v1alpha1;

snap::Time at(const std::string& rfc3339) {
  return *kube::parseRfc3339Utc(rfc3339);
}

v1::Instance instance(json schedule, const std::string& name = "db-1") {
  json j = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
            {"kind", "Instance"},
            {"metadata",
             {{"name", name},
              {"namespace", "shop"},
              {"uid", "inst-uid"},
              {"creationTimestamp", "2026-11-01T00:00:00Z"}}},
            {"spec", {{"instanceType", "t3.micro"}}}};
  if (!schedule.is_null()) j["spec"]["snapshotSchedule"] = std::move(schedule);
  return v1::Instance::fromJson(j);
}

json daily(int retain = 7) {
  return {{"recurrence", "0 3 * * *"}, {"retain", retain}};
}

rec::Plan plan(const v1::Instance& inst, std::vector<snap::ScheduledSnapshot> taken,
               const std::string& now) {
  snap::ScheduleObservation o;
  o.instance = &inst;
  o.taken = std::move(taken);
  o.now = at(now);
  return snap::planSnapshotSchedule(o);
}

std::vector<std::string> created(const rec::Plan& p) {
  std::vector<std::string> out;
  for (const auto* c : p.all<rec::CreateObject>()) out.push_back(c->object["metadata"]["name"]);
  return out;
}

std::vector<std::string> deleted(const rec::Plan& p) {
  std::vector<std::string> out;
  for (const auto* d : p.all<rec::DeleteObject>()) out.push_back(d->name);
  return out;
}

snap::ScheduledSnapshot taken(const std::string& name, const std::string& when) {
  return {name, "uid-" + name, at(when), false, ""};
}

snap::ScheduledSnapshot done(const std::string& name, const std::string& when) {
  auto t = taken(name, when);
  t.state = "completed";
  return t;
}

TEST(SnapshotSchedule, TakesASnapshotAtTheTimeNamedLabelledAndOwnedByNobody) {
  const auto inst = instance(daily());
  const auto p = plan(inst, {}, "2026-11-30T03:00:01Z");
  ASSERT_EQ(created(p), std::vector<std::string>{"db-1-20261130-0300"});
  const json& s = p.first<rec::CreateObject>()->object;
  EXPECT_EQ(s["kind"], "Snapshot");
  EXPECT_EQ(s["metadata"]["namespace"], "shop");
  EXPECT_EQ(s["metadata"]["labels"][kubec2::api::kInstanceLabel], "db-1");
  EXPECT_EQ(s["metadata"]["labels"][kubec2::api::kScheduleLabel], "true");
  EXPECT_EQ(s["metadata"]["labels"][kubec2::api::kInstanceUidLabel], "inst-uid");
  EXPECT_EQ(s["metadata"]["annotations"][kubec2::api::kScheduledForAnnotation],
            "2026-11-30T03:00:00Z");
  EXPECT_FALSE(s["metadata"].contains("ownerReferences")) << "it must outlive the instance";
  EXPECT_EQ(s["spec"]["instanceRef"]["name"], "db-1");
  // Announced only by the create that makes it (a Normal Event).
  EXPECT_EQ(p.first<rec::CreateObject>()->createdReason, "ScheduledSnapshot");
  EXPECT_EQ(p.first<rec::CreateObject>()->createdMessage,
            "took Snapshot db-1-20261130-0300 (schedule \"0 3 * * *\", UTC, for "
            "2026-11-30T03:00:00Z)");
  EXPECT_EQ(p.first<rec::RecordEvent>(), nullptr);
  // Back for tomorrow's.
  EXPECT_EQ(p.requeueAfter, std::chrono::milliseconds(24h - 1s));
}

TEST(SnapshotSchedule, NothingBeforeTheTimeButAWakeUpAtIt) {
  const auto inst = instance(daily());
  const auto p = plan(inst, {}, "2026-11-30T02:00:00Z");
  EXPECT_TRUE(created(p).empty());
  EXPECT_EQ(p.requeueAfter, std::chrono::milliseconds(1h));
}

// A schedule added to an old instance starts at its next time: the times
// before it was added are not caught up.
TEST(SnapshotSchedule, ASchedulAddedLaterDoesNotCatchUp) {
  const auto inst = instance(daily());
  const auto p = plan(inst, {}, "2026-11-30T05:00:00Z");
  EXPECT_TRUE(created(p).empty());
  EXPECT_EQ(p.requeueAfter, std::chrono::milliseconds(22h));
}

// Days missed while the operator was down: one snapshot, for the latest.
TEST(SnapshotSchedule, MissedTimesGiveOneSnapshotForTheLatest) {
  const auto inst = instance(daily());
  const auto p =
      plan(inst, {taken("db-1-20261126-0300", "2026-11-26T03:00:00Z")}, "2026-11-30T04:30:00Z");
  EXPECT_EQ(created(p), std::vector<std::string>{"db-1-20261130-0300"});
}

TEST(SnapshotSchedule, TheNextOneComesAfterTheNewestTaken) {
  const auto inst = instance(daily());
  const std::vector<snap::ScheduledSnapshot> have = {
      taken("db-1-20261129-0300", "2026-11-29T03:00:00Z")};
  EXPECT_TRUE(created(plan(inst, have, "2026-11-29T03:00:05Z")).empty());
  EXPECT_EQ(created(plan(inst, have, "2026-11-30T03:00:00Z")),
            std::vector<std::string>{"db-1-20261130-0300"});
}

TEST(SnapshotSchedule, TheRecurrenceIsReadInItsTimeZone) {
  json s = daily();
  s["timeZone"] = "Europe/Paris";  // UTC+1 in November
  const auto inst = instance(s);
  EXPECT_EQ(created(plan(inst, {}, "2026-11-30T02:00:30Z")),
            std::vector<std::string>{"db-1-20261130-0200"});
}

TEST(SnapshotSchedule, KeepsTheNewestRetainCompletedAndDeletesOlderOnes) {
  const auto inst = instance(daily(2));
  // Taken now: the two completed ones stay until it is cut too.
  auto p = plan(inst,
                {done("db-1-20261128-0300", "2026-11-28T03:00:00Z"),
                 done("db-1-20261129-0300", "2026-11-29T03:00:00Z")},
                "2026-11-30T03:00:00Z");
  EXPECT_EQ(created(p), std::vector<std::string>{"db-1-20261130-0300"});
  EXPECT_TRUE(deleted(p).empty());
  // Cut: the oldest goes.
  p = plan(inst,
           {done("db-1-20261128-0300", "2026-11-28T03:00:00Z"),
            done("db-1-20261129-0300", "2026-11-29T03:00:00Z"),
            done("db-1-20261130-0300", "2026-11-30T03:00:00Z")},
           "2026-11-30T03:00:20Z");
  EXPECT_TRUE(created(p).empty());
  EXPECT_EQ(deleted(p), std::vector<std::string>{"db-1-20261128-0300"});
  const auto* d = p.first<rec::DeleteObject>();
  EXPECT_EQ(d->uid, "uid-db-1-20261128-0300");  // never one re-created meanwhile
  // Announced only by the delete that deletes it.
  EXPECT_EQ(d->deletedReason, "ScheduledSnapshotsExpired");
  EXPECT_EQ(d->deletedMessage,
            "deleted Snapshot db-1-20261128-0300: older than the newest 2 completed (retain)");
}

// A snapshotter down for days: the new ones stay pending, and the good
// copies are not deleted for them.
TEST(SnapshotSchedule, PendingOnesNeverPushOutTheLastGoodCopies) {
  const auto inst = instance(daily(2));
  auto pending = [](const std::string& n, const std::string& when) {
    auto t = taken(n, when);
    t.state = "pending";
    return t;
  };
  const auto p = plan(inst,
                      {done("db-1-20261126-0300", "2026-11-26T03:00:00Z"),
                       done("db-1-20261127-0300", "2026-11-27T03:00:00Z"),
                       pending("db-1-20261128-0300", "2026-11-28T03:00:00Z"),
                       pending("db-1-20261129-0300", "2026-11-29T03:00:00Z")},
                      "2026-11-30T03:00:00Z");
  EXPECT_EQ(created(p).size(), 1u);
  EXPECT_TRUE(deleted(p).empty());

  // Never completing (a class missing): pending ones are kept up to twice
  // retain, so they do not pile up either.
  std::vector<snap::ScheduledSnapshot> stuck;
  for (int day = 20; day <= 29; ++day)
    stuck.push_back(pending("db-1-202611" + std::to_string(day) + "-0300",
                            "2026-11-" + std::to_string(day) + "T03:00:00Z"));
  const auto q = plan(inst, stuck, "2026-11-30T03:00:00Z");
  EXPECT_EQ(created(q).size(), 1u);
  EXPECT_EQ(deleted(q).size(), 7u);  // 11 with the new one, 4 kept
}

// Failed ones (an instance without volumes) are kept by count, so they
// do not pile up.
TEST(SnapshotSchedule, FailedOnesAreKeptByCount) {
  const auto inst = instance(daily(2));
  auto failed = [](const std::string& n, const std::string& when) {
    auto t = taken(n, when);
    t.state = "error";
    return t;
  };
  const auto p = plan(inst,
                      {failed("db-1-20261127-0300", "2026-11-27T03:00:00Z"),
                       failed("db-1-20261128-0300", "2026-11-28T03:00:00Z"),
                       failed("db-1-20261129-0300", "2026-11-29T03:00:00Z")},
                      "2026-11-30T03:00:00Z");
  EXPECT_EQ(created(p).size(), 1u);
  EXPECT_EQ(deleted(p), (std::vector<std::string>{"db-1-20261128-0300", "db-1-20261127-0300"}));
}

// A Snapshot of the next name that the schedule did not take (made by hand,
// or an earlier Instance's of the same name): not taken over, nothing
// trimmed, a Warning.
TEST(SnapshotSchedule, ANameTakenByAnotherSnapshotIsNotTakenOver) {
  const auto inst = instance(daily(1));
  snap::ScheduleObservation o;
  o.instance = &inst;
  o.taken = {done("db-1-20261129-0300", "2026-11-29T03:00:00Z"),
             done("db-1-20261128-0300", "2026-11-28T03:00:00Z")};
  o.otherNames = {"db-1-20261130-0300"};
  o.now = at("2026-11-30T03:00:00Z");
  const auto p = snap::planSnapshotSchedule(o);
  EXPECT_TRUE(created(p).empty());
  EXPECT_TRUE(deleted(p).empty());
  ASSERT_NE(p.first<rec::RecordEvent>(), nullptr);
  EXPECT_TRUE(p.first<rec::RecordEvent>()->warning);
  EXPECT_EQ(p.first<rec::RecordEvent>()->reason, "ScheduledSnapshotNameTaken");
}

// A scheduled-for time still to come is not a time taken: the schedule
// goes on.
TEST(SnapshotSchedule, ATimeStillToComeDoesNotStopTheSchedule) {
  const auto inst = instance(daily());
  const auto p = plan(inst,
                      {done("db-1-20261129-0300", "2026-11-29T03:00:00Z"),
                       done("db-1-20300101-0000", "2030-01-01T00:00:00Z")},
                      "2026-11-30T03:00:00Z");
  EXPECT_EQ(created(p), std::vector<std::string>{"db-1-20261130-0300"});
}

TEST(SnapshotSchedule, OnesBeingDeletedAreNotCounted) {
  const auto inst = instance(daily(2));
  auto going = taken("db-1-20261127-0300", "2026-11-27T03:00:00Z");
  going.deleting = true;
  const auto p = plan(inst, {going, taken("db-1-20261129-0300", "2026-11-29T03:00:00Z")},
                      "2026-11-30T03:00:00Z");
  EXPECT_EQ(created(p).size(), 1u);
  EXPECT_TRUE(deleted(p).empty());
}

TEST(SnapshotSchedule, NothingWithoutAScheduleOrForAnInstanceBeingDeleted) {
  EXPECT_TRUE(plan(instance(nullptr), {}, "2026-11-30T03:00:00Z").empty());
  json j = instance(daily()).toJson();
  j["metadata"]["deletionTimestamp"] = "2026-11-30T02:59:00Z";
  const auto going = v1::Instance::fromJson(j);
  const auto p = plan(going, {taken("a", "2026-11-01T03:00:00Z")}, "2026-11-30T03:00:00Z");
  EXPECT_TRUE(p.empty()) << "what was taken stays";
}

TEST(SnapshotSchedule, NamesFitALabelValueAndLongInstanceNamesDoNotCollide) {
  const std::string a(63, 'a');
  const std::string b = std::string(62, 'a') + "b";
  const auto t = at("2026-11-30T03:00:00Z");
  const auto na = snap::scheduledSnapshotName(a, t);
  const auto nb = snap::scheduledSnapshotName(b, t);
  EXPECT_LE(na.size(), 63u);
  EXPECT_LE(nb.size(), 63u);
  EXPECT_NE(na, nb);
  EXPECT_TRUE(na.ends_with("-20261130-0300")) << na;
  EXPECT_EQ(snap::scheduledSnapshotName("db-1", t), "db-1-20261130-0300");
}

}  // namespace
