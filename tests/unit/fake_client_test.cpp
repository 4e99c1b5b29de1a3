// The in-memory API answers as the API server does where controllers rely on
// it: these are the rules the controllers' unit tests stand on.
#include "runtime/fake_client.h"

#include <thread>

#include <gtest/gtest.h>

#include "runtime/client_wrapper.h"
#include "runtime/informer.h"
#include "runtime/managed_fields.h"

namespace kube {
namespace {

using nlohmann::json;

const Resource kWidgets{"example.io", "v1", "widgets", true, "Widget"};
const Resource kMaps{"", "v1", "configmaps", true, "ConfigMap"};
const Resource kNodes{"", "v1", "nodes", false, "Node"};

json widget(const std::string& name, json spec = json::object()) {
  return {{"apiVersion", "example.io/v1"},
          {"kind", "Widget"},
          {"metadata", {{"name", name}}},
          {"spec", std::move(spec)}};
}

int code(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.code();
  }
  return 200;
}

class FakeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api.serve(kWidgets, {.statusSubresource = true,
                         .specReplicasPath = ".spec.replicas",
                         .statusReplicasPath = ".status.replicas",
                         .labelSelectorPath = ".status.selector"});
    api.serve(kMaps, {.statusSubresource = false});
    api.serve(kNodes);
  }
  FakeClient api;
};

TEST_F(FakeClientTest, CreateSetsServerFieldsAndRefusesDuplicates) {
  const json w = api.create(kWidgets, "ns", widget("a"));
  EXPECT_EQ(w["metadata"]["namespace"], "ns");
  EXPECT_FALSE(w["metadata"].value("uid", "").empty());
  EXPECT_FALSE(w["metadata"].value("resourceVersion", "").empty());
  EXPECT_FALSE(w["metadata"].value("creationTimestamp", "").empty());
  EXPECT_EQ(w["metadata"]["generation"], 1);
  try {
    api.create(kWidgets, "ns", widget("a"));
    FAIL() << "created twice";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isAlreadyExists()) << e.what();
  }
  json g = widget("");
  g["metadata"] = {{"generateName", "web-"}};
  const json named = api.create(kWidgets, "ns", g);
  EXPECT_EQ(named["metadata"]["name"].get<std::string>().rfind("web-", 0), 0u);
}

TEST_F(FakeClientTest, UnservedResourcesAnswerNotFound) {
  const Resource vms{"kubevirt.io", "v1", "virtualmachines", true, "VirtualMachine"};
  EXPECT_FALSE(api.isServed("kubevirt.io", "v1", "virtualmachines"));
  EXPECT_EQ(code([&] { api.create(vms, "ns", widget("a")); }), 404);
  api.serve(vms);
  EXPECT_TRUE(api.isServed("kubevirt.io", "v1", "virtualmachines"));
  EXPECT_FALSE(api.isServed("kubevirt.io", "v2", "virtualmachines"));
}

TEST_F(FakeClientTest, StaleUpdateConflictsAndGenerationFollowsTheSpec) {
  json w = api.create(kWidgets, "ns", widget("a", {{"size", 1}}));
  json stale = w;
  w["spec"]["size"] = 2;
  w = api.update(kWidgets, "ns", w);
  EXPECT_EQ(w["metadata"]["generation"], 2);
  stale["spec"]["size"] = 3;
  EXPECT_EQ(code([&] { api.update(kWidgets, "ns", stale); }), 409);
  // Labels are metadata: no new generation.
  w["metadata"]["labels"] = {{"a", "b"}};
  w = api.update(kWidgets, "ns", w);
  EXPECT_EQ(w["metadata"]["generation"], 2);
  json noRv = w;
  noRv["metadata"].erase("resourceVersion");
  EXPECT_EQ(code([&] { api.update(kWidgets, "ns", noRv); }), 422);
  EXPECT_EQ(code([&] { api.get(kWidgets, "ns", "missing"); }), 404);
}

