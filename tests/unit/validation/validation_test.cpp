// The entry points of api/validation.h and what every kind shares: the
// dispatch by kind, references within the namespace, any JSON shape
// reported as field errors (never an exception), the examples admitted,
// and defaults that apply cleanly.
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/validation/kinds.h"
#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

using testing::HasSubstr;

// ---------------------------------------------------------------- references

const char* kOwnNamespaceOnly =
    "must be absent or the object's own namespace (shop): kubec2 objects refer only to objects "
    "of their own namespace";

std::vector<Refused> referencesRefused() {
  const json inst = instanceWithVolumes();
  return {
      refused("LaunchTemplateRefOfScalingGroup",
              with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", "other"}}),
              "spec.launchTemplateRef.namespace", Type::Invalid,
              std::string("spec.launchTemplateRef.namespace: Invalid value: \"other\": ") +
                  kOwnNamespaceOnly),
      refused("LoadBalancerRefsItem",
              with(scalingGroup(),
                   {{"/spec/loadBalancerRefs",
                     json::array({{{"name", "a"}}, {{"name", "b"}, {"namespace", "other"}}})}}),
              "spec.loadBalancerRefs[1].namespace", Type::Invalid, kOwnNamespaceOnly),
      refused("ScalingGroupRefOfTargetGroup",
              with(loadBalancer(),
                   {{"/spec/targetGroups/0/targets/scalingGroupRef/namespace", "other"}}),
              "spec.targetGroups[0].targets.scalingGroupRef.namespace", Type::Invalid,
              kOwnNamespaceOnly),
      refused(
          "InstanceRefsItem",
          with(loadBalancer(),
               {{"/spec/targetGroups/0/targets",
                 {{"instanceRefs", json::array({{{"name", "web-1"}, {"namespace", "other"}}})}}}}),
          "spec.targetGroups[0].targets.instanceRefs[0].namespace", Type::Invalid,
          kOwnNamespaceOnly),
      refused("ListenerCertificate",
              withListener(loadBalancer(),
                           with(httpsListener(), {{"/certificate/namespace", "other"}})),
              "spec.listeners[1].certificate.namespace", Type::Invalid, kOwnNamespaceOnly),
      refused("InstanceKeyPair",
              with(inst, {{"/spec/keyPair", {{"secretName", "k"}, {"namespace", "other"}}}}),
              "spec.keyPair.namespace", Type::Invalid, kOwnNamespaceOnly),
      refused("UserDataSecretRef",
              with(inst, {{"/spec/userData/secretRef", {{"name", "s"}, {"namespace", "other"}}}}),
              "spec.userData.secretRef.namespace", Type::Invalid, kOwnNamespaceOnly),
      refused(
          "ImagePvc",
          with(inst, {{"/spec/image", {{"pvc", {{"name", "golden"}, {"namespace", "images"}}}}}}),
          "spec.image.pvc.namespace", Type::Invalid, "Invalid value: \"images\""),
      refused("LaunchTemplateVersionKeyPair",
              with(launchTemplate(), {{"/spec/versions/0/spec/keyPair",
                                       {{"secretName", "k"}, {"namespace", "other"}}}}),
              "spec.versions[0].spec.keyPair.namespace", Type::Invalid, kOwnNamespaceOnly),
      // Not a string: still another namespace than the object's.
      refused("NamespaceOfTheWrongType",
              with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", 7}}),
              "spec.launchTemplateRef.namespace", Type::Invalid, "Invalid value: 7"),
      refused("AnyNamespaceWhenTheObjectHasNone",
              without(with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", "shop"}}),
                      "/metadata/namespace"),
              "spec.launchTemplateRef.namespace", Type::Invalid,
              "must be absent: kubec2 objects refer only to objects of their own namespace"),
  };
}

