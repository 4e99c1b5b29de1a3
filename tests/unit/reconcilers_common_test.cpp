// What every reconciler shares: the condition rule, the finalizer flow, the
// applied-configuration checks, and the LaunchTemplate's status plan.
#include <gtest/gtest.h>

#include "reconcilers/common/applied.h"
#include "reconcilers/common/conditions.h"
#include "reconcilers/common/finalizer.h"
#include "reconcilers/launchtemplate/launch_template.h"

namespace kubec2::reconcilers {
namespace {

using nlohmann::json;

TEST(Conditions, TheTransitionTimeMovesWithStatusOrReason) {
  Conditions c;
  setCondition(c, condition(c, "Ready", "False", "ShuttingDown", "going", 1, "t1"));
  EXPECT_EQ(findCondition(c, "Ready")->lastTransitionTime, "t1");
  setCondition(c, condition(c, "Ready", "False", "ShuttingDown", "still going", 2, "t2"));
  EXPECT_EQ(findCondition(c, "Ready")->lastTransitionTime, "t1") << "same status and reason";
  EXPECT_EQ(findCondition(c, "Ready")->message, "still going");
  EXPECT_EQ(findCondition(c, "Ready")->observedGeneration, 2);
  setCondition(c, condition(c, "Ready", "False", "Terminated", "gone", 2, "t3"));
  EXPECT_EQ(findCondition(c, "Ready")->lastTransitionTime, "t3") << "a new reason";
  setCondition(c, condition(c, "Ready", "True", "Terminated", "gone", 2, "t4"));
  EXPECT_EQ(findCondition(c, "Ready")->lastTransitionTime, "t4") << "a new status";
  setCondition(c, condition(c, "UpToDate", "False", "WaitingForStart", "x", 2, "t5"));
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].type, "Ready") << "order kept";
  removeCondition(c, "UpToDate");
  removeCondition(c, "Ready");
  EXPECT_FALSE(c.has_value()) << "an empty list is absent";
}

kube::ObjectMeta meta(bool deleting, std::vector<std::string> finalizers) {
  kube::ObjectMeta m;
  m.name = "x";
  if (deleting) m.deletionTimestamp = "2030-01-01T00:00:00Z";
  m.finalizers = std::move(finalizers);
  return m;
}

TEST(FinalizerFlow, ApplyWhileAliveCleanupOnceDeletedRemoveOnlyWhenDone) {
  auto apply = [] {
    Plan p;
    p.add(RecordEvent{false, "Applied", "", {}});
    p.requeueWithin(std::chrono::seconds(5));
    return p;
  };
  bool done = false;
  auto cleanup = [&] {
    CleanupResult r;
    r.plan.add(RecordEvent{false, "CleanedUp", "", {}});
    r.done = done;
    return r;
  };
  Plan p = withFinalizer(meta(false, {}), "f", apply, cleanup);
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<AddFinalizer>(p.actions[0]));
  EXPECT_EQ(p.requeueAfter, std::chrono::seconds(5));
  p = withFinalizer(meta(false, {"f"}), "f", apply, cleanup);
  EXPECT_EQ(p.actions.size(), 1u);
  p = withFinalizer(meta(true, {"f"}), "f", apply, cleanup);
  EXPECT_EQ(p.first<RecordEvent>()->reason, "CleanedUp");
  EXPECT_FALSE(p.first<RemoveFinalizer>()) << "not before cleanup is done";
  done = true;
  p = withFinalizer(meta(true, {"f"}), "f", apply, cleanup);
  EXPECT_TRUE(std::holds_alternative<RemoveFinalizer>(p.actions.back())) << "last";
  EXPECT_TRUE(withFinalizer(meta(true, {"other"}), "f", apply, cleanup).empty());
}

TEST(Applied, TheStampChangesWithTheConfigurationOnly) {
  json a = {{"metadata", {{"name", "x"}}}, {"spec", {{"n", 1}}}};
  json b = a;
  stamp(a);
  stamp(b);
  EXPECT_EQ(stampOf(&a), stampOf(&b));
  EXPECT_EQ(stampOf(&a).size(), 16u);
  b["spec"]["n"] = 2;
  stamp(b);
  EXPECT_NE(stampOf(&a), stampOf(&b));
  stamp(a);  // stamping twice gives the same
  EXPECT_EQ(stampOf(&a), stampOf(&a));
  EXPECT_EQ(stampOf(nullptr), "");
}

