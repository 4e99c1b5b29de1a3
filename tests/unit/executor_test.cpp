// The one plan executor against the in-memory API: each action's write, what
// counts as done, and faults in the middle of a plan.
#include "controllers/common/executor.h"

#include <gtest/gtest.h>

#include "runtime/client_wrapper.h"
#include "runtime/fake_client.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
namespace rec = kubec2::reconcilers;

const kube::Resource kWidgets{"example.io", "v1", "widgets", true, "Widget"};
const kube::Resource kMaps{"", "v1", "configmaps", true, "ConfigMap"};

struct Captured final : kube::Recorder {
  struct Event {
    std::string reason, message;
    bool warning;
  };
  void event(const kube::ObjectRef& ref, kube::EventType type, const std::string& reason,
             const std::string& message) override {
    EXPECT_EQ(ref.kind, "Widget");
    events.push_back({reason, message, type == kube::EventType::Warning});
  }
  std::vector<Event> events;
};

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api.serve(kWidgets);
    api.serve(kMaps, {.statusSubresource = false});
    subject = {kWidgets, api.create(kWidgets, "ns",
                                    {{"metadata", {{"name", "w"}}}, {"spec", {{"size", 1}}}})};
  }
  json configMap(const std::string& name, json data) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", "ns"}}},
            {"data", std::move(data)}};
  }
  kube::FakeClient api;
  kube::FaultInjectingClient faulty{api};
  Captured events;
  PlanExecutor exec{faulty, events, "kubec2-test"};
  Subject subject;
  kube::ReconcileContext ctx{};
};

TEST_F(ExecutorTest, AppliesAndRemembersWhatTheServerKept) {
  rec::Plan p;
  p.add(rec::ApplyObject{kMaps, configMap("c", {{"a", "1"}})});
  EXPECT_EQ(exec.execute(subject, p, ctx), kube::Result::done());
  const auto stored = api.object(kMaps, "ns", "c");
  ASSERT_TRUE(stored);
  EXPECT_EQ((*stored)["data"]["a"], "1");
  const auto record = exec.ledger().find(kMaps, "ns", "c");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->resourceVersion, (*stored)["metadata"]["resourceVersion"]);
  EXPECT_TRUE(record->notKept.empty());
}

TEST_F(ExecutorTest, StatusIsReplacedWholeAndRememberedUntilTheCacheCatchesUp) {
  api.patchStatus(kWidgets, "ns", "w", kube::PatchType::Merge,
                  {{"status", {{"old", true}, {"state", "a"}}}});
  subject.object = api.get(kWidgets, "ns", "w");
  const json before = subject.object["status"];
  rec::Plan p;
  p.add(rec::PatchStatus{{{"state", "b"}, {"nested", {{"kept", 1}}}}});
  exec.execute(subject, p, ctx);
  EXPECT_EQ(api.get(kWidgets, "ns", "w")["status"],
            (json{{"state", "b"}, {"nested", {{"kept", 1}}}}))
      << "members the new status drops are removed";
  // While the cache still shows the replaced status (whatever else moved),
  // the written one stands in for it; once the cache has it, the entry goes.
  EXPECT_EQ(exec.statuses().lookup("ns/w", before),
            (json{{"state", "b"}, {"nested", {{"kept", 1}}}}));
  EXPECT_EQ(exec.statuses().lookup("ns/w", before),
            (json{{"state", "b"}, {"nested", {{"kept", 1}}}}));
  EXPECT_FALSE(exec.statuses().lookup("ns/w", json{{"state", "b"}, {"nested", {{"kept", 1}}}}));
  EXPECT_FALSE(exec.statuses().lookup("ns/w", before)) << "gone once caught up";
  // Nested members go too (a merge patch, not a replacement of the top level).
  subject.object = api.get(kWidgets, "ns", "w");
  rec::Plan q;
  q.add(rec::PatchStatus{{{"state", "b"}, {"nested", json::object()}}});
  exec.execute(subject, q, ctx);
  EXPECT_FALSE(api.get(kWidgets, "ns", "w")["status"]["nested"].contains("kept"));
}