TEST_F(FakeClientTest, StatusSubresourceSeparatesStatusFromSpec) {
  json w = widget("a", {{"size", 1}});
  w["status"] = {{"ready", true}};
  w = api.create(kWidgets, "ns", w);
  EXPECT_FALSE(w.contains("status")) << "status is dropped on create";
  api.patchStatus(kWidgets, "ns", "a", PatchType::Merge,
                  {{"status", {{"ready", true}}}, {"spec", {{"size", 9}}}});
  w = api.get(kWidgets, "ns", "a");
  EXPECT_EQ(w["status"]["ready"], true);
  EXPECT_EQ(w["spec"]["size"], 1) << "a status write ignores spec";
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"status", {{"ready", false}}}});
  EXPECT_EQ(api.get(kWidgets, "ns", "a")["status"]["ready"], true) << "a main write ignores status";
  // Without the subresource, status is an ordinary field.
  json m = api.create(kMaps, "ns", {{"metadata", {{"name", "m"}}}, {"status", {{"x", 1}}}});
  EXPECT_EQ(m["status"]["x"], 1);
}

TEST_F(FakeClientTest, ScaleSubresourceReadsAndWritesTheReplicaPaths) {
  json w = widget("a", {{"replicas", 2}});
  api.create(kWidgets, "ns", w);
  api.patchStatus(kWidgets, "ns", "a", PatchType::Merge,
                  {{"status", {{"replicas", 1}, {"selector", "app=a"}}}});
  json scale = api.get(kWidgets, "ns", "a", "scale");
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["spec"]["replicas"], 2);
  EXPECT_EQ(scale["status"]["replicas"], 1);
  EXPECT_EQ(scale["status"]["selector"], "app=a");
  scale["spec"]["replicas"] = 5;
  api.update(kWidgets, "ns", scale, {.subresource = "scale"});
  EXPECT_EQ(api.get(kWidgets, "ns", "a")["spec"]["replicas"], 5);
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"spec", {{"replicas", 7}}}},
            {.subresource = "scale"});
  EXPECT_EQ(api.get(kWidgets, "ns", "a")["spec"]["replicas"], 7);
  EXPECT_EQ(code([&] { api.get(kMaps, "ns", "a", "scale"); }), 404);
}

TEST_F(FakeClientTest, FinalizersHoldDeletionAndNoNewOneIsAccepted) {
  json w = widget("a");
  w["metadata"]["finalizers"] = {"example.io/keep"};
  api.create(kWidgets, "ns", w);
  const auto pending = api.del(kWidgets, "ns", "a");
  ASSERT_TRUE(pending.has_value());
  EXPECT_TRUE((*pending)["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(code([&] {
              api.patch(kWidgets, "ns", "a", PatchType::Merge,
                        {{"metadata", {{"finalizers", {"example.io/keep", "example.io/new"}}}}});
            }),
            422);
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"metadata", {{"finalizers", nullptr}}}});
  EXPECT_FALSE(api.object(kWidgets, "ns", "a").has_value()) << "gone with its last finalizer";
}

TEST_F(FakeClientTest, DeletePreconditionsAndGarbageCollection) {
  const json owner = api.create(kWidgets, "ns", widget("owner"));
  const std::string uid = owner["metadata"]["uid"];
  json child = {{"metadata",
                 {{"name", "child"},
                  {"ownerReferences",
                   {{{"apiVersion", "example.io/v1"},
                     {"kind", "Widget"},
                     {"name", "owner"},
                     {"uid", uid},
                     {"controller", true}}}}}}};
  api.create(kMaps, "ns", child);
  child["metadata"]["name"] = "orphan";
  api.create(kMaps, "ns", child);
  DeleteOptions wrongUid;
  wrongUid.preconditionUid = "not-" + uid;
  EXPECT_EQ(code([&] { api.del(kWidgets, "ns", "owner", wrongUid); }), 409);
  // Orphan: the dependents stay, released.
  json orphanOwner = api.create(kWidgets, "ns", widget("owner2"));
  json c2 = {{"metadata",
              {{"name", "kept"},
               {"ownerReferences",
                {{{"apiVersion", "example.io/v1"},
                  {"kind", "Widget"},
                  {"name", "owner2"},
                  {"uid", orphanOwner["metadata"]["uid"]}}}}}}};
  api.create(kMaps, "ns", c2);
  api.del(kWidgets, "ns", "owner2", {.propagationPolicy = "Orphan"});
  ASSERT_TRUE(api.object(kMaps, "ns", "kept").has_value());
  EXPECT_FALSE(api.object(kMaps, "ns", "kept")->at("metadata").contains("ownerReferences"));
  // Background: they go with the owner.
  DeleteOptions rightUid;
  rightUid.preconditionUid = uid;
  EXPECT_FALSE(api.del(kWidgets, "ns", "owner", rightUid).has_value());
  EXPECT_FALSE(api.object(kMaps, "ns", "child").has_value());
  EXPECT_FALSE(api.object(kMaps, "ns", "orphan").has_value());
}