std::vector<Admitted> referencesAdmitted() {
  return {
      admitted("OwnNamespace",
               with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", "shop"},
                                     {"/spec/loadBalancerRefs",
                                      json::array({{{"name", "web"}, {"namespace", "shop"}}})}})),
      admitted("EmptyNamespace", with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", ""}})),
      admitted("NullNamespace",
               with(scalingGroup(), {{"/spec/launchTemplateRef/namespace", nullptr}})),
      admitted("NoNamespace", loadBalancer()),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationReferences, ValidationRefused,
                         testing::ValuesIn(referencesRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationReferences, ValidationAdmitted,
                         testing::ValuesIn(referencesAdmitted()), caseName<Admitted>);

// ---------------------------------------------------------------- robustness

TEST(ValidationRobustness, WrongShapesAreFieldErrorsNotExceptions) {
  std::vector<FieldError> errs;
  EXPECT_NO_THROW(errs = create(with(scalingGroup(), {{"/spec", "big"}})));
  expectOneError(errs, "spec", Type::Invalid, "spec: Invalid value: \"big\": expected an object");

  EXPECT_NO_THROW(errs = create(with(scalingGroup(), {{"/spec/minSize", "5"}})));
  expectOneError(errs, "spec.minSize", Type::Invalid,
                 "spec.minSize: Invalid value: \"5\": expected an integer");

  // Above int64: nlohmann keeps it unsigned, and it must not wrap to -1.
  EXPECT_NO_THROW(errs =
                      create(with(scalingGroup(), {{"/spec/minSize", 18446744073709551615ULL}})));
  expectOneError(errs, "spec.minSize", Type::Invalid, "at most 9223372036854775807");

  EXPECT_NO_THROW(errs =
                      create(with(launchTemplate(), {{"/spec/versions", {{"1", launchSpec()}}}})));
  expectOneError(errs, "spec.versions", Type::Invalid, "expected a list");

  EXPECT_NO_THROW(errs = create(without(scalingGroup(), "/spec/launchTemplateRef")));
  expectOneError(errs, "spec.launchTemplateRef", Type::Required, "Required value");

  EXPECT_NO_THROW(errs = create(without(loadBalancer(), "/spec")));
  expectOneError(errs, "spec", Type::Required, "spec: Required value");

  EXPECT_NO_THROW(errs =
                      validate({"ScalingGroup", Operation::Create, nullptr, nullptr}, fakeZones));
  expectOneError(errs, "", Type::Invalid,
                 "Invalid value: \"null\": must be a JSON object: a compute.kubec2.io/v1alpha1 "
                 "ScalingGroup");

  EXPECT_NO_THROW(errs = validate({"Pod", Operation::Create, instance(), nullptr}, fakeZones));
  expectOneError(errs, "kind", Type::Invalid,
                 "kind: Invalid value: \"Pod\": must be Instance, LaunchTemplate, ScalingGroup, "
                 "LoadBalancer, ElasticIP or Snapshot");
}

TEST(ValidationRobustness, DeeplyNestedJsonIsAnErrorNotAStackOverflow) {
  std::vector<FieldError> errs;
  const json deep = with(instance(), {{"/spec/tags/deep", nestedArrays(10000)}});
  EXPECT_NO_THROW(errs = create(deep));
  expectOneError(errs, "spec.tags.deep", Type::Invalid, "expected a string");
  EXPECT_NO_THROW(errs = update(instance(), deep));
  EXPECT_EQ(errs.size(), 1u) << messages(errs);
  // Unknown members are walked for references too, to a bounded depth.
  EXPECT_NO_THROW(errs = create(with(scalingGroup(), {{"/spec/extra", nestedArrays(10000)}})));
  EXPECT_TRUE(errs.empty()) << messages(errs);
}

// A stored object of the wrong shape (from before a rule, or written around
// the webhook) must not make updates and deletes fail in other ways.
TEST(ValidationRobustness, OldObjectsOfAnyShapeAreTolerated) {
  for (const json& old : {json(nullptr), json("x"), json::array(), json({{"spec", 5}}),
                          json({{"spec", {{"versions", "x"}, {"volumes", 3}}}})}) {
    SCOPED_TRACE(old.dump());
    for (const json& object : {instance(), launchTemplate(), scalingGroup(), loadBalancer()}) {
      std::vector<FieldError> errs;
      EXPECT_NO_THROW(errs = update(old, object));
      EXPECT_TRUE(errs.empty()) << object["kind"] << messages(errs);
      EXPECT_NO_THROW(
          errs = validate({object["kind"].get<std::string>(), Operation::Delete, nullptr, old},
                          fakeZones));
      EXPECT_TRUE(errs.empty()) << object["kind"] << messages(errs);
    }
  }
}

// Each member of rich objects replaced by values of every other shape: the
// errors name a field, and none is the catch-all for an internal exception.
TEST(ValidationRobustness, EveryMemberOfEveryShapeIsReportedByName) {
  std::vector<json> objects = exampleDocuments();
  objects.push_back(instanceWithVolumes());
  objects.push_back(withRule({{"fromPort", 80}, {"toPort", 90}}));
  objects.push_back(withStepScaling({}));
  const std::vector<json> shapes = {nullptr,        "text",         -1, 1.5, true, json::array(),
                                    json::object(), nestedArrays(3)};
  size_t checked = 0;
  for (const json& object : objects) {
    std::vector<json::json_pointer> pointers;
    allPointers(object["spec"], json::json_pointer("/spec"), pointers);
    for (const auto& pointer : pointers) {
      for (const json& shape : shapes) {
        json broken = object;
        broken[pointer] = shape;
        const auto kind = object["kind"].get<std::string>();
        for (const auto& in : {AdmissionInput{kind, Operation::Create, broken, nullptr},
                               AdmissionInput{kind, Operation::Update, broken, object},
                               AdmissionInput{kind, Operation::Update, object, broken},
                               AdmissionInput{kind, Operation::Delete, nullptr, broken}}) {
          std::vector<FieldError> errs;
          ASSERT_NO_THROW(errs = validate(in, fakeZones)) << pointer.to_string();
          for (const auto& e : errs) {
            EXPECT_FALSE(e.field.empty())
                << pointer.to_string() << " = " << shape << ": " << e.message();
            EXPECT_THAT(e.detail, testing::Not(HasSubstr("could not be validated")))
                << pointer.to_string() << " = " << shape;
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000u);
}

// ---------------------------------------------------------------- examples

// The examples are what users copy: each must be admitted as it stands, with
// the machine's real time zone database.
TEST(ValidationExamples, EveryExampleIsAdmittedOnCreate) {
  const auto docs = exampleDocuments();
  ASSERT_GE(docs.size(), 7u) << "examples/*.yaml not found under " << KUBEC2_SOURCE_DIR;
  for (const auto& doc : docs) {
    const std::string kind = doc.value("kind", "");
    SCOPED_TRACE(kind + " " + doc["metadata"].value("name", ""));
    const auto errs = validate({kind, Operation::Create, doc, nullptr});
    EXPECT_TRUE(errs.empty()) << messages(errs);
  }
}

// ---------------------------------------------------------------- the table of kinds

// Every kind of the declarations (their CRDs in crds/, beside the
// kustomization.yaml listing them) has a row, found by kind and by plural;
// nothing else is one.
TEST(ComputeKinds, OneRowPerDeclaredKind) {
  std::vector<std::string> kinds, plurals;
  for (const auto& k : computeKinds()) {
    kinds.push_back(k.resource.kind);
    plurals.push_back(k.resource.resource);
    EXPECT_EQ(k.resource.group, "compute.kubec2.io");
    EXPECT_EQ(findComputeKind(k.resource.kind), &k);
    EXPECT_EQ(findComputeResource("compute.kubec2.io", k.resource.resource), &k);
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(KUBEC2_SOURCE_DIR) / "crds" /
                                        ("compute.kubec2.io_" + k.resource.resource + ".yaml")))
        << k.resource.resource;
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"Instance", "LaunchTemplate", "ScalingGroup",
                                             "LoadBalancer", "ElasticIP", "Snapshot"}));
  size_t crds = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::filesystem::path(KUBEC2_SOURCE_DIR) / "crds"))
    if (e.path().filename().string().starts_with("compute.kubec2.io_")) ++crds;
  EXPECT_EQ(crds, plurals.size());
  EXPECT_EQ(findComputeKind("Pod"), nullptr);
  EXPECT_EQ(findComputeResource("apps", "instances"), nullptr);
  EXPECT_EQ(findComputeResource("compute.kubec2.io", "Instance"), nullptr);
  EXPECT_EQ(computeKindNames(),
            "Instance, LaunchTemplate, ScalingGroup, LoadBalancer, ElasticIP or Snapshot");
}