TEST_F(ExecutorTest, FinalizersAreAddedAndRemovedWithGuards) {
  rec::Plan add;
  add.add(rec::AddFinalizer{"example.io/f"});
  exec.execute(subject, add, ctx);
  json w = api.get(kWidgets, "ns", "w");
  EXPECT_EQ(w["metadata"]["finalizers"], json::array({"example.io/f"}));
  // Somebody else changed the finalizers since `subject` was read: the
  // guarded patch fails rather than overwriting theirs.
  api.patch(kWidgets, "ns", "w", kube::PatchType::Merge,
            {{"metadata", {{"finalizers", {"example.io/f", "other.io/g"}}}}});
  rec::Plan remove;
  remove.add(rec::RemoveFinalizer{"example.io/f"});
  EXPECT_THROW(exec.execute({kWidgets, w}, remove, ctx), kube::ApiError);
  exec.execute({kWidgets, api.get(kWidgets, "ns", "w")}, remove, ctx);
  EXPECT_EQ(api.get(kWidgets, "ns", "w")["metadata"]["finalizers"], json::array({"other.io/g"}));
}

TEST_F(ExecutorTest, GoneObjectsCountAsDone) {
  rec::Plan p;
  p.add(rec::DeleteObject{kMaps, "ns", "never-there", "uid-x"});
  p.add(rec::ReleaseObject{kMaps, "ns", "never-there", "uid-x"});
  p.add(rec::RemoveFinalizer{"example.io/f"});
  EXPECT_EQ(exec.execute(subject, p, ctx), kube::Result::done());
  api.del(kWidgets, "ns", "w");
  rec::Plan status;
  status.add(rec::PatchStatus{{{"state", "x"}}});
  EXPECT_NO_THROW(exec.execute(subject, status, ctx)) << "a status for a deleted subject is moot";
  rec::Plan finalizer;
  finalizer.add(rec::AddFinalizer{"example.io/f"});
  finalizer.add(rec::ApplyObject{kMaps, configMap("after", {})});
  exec.execute(subject, finalizer, ctx);
  EXPECT_FALSE(api.object(kMaps, "ns", "after")) << "nothing is created for a deleted subject";
}

// The delete precondition is the uid that was observed: an object deleted
// and made again meanwhile (another uid) is not deleted unseen, and one
// that is simply gone is fine. (The controller once read the VM from its
// cache twice here, and a delete event between the reads crashed it.)
TEST_F(ExecutorTest, DeletesOnlyTheObjectThatWasObserved) {
  const json first = api.create(kMaps, "ns", configMap("vm", {}));
  const std::string uid = first["metadata"]["uid"];
  api.del(kMaps, "ns", "vm");
  api.create(kMaps, "ns", configMap("vm", {}));  // re-created by somebody else
  rec::Plan p;
  p.add(rec::DeleteObject{kMaps, "ns", "vm", uid});
  try {
    exec.execute(subject, p, ctx);
    FAIL() << "deleted an object it never saw";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.isConflict()) << e.what();
  }
  EXPECT_TRUE(api.object(kMaps, "ns", "vm"));
}