TEST(Applied, NotKeptNamesWhatTheServerDropped) {
  const json applied = json::parse(R"({"spec":{"template":{"metadata":{"labels":{"a":"b"}},
      "spec":{"disks":[{"name":"root"},{"name":"x"}],"n":1}},"empty":[]}})");
  const json stored = json::parse(R"({"spec":{"template":{"metadata":{},
      "spec":{"disks":[{"name":"root","bus":"virtio"},{"name":"x"}],"n":2}}}})");
  EXPECT_EQ(notKept(applied, stored),
            (std::vector<std::string>{"/spec/template/metadata/labels", "/spec/template/spec/n"}));
  EXPECT_TRUE(containedIn(without(applied, notKept(applied, stored)), stored));
  EXPECT_EQ(fieldPathOf("/spec/dataVolumeTemplates/0/metadata"),
            "spec.dataVolumeTemplates[0].metadata");
  EXPECT_EQ(fieldPathOf("/metadata/labels/compute.kubec2.io~1instance"),
            "metadata.labels.compute.kubec2.io/instance");
}

TEST(Applied, DecisionsFromTheObjectAndTheLastApply) {
  json desired = {{"metadata", {{"name", "vm"}}}, {"spec", {{"run", "Always"}, {"x", 1}}}};
  stamp(desired);
  EXPECT_EQ(decideApply(desired, nullptr, nullptr).need, ApplyNeed::Create);
  json stored = desired;
  stored["metadata"]["resourceVersion"] = "7";
  stored["spec"].erase("x");  // the server drops x
  const AppliedRecord rec{stampOf(&desired), "7", notKept(desired, stored)};
  EXPECT_EQ(decideApply(desired, &stored, &rec).need, ApplyNeed::None);
  // Without the record (a restart): checked again once, without blame.
  EXPECT_EQ(decideApply(desired, &stored, nullptr).need, ApplyNeed::Recheck);
  // Somebody changes a kept field: restore, naming it.
  json edited = stored;
  edited["metadata"]["resourceVersion"] = "9";
  edited["spec"]["run"] = "Halted";
  const ApplyDecision d = decideApply(desired, &edited, &rec);
  EXPECT_EQ(d.need, ApplyNeed::Restore);
  EXPECT_EQ(d.changed, std::vector<std::string>{"/spec/run"});
  // Unchanged since our apply: in force, whatever the comparison says.
  const AppliedRecord blind{stampOf(&desired), "7", {}};
  EXPECT_EQ(decideApply(desired, &stored, &blind).need, ApplyNeed::None);
  // A new configuration.
  json next = desired;
  next["spec"]["x"] = 2;
  stamp(next);
  EXPECT_EQ(decideApply(next, &stored, &rec).need, ApplyNeed::Change);
}

TEST(LaunchTemplatePlan, StatusSaysTheVersionsAndIsWrittenOnlyOnChange) {
  auto lt = v1::LaunchTemplate::fromJson(json::parse(R"({
    "apiVersion":"compute.kubec2.io/v1alpha1","kind":"LaunchTemplate",
    "metadata":{"name":"web","namespace":"ns","generation":2},
    "spec":{"versions":[{"spec":{}},{"spec":{}},{"spec":{}}],"defaultVersion":2}})"));
  const auto now = std::chrono::system_clock::from_time_t(1800000000);
  Plan p = planLaunchTemplate(lt, now);
  const PatchStatus* s = p.first<PatchStatus>();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->status["latestVersion"], 3);
  EXPECT_EQ(s->status["defaultVersion"], 2);
  EXPECT_EQ(s->status["conditions"][0]["reason"], "Published");
  EXPECT_EQ(s->status["conditions"][0]["message"],
            "3 versions; $Latest is version 3, $Default is version 2");
  json j = lt.toJson();
  j["status"] = s->status;
  lt = v1::LaunchTemplate::fromJson(j);
  EXPECT_TRUE(planLaunchTemplate(lt, now + std::chrono::hours(1)).empty());
  j["spec"]["defaultVersion"] = 4;
  const Plan missing = planLaunchTemplate(v1::LaunchTemplate::fromJson(j), now);
  ASSERT_TRUE(missing.first<PatchStatus>());
  EXPECT_EQ(missing.first<PatchStatus>()->status["conditions"][0]["reason"],
            "DefaultVersionMissing");
}

}  // namespace
}  // namespace kubec2::reconcilers
