#include "runtime/finalizers.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace kube {
namespace {

using nlohmann::json;

const char* const kFinalizer = "compute.kubec2.io/instance";

json object(json finalizers = nullptr) {
  json o = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
            {"kind", "Instance"},
            {"metadata",
             {{"name", "web-1"}, {"namespace", "prod"}, {"uid", "u1"}, {"resourceVersion", "10"}}}};
  if (!finalizers.is_null()) o["metadata"]["finalizers"] = finalizers;
  return o;
}

// Applies a JSON patch as the API server would: a failed test throws.
json applied(const json& obj, const json& patch) {
  return obj.patch(patch);
}

TEST(Finalizers, HasAddRemove) {
  json o = object();
  EXPECT_FALSE(hasFinalizer(o, kFinalizer));
  EXPECT_TRUE(addFinalizer(o, kFinalizer));
  EXPECT_TRUE(hasFinalizer(o, kFinalizer));
  EXPECT_FALSE(addFinalizer(o, kFinalizer));  // idempotent
  EXPECT_EQ(o["metadata"]["finalizers"], json({kFinalizer}));

  EXPECT_TRUE(addFinalizer(o, "other"));
  EXPECT_TRUE(removeFinalizer(o, kFinalizer));
  EXPECT_FALSE(removeFinalizer(o, kFinalizer));
  EXPECT_EQ(o["metadata"]["finalizers"], json({"other"}));
  EXPECT_TRUE(removeFinalizer(o, "other"));
  EXPECT_FALSE(o["metadata"].contains("finalizers"));  // as the server shows an empty list
}

TEST(Finalizers, RemoveDropsDuplicates) {
  json o = object({kFinalizer, "x", kFinalizer});
  EXPECT_TRUE(removeFinalizer(o, kFinalizer));
  EXPECT_EQ(o["metadata"]["finalizers"], json({"x"}));
}

TEST(Finalizers, ToleratesMissingMetadata) {
  json o = json::object();
  EXPECT_FALSE(hasFinalizer(o, kFinalizer));
  EXPECT_FALSE(removeFinalizer(o, kFinalizer));
  EXPECT_TRUE(addFinalizer(o, kFinalizer));
  EXPECT_TRUE(hasFinalizer(o, kFinalizer));
  EXPECT_FALSE(hasFinalizer(json("not an object"), kFinalizer));
}

TEST(Finalizers, TypedMeta) {
  ObjectMeta m;
  m.finalizers = {"a", kFinalizer};
  EXPECT_TRUE(hasFinalizer(m, kFinalizer));
  EXPECT_FALSE(hasFinalizer(m, "b"));
}

TEST(FinalizerPatch, AddToAnExistingListTestsTheList) {
  const json o = object({"other"});
  const auto p = addFinalizerPatch(o, kFinalizer);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, json::parse(R"([
    {"op": "test", "path": "/metadata/uid", "value": "u1"},
    {"op": "test", "path": "/metadata/finalizers", "value": ["other"]},
    {"op": "replace", "path": "/metadata/finalizers",
     "value": ["other", "compute.kubec2.io/instance"]}])"));
  EXPECT_EQ(applied(o, *p)["metadata"]["finalizers"], json({"other", kFinalizer}));

  // Unrelated writes meanwhile (new resourceVersion, status) do not conflict.
  json changed = o;
  changed["metadata"]["resourceVersion"] = "11";
  changed["status"] = {{"phase", "Running"}};
  EXPECT_EQ(applied(changed, *p)["metadata"]["finalizers"], json({"other", kFinalizer}));

  // A concurrent finalizer change does: the test fails, nothing is lost.
  json raced = o;
  raced["metadata"]["finalizers"] = {"other", "third"};
  EXPECT_THROW(applied(raced, *p), json::other_error);
}

