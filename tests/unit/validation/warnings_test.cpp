// Admission warnings (api/validation/warnings.h and each kind's warnings()):
// values the operator accepts but does not know now are named with the
// closest known ones; nothing is said while it knows nothing yet.
#include "api/validation/warnings.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using validation::editDistance;

// A catalog of two families, each from its smallest size up, and two zones.
StaticLookups known() {
  StaticLookups l;
  l.instanceTypeNames = std::vector<std::string>{
      "m5.large",    "m5.xlarge",   "m5.2xlarge",  "m5.4xlarge", "m5.8xlarge",
      "m5.12xlarge", "m5.16xlarge", "m5.24xlarge", "t3.nano",    "t3.micro"};
  l.nodeZones = std::vector<std::string>{"us-east-1a", "us-east-1b"};
  l.launchTemplates = std::set<std::string>{"shop/web"};
  return l;
}

std::vector<std::string> createWarnings(const json& object, const AdmissionLookups& l) {
  return warnings({object.value("kind", ""), Operation::Create, object, nullptr}, l);
}

TEST(AdmissionWarnings, UnknownSizeOfAKnownFamilyNamesTheFamilysSizes) {
  const auto w = createWarnings(with(instance(), {{"/spec/instanceType", "m5.gigantic"}}), known());
  EXPECT_THAT(w, ElementsAre("spec.instanceType: m5.gigantic is not a known instance type (the "
                             "instance type ConfigMap may add it); m5 has m5.large ... "
                             "m5.24xlarge"));
  EXPECT_LE(w[0].size(), 256u);  // the API server may cut longer warnings
}

TEST(AdmissionWarnings, ALikelyTypoIsNamed) {
  const auto w = createWarnings(with(instance(), {{"/spec/instanceType", "m5.2xlage"}}), known());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("m5.2xlage is not a known instance type"));
  EXPECT_THAT(w[0], HasSubstr("did you mean m5.2xlarge?"));
  // A family of three sizes or fewer is listed whole.
  const auto t = createWarnings(with(instance(), {{"/spec/instanceType", "t3.huge"}}), known());
  ASSERT_EQ(t.size(), 1u);
  EXPECT_THAT(t[0], HasSubstr("; t3 has t3.nano, t3.micro"));
}

TEST(AdmissionWarnings, UnknownFamilyNamesTheNearestTypes) {
  const auto w = createWarnings(with(instance(), {{"/spec/instanceType", "m7.large"}}), known());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("m7.large is not a known instance type"));
  EXPECT_THAT(w[0], HasSubstr("the nearest known are m5.large, m5.xlarge, m5.2xlarge"));
}

TEST(AdmissionWarnings, UnknownZoneNamesTheZonesNodesAreIn) {
  const auto w =
      createWarnings(with(instance(), {{"/spec/availabilityZone", "us-east-1z"}}), known());
  EXPECT_THAT(w, ElementsAre("spec.availabilityZone: no node is in zone us-east-1z "
                             "(topology.kubernetes.io/zone) yet; nodes are in us-east-1a, "
                             "us-east-1b"));
  StaticLookups none = known();
  none.nodeZones = std::vector<std::string>{};
  EXPECT_THAT(createWarnings(with(instance(), {{"/spec/availabilityZone", "us-east-1a"}}), none),
              ElementsAre("spec.availabilityZone: no node has a topology.kubernetes.io/zone "
                          "label, so none is in us-east-1a (yet)"));
  // More than three zones: the nearest three, and how many more.
  StaticLookups many = known();
  many.nodeZones = std::vector<std::string>{"a", "b", "eu-west-1a", "eu-west-1b", "eu-west-1c"};
  const auto m = createWarnings(with(instance(), {{"/spec/availabilityZone", "eu-west-1d"}}), many);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_THAT(m[0], HasSubstr("nodes are in eu-west-1a, eu-west-1b, eu-west-1c and 2 more"));
}

TEST(AdmissionWarnings, MissingLaunchTemplateOfAnInstanceOrAGroup) {
  const json fromTemplate = objectOf("Instance", {{"launchTemplateRef", {{"name", "api"}}}});
  EXPECT_THAT(createWarnings(fromTemplate, known()),
              ElementsAre("spec.launchTemplateRef.name: LaunchTemplate api does not exist in "
                          "namespace shop (yet); nothing launches until it does"));
  EXPECT_TRUE(createWarnings(with(fromTemplate, {{"/spec/launchTemplateRef/name", "web"}}), known())
                  .empty());
  // The same name in another namespace is another template.
  EXPECT_EQ(createWarnings(with(fromTemplate, {{"/metadata/namespace", "other"},
                                               {"/spec/launchTemplateRef/name", "web"}}),
                           known())
                .size(),
            1u);
  EXPECT_THAT(
      createWarnings(with(scalingGroup(), {{"/spec/launchTemplateRef/name", "api"},
                                           {"/spec/availabilityZones", {"us-east-1a", "x"}}}),
                     known()),
      ElementsAre(HasSubstr("spec.launchTemplateRef.name: LaunchTemplate api does not"),
                  HasSubstr("spec.availabilityZones[1]: no node is in zone x")));
}