TEST_F(FakeClientTest, SelectorsOnListsAndPaging) {
  for (int i = 0; i < 5; ++i) {
    json w = widget("w" + std::to_string(i));
    w["metadata"]["labels"] = {{"tier", i % 2 ? "web" : "db"}};
    api.create(kWidgets, i < 4 ? "a" : "b", w);
  }
  EXPECT_EQ(api.list(kWidgets, "", {.labelSelector = "tier=web"}).items.size(), 2u);
  EXPECT_EQ(api.list(kWidgets, "a", {.labelSelector = "tier in (web,db)"}).items.size(), 4u);
  EXPECT_EQ(api.list(kWidgets, "", {.fieldSelector = "metadata.name=w4"}).items.size(), 1u);
  EXPECT_EQ(api.list(kWidgets, "", {.fieldSelector = "metadata.namespace!=a"}).items.size(), 1u);
  const ListPage first = api.listPage(kWidgets, "", {.limit = 2});
  EXPECT_EQ(first.items.size(), 2u);
  EXPECT_FALSE(first.continueToken.empty());
  EXPECT_EQ(api.list(kWidgets, "", {.limit = 2}).items.size(), 5u) << "pages are concatenated";
}

TEST_F(FakeClientTest, MergeAndJsonPatches) {
  json w = api.create(kWidgets, "ns", widget("a", {{"size", 1}, {"color", "red"}}));
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"spec", {{"color", nullptr}, {"size", 2}}}});
  w = api.get(kWidgets, "ns", "a");
  EXPECT_EQ(w["spec"], json({{"size", 2}}));
  const json guarded =
      json::array({{{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", "stale"}},
                   {{"op", "replace"}, {"path", "/spec/size"}, {"value", 3}}});
  EXPECT_EQ(code([&] { api.patch(kWidgets, "ns", "a", PatchType::Json, guarded); }), 422);
  const json ok = json::array({{{"op", "test"},
                                {"path", "/metadata/resourceVersion"},
                                {"value", w["metadata"]["resourceVersion"]}},
                               {{"op", "replace"}, {"path", "/spec/size"}, {"value", 3}}});
  api.patch(kWidgets, "ns", "a", PatchType::Json, ok);
  EXPECT_EQ(api.get(kWidgets, "ns", "a")["spec"]["size"], 3);
  // A merge patch carrying a resourceVersion is a precondition.
  EXPECT_EQ(code([&] {
              api.patch(kWidgets, "ns", "a", PatchType::Merge,
                        {{"metadata", {{"resourceVersion", "1"}}}, {"spec", {{"size", 4}}}});
            }),
            409);
}

TEST_F(FakeClientTest, ServerSideApplyOwnsRemovesAndConflicts) {
  json cfg = widget("a", {{"size", 1}, {"color", "red"}});
  cfg["metadata"]["labels"] = {{"team", "web"}};
  api.apply(kWidgets, "ns", cfg, "ctrl");
  json w = api.get(kWidgets, "ns", "a");
  EXPECT_EQ(w["spec"]["color"], "red");
  EXPECT_EQ(managersOf(w, "/spec/color"), std::vector<std::string>{"ctrl"});
  // Another writer changes a field: it now owns it.
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"spec", {{"color", "blue"}}}},
            {.fieldManager = "kubectl-edit"});
  w = api.get(kWidgets, "ns", "a");
  EXPECT_EQ(managersOf(w, "/spec/color"), std::vector<std::string>{"kubectl-edit"});
  // Applying without force over it conflicts; with force takes it back.
  EXPECT_EQ(code([&] { api.apply(kWidgets, "ns", cfg, "ctrl", /*force=*/false); }), 409);
  api.apply(kWidgets, "ns", cfg, "ctrl", true);
  EXPECT_EQ(api.get(kWidgets, "ns", "a")["spec"]["color"], "red");
  // A field the manager stops applying is removed; one another owns stays.
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"spec", {{"extra", 1}}}},
            {.fieldManager = "other"});
  json smaller = widget("a", {{"size", 1}});
  api.apply(kWidgets, "ns", smaller, "ctrl");
  w = api.get(kWidgets, "ns", "a");
  EXPECT_FALSE(w["spec"].contains("color"));
  EXPECT_FALSE(w["metadata"].contains("labels") && w["metadata"]["labels"].contains("team"));
  EXPECT_EQ(w["spec"]["extra"], 1);
  // The same configuration again is a no-op: no new resourceVersion.
  const std::string rv = w["metadata"]["resourceVersion"];
  api.apply(kWidgets, "ns", smaller, "ctrl");
  EXPECT_EQ(api.get(kWidgets, "ns", "a")["metadata"]["resourceVersion"], rv);
}