TEST(FinalizerPatch, AddWithoutAListTestsTheResourceVersion) {
  const json o = object();
  const auto p = addFinalizerPatch(o, kFinalizer);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, json::parse(R"([
    {"op": "test", "path": "/metadata/uid", "value": "u1"},
    {"op": "test", "path": "/metadata/resourceVersion", "value": "10"},
    {"op": "add", "path": "/metadata/finalizers", "value": ["compute.kubec2.io/instance"]}])"));
  EXPECT_EQ(applied(o, *p)["metadata"]["finalizers"], json({kFinalizer}));
  json raced = o;
  raced["metadata"]["resourceVersion"] = "11";
  raced["metadata"]["finalizers"] = {"third"};
  EXPECT_THROW(applied(raced, *p), json::other_error);
}

TEST(FinalizerPatch, RemoveKeepsOthersAndIsGuarded) {
  const json o = object({"a", kFinalizer, "b"});
  const auto p = removeFinalizerPatch(o, kFinalizer);
  ASSERT_TRUE(p);
  EXPECT_EQ(applied(o, *p)["metadata"]["finalizers"], json({"a", "b"}));
  json raced = o;
  raced["metadata"]["finalizers"] = {"a", kFinalizer};  // someone removed "b" meanwhile
  EXPECT_THROW(applied(raced, *p), json::other_error);
}

TEST(FinalizerPatch, RemoveOnARecreatedObjectFails) {
  // Cleanup was done for uid u1; an object re-created under the same name
  // (uid u2) with the same finalizer must keep it.
  const json o = object({kFinalizer});
  const auto p = removeFinalizerPatch(o, kFinalizer);
  ASSERT_TRUE(p);
  json recreated = o;
  recreated["metadata"]["uid"] = "u2";
  EXPECT_THROW(applied(recreated, *p), json::other_error);
}

TEST(FinalizerPatch, NothingToDo) {
  EXPECT_FALSE(addFinalizerPatch(object({kFinalizer}), kFinalizer));
  EXPECT_FALSE(removeFinalizerPatch(object(), kFinalizer));
}

TEST(FinalizerPatch, NeedsAGuard) {
  json o = object();
  o["metadata"].erase("resourceVersion");
  EXPECT_THROW(finalizersJsonPatch(o, {kFinalizer}), std::invalid_argument);
  EXPECT_THROW(finalizersMergePatch(o, {kFinalizer}), std::invalid_argument);
}

TEST(FinalizerPatch, MergePatchCarriesTheResourceVersion) {
  const json o = object({"a", kFinalizer});
  EXPECT_EQ(finalizersMergePatch(o, {"a"}),
            json({{"metadata", {{"finalizers", {"a"}}, {"resourceVersion", "10"}}}}));
  json cleared = o;
  cleared.merge_patch(finalizersMergePatch(o, {}));
  EXPECT_FALSE(cleared["metadata"].contains("finalizers"));
}

// --- Owner references ---

ObjectMeta ownerMeta(const std::string& ns = "prod") {
  ObjectMeta m;
  m.name = "group";
  m.namespace_ = ns;
  m.uid = "owner-uid";
  return m;
}

TEST(OwnerRefs, ControllerOwnerRef) {
  EXPECT_EQ(controllerOwnerRef("compute.kubec2.io/v1alpha1", "ScalingGroup", "g", "u"),
            json({{"apiVersion", "compute.kubec2.io/v1alpha1"},
                  {"kind", "ScalingGroup"},
                  {"name", "g"},
                  {"uid", "u"},
                  {"controller", true},
                  {"blockOwnerDeletion", true}}));
}

TEST(OwnerRefs, SetAndCheckController) {
  json child = object();
  setControllerReference(child, "compute.kubec2.io/v1alpha1", "ScalingGroup", ownerMeta());
  EXPECT_EQ(child["metadata"]["ownerReferences"],
            json::array({controllerOwnerRef("compute.kubec2.io/v1alpha1", "ScalingGroup", "group",
                                            "owner-uid")}));
  EXPECT_TRUE(isControlledBy(child, "owner-uid"));
  EXPECT_FALSE(isControlledBy(child, "someone-else"));
  EXPECT_FALSE(isControlledBy(child, ""));
  EXPECT_TRUE(isControlledBy(ObjectMeta::fromJson(child["metadata"]), "owner-uid"));
  EXPECT_FALSE(isControlledBy(object(), "owner-uid"));
}