TEST_F(ExecutorTest, AFaultStopsThePlanAndARetryDoesNotRepeatWhatHeld) {
  faulty.inject({.verb = "patch", .subresource = "status"},
                kube::FaultInjectingClient::internalError());
  rec::Plan p;
  p.add(rec::ApplyObject{kMaps, configMap("c", {{"a", "1"}})});
  p.add(rec::PatchStatus{{{"state", "x"}}});
  p.add(rec::RecordEvent{false, "Done", "done", {}});
  EXPECT_THROW(exec.execute(subject, p, ctx), kube::ApiError);
  ASSERT_EQ(events.events.size(), 1u) << "nothing after the failed action but its report";
  EXPECT_EQ(events.events[0].reason, "WriteFailed");
  EXPECT_TRUE(events.events[0].warning);
  EXPECT_NE(events.events[0].message.find("Failed writing the status"), std::string::npos)
      << events.events[0].message;
  EXPECT_TRUE(api.object(kMaps, "ns", "c"));
  const std::string rv = (*api.object(kMaps, "ns", "c"))["metadata"]["resourceVersion"];
  exec.execute(subject, p, ctx);
  EXPECT_EQ((*api.object(kMaps, "ns", "c"))["metadata"]["resourceVersion"], rv)
      << "the second apply of the same configuration changes nothing";
  EXPECT_EQ(api.get(kWidgets, "ns", "w")["status"]["state"], "x");
  EXPECT_EQ(events.events.size(), 2u);
}

// A refused write is reported where a user looks (kubectl describe):
// Ready False with reason WriteFailed and a Warning naming the action and
// the server's answer, once per distinct answer; a routine conflict is not.
TEST_F(ExecutorTest, ARefusedWriteIsReportedAsAConditionAndAWarningOnce) {
  faulty.inject({.verb = "apply", .resource = "configmaps"},
                kube::FaultInjectingClient::internalError(), 2);
  rec::Plan p;
  p.add(rec::ApplyObject{kMaps, configMap("c", {{"a", "1"}})});
  p.add(rec::PatchStatus{{{"state", "x"}}});
  EXPECT_THROW(exec.execute(subject, p, ctx), kube::ApiError);
  ASSERT_EQ(events.events.size(), 1u);
  EXPECT_EQ(events.events[0].reason, "WriteFailed");
  EXPECT_NE(events.events[0].message.find("Failed applying ConfigMap c:"), std::string::npos)
      << events.events[0].message;
  const json ready = api.get(kWidgets, "ns", "w")["status"]["conditions"][0];
  EXPECT_EQ(ready["type"], "Ready");
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "WriteFailed");
  EXPECT_FALSE(api.get(kWidgets, "ns", "w")["status"].contains("state"))
      << "nothing after the failed action";

  // The retry, planned from the object as it now is, fails the same way: said once.
  const Subject again{kWidgets, api.get(kWidgets, "ns", "w")};
  EXPECT_THROW(exec.execute(again, p, ctx), kube::ApiError);
  EXPECT_EQ(events.events.size(), 1u);

  faulty.inject({.verb = "apply", .resource = "configmaps"},
                kube::FaultInjectingClient::conflict());
  EXPECT_THROW(exec.execute(again, p, ctx), kube::ApiError);
  EXPECT_EQ(events.events.size(), 1u) << "a conflict is routine: retried, not reported";
  exec.execute(again, p, ctx);
  EXPECT_EQ(api.get(kWidgets, "ns", "w")["status"]["state"], "x");
}