// Field ownership is per manager, operation and subresource, as the server
// keys managedFields: a status apply and a spec apply by the same manager
// leave each other's fields alone.
TEST_F(FakeClientTest, ApplyOwnershipIsPerSubresourceAndOperation) {
  api.apply(kWidgets, "ns", widget("a", {{"size", 1}}), "ctrl");
  json status = {{"apiVersion", "example.io/v1"},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "a"}}},
                 {"status", {{"ready", true}}}};
  api.apply(kWidgets, "ns", status, "ctrl", true, "status");
  json w = api.get(kWidgets, "ns", "a");
  EXPECT_EQ(w["spec"]["size"], 1) << "a status apply leaves the spec";
  EXPECT_EQ(w["status"]["ready"], true);
  api.apply(kWidgets, "ns", widget("a", {{"size", 2}}), "ctrl");
  w = api.get(kWidgets, "ns", "a");
  EXPECT_EQ(w["status"]["ready"], true) << "a spec apply leaves the status";
  EXPECT_EQ(w["spec"]["size"], 2);
  // A merge patch by the applier is an Update entry of its own: the next
  // apply without that field does not remove it.
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"spec", {{"color", "red"}}}},
            {.fieldManager = "ctrl"});
  api.apply(kWidgets, "ns", widget("a", {{"size", 2}}), "ctrl");
  EXPECT_EQ(api.get(kWidgets, "ns", "a")["spec"]["color"], "red");
  int entries = 0;
  const json fields = api.get(kWidgets, "ns", "a")["metadata"]["managedFields"];
  for (const auto& e : fields) {
    ++entries;
    EXPECT_EQ(e["manager"], "ctrl");
    EXPECT_FALSE(e.value("time", "").empty());
  }
  EXPECT_EQ(entries, 3) << "Apply, Apply/status and Update";
}

TEST_F(FakeClientTest, DeletionBumpsTheGenerationAndOrphansTouchOnlyDependents) {
  json w = widget("a");
  w["metadata"]["finalizers"] = {"example.io/keep"};
  api.create(kWidgets, "ns", w);
  api.create(kMaps, "ns", {{"metadata", {{"name", "bystander"}}}});
  const std::string rv = (*api.object(kMaps, "ns", "bystander"))["metadata"]["resourceVersion"];
  api.del(kWidgets, "ns", "a", {.propagationPolicy = "Orphan"});
  EXPECT_EQ((*api.object(kWidgets, "ns", "a"))["metadata"]["generation"], 2);
  const json bystander = *api.object(kMaps, "ns", "bystander");
  EXPECT_FALSE(bystander["metadata"].contains("ownerReferences"));
  EXPECT_EQ(bystander["metadata"]["resourceVersion"], rv);
}

TEST_F(FakeClientTest, CreateRefusesAResourceVersion) {
  json w = widget("a");
  w["metadata"]["resourceVersion"] = "12";
  EXPECT_EQ(code([&] { api.create(kWidgets, "ns", w); }), 500);
}