TEST(OwnerRefs, SetIsIdempotentAndTakesANewUidOrVersion) {
  json child = object();
  setControllerReference(child, "compute.kubec2.io/v1alpha1", "ScalingGroup", ownerMeta());
  setControllerReference(child, "compute.kubec2.io/v1alpha1", "ScalingGroup", ownerMeta());
  ASSERT_EQ(child["metadata"]["ownerReferences"].size(), 1u);
  // The owner was re-created (new uid) and is served at a newer version.
  auto recreated = ownerMeta();
  recreated.uid = "owner-uid-2";
  setControllerReference(child, "compute.kubec2.io/v1beta1", "ScalingGroup", recreated);
  ASSERT_EQ(child["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(child["metadata"]["ownerReferences"][0]["uid"], "owner-uid-2");
  EXPECT_EQ(child["metadata"]["ownerReferences"][0]["apiVersion"], "compute.kubec2.io/v1beta1");
}

TEST(OwnerRefs, KeepsOtherNonControllerOwners) {
  json child = object();
  child["metadata"]["ownerReferences"] = json::array(
      {{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "cm"}, {"uid", "cm-uid"}}});
  setControllerReference(child, "compute.kubec2.io/v1alpha1", "ScalingGroup", ownerMeta());
  ASSERT_EQ(child["metadata"]["ownerReferences"].size(), 2u);
  EXPECT_EQ(child["metadata"]["ownerReferences"][0]["name"], "cm");
}

TEST(OwnerRefs, RefusesASecondController) {
  json child = object();
  child["metadata"]["ownerReferences"] = json::array(
      {controllerOwnerRef("compute.kubec2.io/v1alpha1", "ScalingGroup", "other", "other-uid")});
  try {
    setControllerReference(child, "compute.kubec2.io/v1alpha1", "ScalingGroup", ownerMeta());
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("already controlled by ScalingGroup prod/other"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Instance prod/web-1"), std::string::npos) << msg;
  }
  EXPECT_EQ(child["metadata"]["ownerReferences"].size(), 1u);  // unchanged
}

TEST(OwnerRefs, RefusesCrossNamespaceAndClusterScopedChildren) {
  json child = object();
  EXPECT_THROW(setControllerReference(child, "compute.kubec2.io/v1alpha1", "ScalingGroup",
                                      ownerMeta("staging")),
               std::invalid_argument);
  json clusterChild = object();
  clusterChild["metadata"].erase("namespace");
  EXPECT_THROW(setControllerReference(clusterChild, "compute.kubec2.io/v1alpha1", "ScalingGroup",
                                      ownerMeta()),
               std::invalid_argument);
  // A cluster-scoped owner may own a namespaced object.
  EXPECT_NO_THROW(setControllerReference(child, "v1", "Node", ownerMeta("")));
  EXPECT_TRUE(isControlledBy(child, "owner-uid"));
}

TEST(OwnerRefs, RefusesAnOwnerWithoutUid) {
  json child = object();
  auto m = ownerMeta();
  m.uid.clear();
  EXPECT_THROW(setControllerReference(child, "compute.kubec2.io/v1alpha1", "ScalingGroup", m),
               std::invalid_argument);
}

TEST(OwnerRefs, FromOwnerObject) {
  const json owner = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                      {"kind", "ScalingGroup"},
                      {"metadata", {{"name", "group"}, {"namespace", "prod"}, {"uid", "g-uid"}}}};
  json child = object();
  setControllerReference(child, owner);
  EXPECT_TRUE(isControlledBy(child, "g-uid"));
  EXPECT_EQ(child["metadata"]["ownerReferences"][0]["kind"], "ScalingGroup");
}

}  // namespace
}  // namespace kube