// Creations the server names, and how many actions took effect when one
// fails: what a controller with expectations lowers them by.
TEST_F(ExecutorTest, CreatesAreNamedByTheServerAndACountSaysWhatTookEffect) {
  rec::Plan p;
  json generated = configMap("", {{"a", "1"}});
  generated["metadata"].erase("name");
  generated["metadata"]["generateName"] = "c-";
  p.add(rec::CreateObject{kMaps, generated});
  p.add(rec::CreateObject{kMaps, generated});
  p.add(rec::ApplyObject{kMaps, configMap("fixed", {{"a", "1"}})});
  faulty.inject({.verb = "create", .resource = "configmaps"},
                kube::FaultInjectingClient::internalError(), 1, /*skip=*/1);
  ExecutionReport report;
  EXPECT_THROW(exec.execute(subject, p, ctx, &report), kube::ApiError);
  // Slow start: the first create alone, then the second, which fails.
  EXPECT_EQ(report.done, (std::vector<bool>{true, false, false}));
  const auto maps = api.list(kMaps, "ns").items;
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0]["metadata"]["name"].get<std::string>().rfind("c-", 0), 0u);
  EXPECT_EQ(exec.execute(subject, p, ctx, &report), kube::Result::done());
  EXPECT_EQ(report.done, (std::vector<bool>{true, true, true}));
  EXPECT_EQ(api.list(kMaps, "ns").items.size(), 4u) << "a create is not idempotent";

  // A hundred creates go out in rounds of 1, 2, 4 ... 16, all of them.
  rec::Plan many;
  for (int k = 0; k < 100; ++k) many.add(rec::CreateObject{kMaps, generated});
  EXPECT_EQ(exec.execute(subject, many, ctx, &report), kube::Result::done());
  EXPECT_EQ(std::count(report.done.begin(), report.done.end(), true), 100);
  EXPECT_EQ(api.list(kMaps, "ns").items.size(), 104u);
}

// A named create sent again from a stale cache is answered AlreadyExists:
// done, and its Event is not recorded a second time.
TEST_F(ExecutorTest, ANamedCreateIsAnnouncedOnlyByTheCreateThatMadeIt) {
  rec::Plan p;
  p.add(rec::CreateObject{kMaps, configMap("once", {{"a", "1"}}), "Took", "took once"});
  EXPECT_EQ(exec.execute(subject, p, ctx), kube::Result::done());
  EXPECT_EQ(exec.execute(subject, p, ctx), kube::Result::done());
  EXPECT_EQ(api.list(kMaps, "ns").items.size(), 1u);
  ASSERT_EQ(events.events.size(), 1u);
  EXPECT_EQ(events.events[0].reason, "Took");
  EXPECT_EQ(events.events[0].message, "took once");
  EXPECT_FALSE(events.events[0].warning);
}

TEST_F(ExecutorTest, ADeleteIsAnnouncedOnlyByTheDeleteThatDeleted) {
  api.create(kMaps, "ns", configMap("old", {{"a", "1"}}));
  rec::Plan p;
  p.add(rec::DeleteObject{kMaps, "ns", "old", "", "Expired", "deleted old"});
  EXPECT_EQ(exec.execute(subject, p, ctx), kube::Result::done());
  EXPECT_EQ(exec.execute(subject, p, ctx), kube::Result::done());  // NotFound: done
  ASSERT_EQ(events.events.size(), 1u);
  EXPECT_EQ(events.events[0].reason, "Expired");
  EXPECT_FALSE(events.events[0].warning);
}

TEST_F(ExecutorTest, AMergePatchReplacesAListWholeAndAStaleVersionConflicts) {
  const json stored = api.create(
      kWidgets, "ns",
      {{"metadata", {{"name", "x"}}}, {"spec", {{"ports", {{{"port", 81}}, {{"port", 9}}}}}}});
  const std::string rv = stored["metadata"]["resourceVersion"];
  rec::Plan p;
  p.add(rec::MergePatchObject{kWidgets, "ns", "x", rv, {{"spec", {{"ports", {{{"port", 80}}}}}}}});
  exec.execute(subject, p, ctx);
  EXPECT_EQ((*api.object(kWidgets, "ns", "x"))["spec"]["ports"], (json{{{"port", 80}}}));
  // Planned on a version that is no longer current: refused, unchanged.
  try {
    exec.execute(subject, p, ctx);
    FAIL() << "patched an object changed since it was observed";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.isConflict()) << e.what();
  }
}