TEST_F(FakeClientTest, InformerListsAndWatchesThroughTheFake) {
  api.create(kWidgets, "ns", widget("before"));
  Informer<RawObject> inf(api, kWidgets,
                          {.namespace_ = "ns", .minBackoff = std::chrono::milliseconds(1)});
  std::stop_source stop;
  std::thread t([&] { inf.run(stop.get_token()); });
  auto until = [&](const std::function<bool()>& f) {
    for (int i = 0; i < 2000 && !f(); ++i)
      std::this_thread::yield(), std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return f();
  };
  EXPECT_TRUE(until([&] { return inf.hasSynced() && inf.store().size() == 1; }));
  api.create(kWidgets, "ns", widget("after"));
  api.create(kWidgets, "other", widget("elsewhere"));
  EXPECT_TRUE(until([&] { return inf.store().size() == 2; }));
  api.closeWatches();  // the informer resumes from its last resourceVersion
  api.del(kWidgets, "ns", "before");
  EXPECT_TRUE(until([&] { return inf.store().size() == 1; }));
  api.compactHistory();
  api.closeWatches();  // resumes from a compacted version: 410, relist
  api.create(kWidgets, "ns", widget("third"));
  EXPECT_TRUE(until([&] { return inf.store().size() == 2 && inf.store().get("ns", "third"); }));
  stop.request_stop();
  t.join();
}

TEST_F(FakeClientTest, WatchSeesObjectsMoveInAndOutOfASelector) {
  api.create(kWidgets, "ns", widget("a"));
  const std::string rv = std::to_string(api.resourceVersion());
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"metadata", {{"labels", {{"x", "1"}}}}}});
  api.patch(kWidgets, "ns", "a", PatchType::Merge, {{"metadata", {{"labels", {{"x", "2"}}}}}});
  std::vector<std::string> types;
  api.watch(kWidgets, "ns", {.labelSelector = "x=1", .resourceVersion = rv}, [&](WatchEvent&& e) {
    types.push_back(e.type);
    return types.size() < 2;
  });
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "DELETED"}));
  // Watch events carry managedFields, as GETs do.
  api.watch(kWidgets, "ns", {.resourceVersion = rv}, [&](WatchEvent&& e) {
    EXPECT_TRUE(e.object["metadata"].contains("managedFields")) << e.object.dump();
    return false;
  });
}

TEST(FaultInjectingClient, FailsChosenCallsAndRecordsEveryCall) {
  FakeClient api;
  api.serve(kMaps, {.statusSubresource = false});
  FaultInjectingClient faulty(api);
  faulty.inject({.verb = "create", .resource = "configmaps"}, FaultInjectingClient::conflict(), 1,
                /*skip=*/1);
  faulty.inject({.verb = "get"}, FaultInjectingClient::tooManyRequests(std::chrono::seconds(3)));
  faulty.create(kMaps, "ns", {{"metadata", {{"name", "first"}}}});
  try {
    faulty.create(kMaps, "ns", {{"metadata", {{"name", "second"}}}});
    FAIL() << "no fault";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isConflict());
  }
  EXPECT_FALSE(api.object(kMaps, "ns", "second").has_value()) << "a failed call never arrives";
  try {
    faulty.get(kMaps, "ns", "first");
    FAIL() << "no fault";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.isTooManyRequests());
    EXPECT_EQ(e.status().retryAfter, std::chrono::seconds(3));
  }
  EXPECT_NO_THROW(faulty.get(kMaps, "ns", "first"));
  EXPECT_EQ(faulty.succeeded({.verb = "create"}), 1);
  EXPECT_EQ(faulty.calls().size(), 4u);
  EXPECT_EQ(faulty.calls()[1].str(), "create configmaps/second");
  EXPECT_TRUE(faulty.calls()[1].failed);
  EXPECT_EQ(faulty.pendingFaults(), 0);
  EXPECT_TRUE(FaultInjectingClient::timeout().isTransport());
}

// A lost answer: the write happened, the caller sees an error.
TEST(FaultInjectingClient, AfterFaultsLetTheWriteHappen) {
  FakeClient api;
  api.serve(kMaps, {.statusSubresource = false});
  FaultInjectingClient faulty(api);
  faulty.inject({.verb = "create"}, FaultInjectingClient::timeout(), 1, 0,
                FaultInjectingClient::When::After);
  faulty.inject({.verb = "discovery"}, FaultInjectingClient::internalError());
  EXPECT_THROW(faulty.create(kMaps, "ns", {{"metadata", {{"name", "c"}}}}), ApiError);
  EXPECT_TRUE(api.object(kMaps, "ns", "c")) << "the server has it";
  EXPECT_TRUE(faulty.calls()[0].failed);
  EXPECT_THROW(faulty.isServed("", "v1", "configmaps"), ApiError);
  EXPECT_TRUE(faulty.isServed("", "v1", "configmaps"));
}

}  // namespace
}  // namespace kube