// A CPU target above 100 % is never reached: said at once, naming the policy.
TEST(AdmissionWarnings, ACpuTargetAbove100IsNamed) {
  auto policy = [](double target) {
    return json::array(
        {{{"name", "cpu"},
          {"type", "TargetTracking"},
          {"targetTracking",
           {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", target}}}}});
  };
  EXPECT_THAT(
      createWarnings(with(scalingGroup(), {{"/spec/scalingPolicies", policy(150)}}), known()),
      ElementsAre(HasSubstr("spec.scalingPolicies[0].targetTracking.targetValue: average "
                            "CPU utilization is a percent")));
  EXPECT_THAT(
      createWarnings(with(scalingGroup(), {{"/spec/scalingPolicies", policy(100)}}), known()),
      testing::IsEmpty());
}

TEST(AdmissionWarnings, LaunchTemplateVersionsAreCheckedEach) {
  const json lt = with(launchTemplate(), {{"/spec/versions/1/spec/instanceType", "m5.gigantic"},
                                          {"/spec/versions/1/spec/availabilityZone", "mars-1a"}});
  EXPECT_THAT(createWarnings(lt, known()),
              ElementsAre(HasSubstr("spec.versions[1].spec.instanceType: m5.gigantic"),
                          HasSubstr("spec.versions[1].spec.availabilityZone: no node is in zone "
                                    "mars-1a")));
}

// While the caches have not synced, the operator knows nothing: no
// warning rather than a false one.
TEST(AdmissionWarnings, NothingWhileNothingIsKnown) {
  const json odd = with(instance(), {{"/spec/instanceType", "m5.gigantic"},
                                     {"/spec/availabilityZone", "nowhere"},
                                     {"/spec/launchTemplateRef/name", "none"}});
  EXPECT_TRUE(createWarnings(odd, StaticLookups{}).empty());
  EXPECT_TRUE(createWarnings(odd, noLookups()).empty());
  EXPECT_EQ(createWarnings(odd, known()).size(), 3u);
}

TEST(AdmissionWarnings, KnownValuesEarnNone) {
  EXPECT_TRUE(createWarnings(with(instance(), {{"/spec/instanceType", "m5.large"},
                                               {"/spec/availabilityZone", "us-east-1b"}}),
                             known())
                  .empty());
  for (const json& example : exampleDocuments()) {
    if (example.value("kind", "") == "LoadBalancer") {
      EXPECT_TRUE(createWarnings(example, known()).empty());
    }
  }
}

// An update repeats no warning the stored object already had (a
// controller's finalizer write, a change of something else), but names a
// new one.
TEST(AdmissionWarnings, UpdatesWarnOnlyOfWhatIsNew) {
  const json typo = with(instance(), {{"/spec/instanceType", "m5.gigantic"}});
  auto upd = [](const json& old, const json& now) {
    return warnings({"Instance", Operation::Update, now, old}, known());
  };
  EXPECT_TRUE(upd(typo, with(typo, {{"/metadata/finalizers", {"x"}}})).empty());
  EXPECT_TRUE(upd(typo, with(typo, {{"/spec/tags/team", "web"}})).empty());
  EXPECT_THAT(upd(typo, with(typo, {{"/spec/availabilityZone", "us-east-1z"}})),
              ElementsAre(HasSubstr("spec.availabilityZone")));
  EXPECT_EQ(upd(instance(), typo).size(), 1u);
  // Deletes and subresources have none.
  EXPECT_TRUE(warnings({"Instance", Operation::Delete, nullptr, typo}, known()).empty());
  EXPECT_TRUE(
      warnings({"Instance", Operation::Update, typo, typo, "status", "web", "shop"}, known())
          .empty());
}

TEST(AdmissionWarnings, OddShapesAndValuesNeverThrowAndAreQuoted) {
  for (const json& spec :
       {json("x"), json::array(), json({{"instanceType", 5}}), json({{"launchTemplateRef", "web"}}),
        json({{"versions", 3}}), json({{"versions", {1, {{"spec", "x"}}}}}),
        json({{"availabilityZones", {1, nullptr}}})})
    for (const char* kind :
         {"Instance", "LaunchTemplate", "ScalingGroup", "LoadBalancer", "ElasticIP"}) {
      json object = objectOf(kind, spec);
      std::vector<std::string> w;
      EXPECT_NO_THROW(w = createWarnings(object, known())) << kind << " " << spec;
      EXPECT_TRUE(w.empty()) << kind << " " << spec;
    }
  const auto w = createWarnings(
      with(instance(), {{"/spec/availabilityZone", "a zone\nwith a newline"}}), known());
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("\"a zone\\nwith a newline\""));
  EXPECT_EQ(w[0].find('\n'), std::string::npos);
  // Too long to compare or to show whole: no suggestion computed, the
  // value cut short, still a warning.
  const auto l = createWarnings(
      with(instance(), {{"/spec/instanceType", "m5." + std::string(100000, 'x')}}), known());
  ASSERT_EQ(l.size(), 1u);
  EXPECT_THAT(l[0], HasSubstr("m5 has m5.large ... m5.24xlarge"));
  EXPECT_LE(l[0].size(), 256u);
}

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(editDistance("", ""), 0u);
  EXPECT_EQ(editDistance("m5.large", "m5.large"), 0u);
  EXPECT_EQ(editDistance("m5.large", "m6.large"), 1u);
  EXPECT_EQ(editDistance("m5.2xlage", "m5.2xlarge"), 1u);
  EXPECT_EQ(editDistance("large", "xlarge"), 1u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("abc", ""), 3u);
}

}  // namespace
}  // namespace kubec2::api::vtest