TEST_F(ExecutorTest, ReleaseRemovesOnlyThatOwnersReference) {
  json dv = configMap("data", {});
  dv["metadata"]["ownerReferences"] = {
      {{"apiVersion", "v1"}, {"kind", "A"}, {"name", "a"}, {"uid", "uid-a"}},
      {{"apiVersion", "v1"}, {"kind", "B"}, {"name", "b"}, {"uid", "uid-b"}}};
  api.create(kMaps, "ns", dv);
  rec::Plan p;
  p.add(rec::ReleaseObject{kMaps, "ns", "data", "uid-a"});
  exec.execute(subject, p, ctx);
  const json refs = (*api.object(kMaps, "ns", "data"))["metadata"]["ownerReferences"];
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0]["uid"], "uid-b");
  exec.execute(subject, p, ctx);  // again: nothing to remove, nothing written
  EXPECT_EQ(api.writes("patch", "configmaps"), 1);
}

TEST_F(ExecutorTest, AStoppedReconcileWritesNothingMore) {
  std::stop_source stop;
  const kube::ReconcileContext stopping{.stop = stop.get_token()};
  stop.request_stop();
  rec::Plan p;
  p.add(rec::ApplyObject{kMaps, configMap("c", {})});
  EXPECT_THROW(exec.execute(subject, p, stopping), kube::ReconcileCancelled);
  EXPECT_FALSE(api.object(kMaps, "ns", "c"));
}

TEST_F(ExecutorTest, RequeueWishesBecomeTheResult) {
  rec::Plan later;
  later.requeueAfter = std::chrono::milliseconds(1500);
  EXPECT_EQ(exec.execute(subject, later, ctx),
            kube::Result::after(std::chrono::milliseconds(1500)));
  rec::Plan backoff;
  backoff.retryWithBackoff = true;
  EXPECT_EQ(exec.execute(subject, backoff, ctx), kube::Result::requeueNow());
}

// Most reconciles of a ScalingGroup plan nothing: the controller then
// passes no object (building it costs more than the plan), and nothing is
// read or written.
TEST_F(ExecutorTest, APlanWithoutActionsNeedsNoSubjectAndCallsNothing) {
  const auto before = faulty.calls().size();
  rec::Plan nothing;
  nothing.requeueAfter = std::chrono::milliseconds(700);
  EXPECT_EQ(exec.execute({kWidgets, json()}, nothing, ctx),
            kube::Result::after(std::chrono::milliseconds(700)));
  EXPECT_EQ(exec.execute({kWidgets, json()}, rec::Plan{}, ctx), kube::Result::done());
  EXPECT_EQ(faulty.calls().size(), before);
}

TEST_F(ExecutorTest, TheStatusCacheHoldsAKeyOnlyAfterAWrite) {
  EXPECT_FALSE(exec.statuses().holds("ns/w"));
  rec::Plan p;
  p.add(rec::PatchStatus{{{"state", "b"}}});
  exec.execute(subject, p, ctx);
  EXPECT_TRUE(exec.statuses().holds("ns/w"));
  EXPECT_FALSE(exec.statuses().lookup("ns/w", json{{"state", "b"}})) << "caught up";
  EXPECT_FALSE(exec.statuses().holds("ns/w"));
}

TEST_F(ExecutorTest, EventsNameWhoChangedAField) {
  api.apply(kMaps, "ns", configMap("c", {{"a", "1"}}), "kubec2-test");
  api.patch(kMaps, "ns", "c", kube::PatchType::Merge, {{"data", {{"a", "2"}}}},
            {.fieldManager = "kubectl-edit"});
  rec::Plan p;
  p.add(rec::RecordEvent{false, "Restored", "c was changed",
                         rec::ChangeAttribution{kMaps, "ns", "c", {"/data/a"}}});
  p.add(rec::ApplyObject{kMaps, configMap("c", {{"a", "1"}})});
  exec.execute(subject, p, ctx);
  ASSERT_EQ(events.events.size(), 1u);
  EXPECT_EQ(events.events[0].message, "c was changed (changed by kubectl-edit)");
  EXPECT_EQ((*api.object(kMaps, "ns", "c"))["data"]["a"], "1");
}

}  // namespace
}  // namespace kubec2::controllers