// ---------------------------------------------------------------- defaultsPatch

TEST(ValidationDefaults, NothingForOtherKindsOrOtherShapes) {
  EXPECT_EQ(defaultsPatch("Instance", instance()), json::array());
  EXPECT_EQ(defaultsPatch("LaunchTemplate", launchTemplate()), json::array());
  EXPECT_EQ(defaultsPatch("Pod", loadBalancer()), json::array());
  for (const json& odd : {json(nullptr), json("x"), json({{"spec", "x"}}),
                          with(loadBalancer(), {{"/spec/targetGroups", {{"web", 1}}}}),
                          with(loadBalancer(), {{"/spec/targetGroups/0", "web"}}),
                          with(loadBalancer(), {{"/spec/listeners", 3}}),
                          with(scalingGroup(), {{"/spec/scalingPolicies", "x"}})}) {
    json patch;
    EXPECT_NO_THROW(patch = defaultsPatch("LoadBalancer", odd)) << odd;
    EXPECT_TRUE(patch.is_array()) << odd;
    EXPECT_NO_THROW(patch = defaultsPatch("ScalingGroup", odd)) << odd;
    EXPECT_TRUE(patch.is_array()) << odd;
  }
}

// What the mutating webhook answers is applied by the API server: it must
// apply cleanly, leave a valid object, and have nothing left to add.
TEST(ValidationDefaults, ThePatchAppliesAndIsIdempotent) {
  std::vector<json> objects = exampleDocuments();
  objects.push_back(networkLoadBalancer());
  objects.push_back(with(networkLoadBalancer(), {{"/spec/listeners/0/protocol", "UDP"},
                                                 {"/spec/targetGroups/0/healthCheck", nullptr}}));
  objects.push_back(withStepScaling({}));
  objects.push_back(
      with(scalingGroup(), {{"/spec/instanceRefresh/checkpointPercentages", {50, 100}}}));
  size_t patched = 0;
  for (const json& object : objects) {
    const auto kind = object["kind"].get<std::string>();
    SCOPED_TRACE(object.dump());
    const json patch = defaultsPatch(kind, object);
    json result;
    ASSERT_NO_THROW(result = object.patch(patch)) << patch;
    EXPECT_TRUE(validate({kind, Operation::Create, result, nullptr}).empty());
    EXPECT_EQ(defaultsPatch(kind, result), json::array()) << result;
    if (!patch.empty()) ++patched;
  }
  EXPECT_GE(patched, 5u);
}

}  // namespace
}  // namespace kubec2::api::vtest
