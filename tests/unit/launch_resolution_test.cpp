// Which launch fields an Instance runs with: its LaunchTemplate version
// overlaid with its own fields.
#include <gtest/gtest.h>

#include "reconcilers/launchtemplate/launch.h"
#include "runtime/yaml.h"

namespace {

namespace v1 = kubec2::api::v1alpha1;
using kubec2::reconcilers::LaunchResolution;
using kubec2::reconcilers::resolveLaunch;
using nlohmann::json;

// An object from YAML, apiVersion and kind added.
json object(const std::string& yaml, const char* kind) {
  json j = kube::parseYamlDocuments(yaml).at(0);
  j["apiVersion"] = "compute.kubec2.io/v1alpha1";
  j["kind"] = kind;
  return j;
}

v1::Instance instance(const std::string& yaml) {
  return v1::Instance::fromJson(object(yaml, "Instance"));
}

v1::LaunchTemplate templ(const std::string& yaml) {
  return v1::LaunchTemplate::fromJson(object(yaml, "LaunchTemplate"));
}

// Three versions: 1 and 2 complete, 3 without an instance type; default 2.
const v1::LaunchTemplate kWeb = templ(R"(
apiVersion: compute.kubec2.io/v1alpha1
kind: LaunchTemplate
metadata: {name: web, namespace: prod}
spec:
  defaultVersion: 2
  versions:
    - spec:
        image: {containerDisk: "quay.io/containerdisks/fedora:40"}
        instanceType: t3.micro
        tags: {Application: web, CostCenter: "4711"}
    - spec:
        image: {registry: "docker://quay.io/containerdisks/ubuntu:24.04"}
        instanceType: m5.large
        availabilityZone: us-east-1a
        keyPair: {secretName: deploy-key}
        volumes:
          root: {sizeGiB: 20}
          extra: [{name: data, sizeGiB: 100}]
        securityGroups: [{name: web}]
        tags: {Application: web, CostCenter: "4711"}
    - spec:
        image: {http: "https://example.com/disk.qcow2"}
)");

v1::Instance withRef(const std::string& version, const std::string& more = "") {
  std::string y =
      "metadata: {name: web-1, namespace: prod}\nspec:\n  launchTemplateRef: {name: web";
  if (!version.empty()) y += ", version: \"" + version + "\"";
  y += "}\n" + more;
  return instance(y);
}

struct VersionCase {
  const char* label;
  const char* version;  // "" for a ref without a version
  std::int64_t want;
  const char* wantType;
};

class LaunchResolutionVersion : public ::testing::TestWithParam<VersionCase> {};

TEST_P(LaunchResolutionVersion, PicksTheVersion) {
  const VersionCase& c = GetParam();
  // Version 3 lacks an instance type: give one, so every version resolves.
  const LaunchResolution r = resolveLaunch(withRef(c.version, "  instanceType: c5.large\n"), &kWeb);
  ASSERT_TRUE(r.ok()) << r.problemMessage;
  ASSERT_TRUE(r.templateVersion.has_value());
  EXPECT_EQ(*r.templateVersion, c.want);
  EXPECT_EQ(r.spec.instanceType.value(), c.wantType);
}

INSTANTIATE_TEST_SUITE_P(LaunchResolution, LaunchResolutionVersion,
                         ::testing::Values(VersionCase{"Latest", "$Latest", 3, "c5.large"},
                                           VersionCase{"Default", "$Default", 2, "c5.large"},
                                           VersionCase{"NoVersion", "", 2, "c5.large"},
                                           VersionCase{"Number", "1", 1, "c5.large"}),
                         [](const auto& p) { return std::string(p.param.label); });

TEST(LaunchResolution, DefaultVersionUnsetMeansOne) {
  v1::LaunchTemplate t = kWeb;
  t.spec.defaultVersion.reset();
  const LaunchResolution r = resolveLaunch(withRef("$Default"), &t);
  ASSERT_TRUE(r.ok()) << r.problemMessage;
  EXPECT_EQ(r.templateVersion, 1);
  EXPECT_EQ(r.spec.instanceType, "t3.micro");
}

TEST(LaunchResolution, RecordedVersionIsKept) {
  // Launched from $Latest when it was 1: stays on 1 though 3 is latest now.
  v1::Instance inst = withRef("$Latest");
  inst.status.emplace().launchTemplateVersion = 1;
  const LaunchResolution r = resolveLaunch(inst, &kWeb);
  ASSERT_TRUE(r.ok()) << r.problemMessage;
  EXPECT_EQ(r.templateVersion, 1);
  EXPECT_EQ(r.spec.instanceType, "t3.micro");
  EXPECT_EQ(r.spec.image->containerDisk, "quay.io/containerdisks/fedora:40");
}

TEST(LaunchResolution, InstanceFieldsReplaceTemplateFieldsWhole) {
  const LaunchResolution r = resolveLaunch(withRef("2", R"(
  instanceType: m5.xlarge
  volumes: {root: {sizeGiB: 50}}
  securityGroups: []
  tags: {Name: web-1, CostCenter: "42"}
)"),
                                           &kWeb);
  ASSERT_TRUE(r.ok()) << r.problemMessage;
  EXPECT_EQ(r.spec.instanceType, "m5.xlarge");
  // volumes replaced as a whole: the template's extra volume is gone.
  ASSERT_TRUE(r.spec.volumes && r.spec.volumes->root);
  EXPECT_EQ(r.spec.volumes->root->sizeGiB, 50);
  EXPECT_FALSE(r.spec.volumes->extra.has_value());
  // An empty list replaces the template's groups too.
  ASSERT_TRUE(r.spec.securityGroups.has_value());
  EXPECT_TRUE(r.spec.securityGroups->empty());
  // Fields the Instance does not set come from the template.
  EXPECT_EQ(r.spec.image->registry, "docker://quay.io/containerdisks/ubuntu:24.04");
  EXPECT_EQ(r.spec.availabilityZone, "us-east-1a");
  EXPECT_EQ(r.spec.keyPair->secretName, "deploy-key");
  // Tags merged key by key, the Instance's value winning.
  const std::map<std::string, std::string> wantTags{
      {"Application", "web"}, {"CostCenter", "42"}, {"Name", "web-1"}};
  EXPECT_EQ(r.spec.tags, wantTags);
}

TEST(LaunchResolution, WithoutTemplateTheInstanceFieldsAreTheLaunch) {
  const LaunchResolution r = resolveLaunch(instance(R"(
metadata: {name: solo, namespace: dev}
spec:
  image: {http: "https://example.com/x.qcow2"}
  instanceType: t3.small
  tags: {a: b}
)"),
                                           nullptr);
  ASSERT_TRUE(r.ok()) << r.problemMessage;
  EXPECT_FALSE(r.templateVersion.has_value());
  EXPECT_EQ(r.spec.image->http, "https://example.com/x.qcow2");
  EXPECT_EQ(r.spec.instanceType, "t3.small");
  EXPECT_EQ(r.spec.tags, (std::map<std::string, std::string>{{"a", "b"}}));
}

struct ProblemCase {
  const char* label;
  v1::Instance inst;
  const v1::LaunchTemplate* templ;
  const char* reason;
  const char* message;
};

class LaunchResolutionProblem : public ::testing::TestWithParam<ProblemCase> {};

TEST_P(LaunchResolutionProblem, SaysWhatIsMissing) {
  const ProblemCase& c = GetParam();
  const LaunchResolution r = resolveLaunch(c.inst, c.templ);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.problemReason, c.reason);
  EXPECT_EQ(r.problemMessage, c.message);
}

v1::Instance recorded(std::int64_t version) {
  v1::Instance i = withRef("$Latest");
  i.status.emplace().launchTemplateVersion = version;
  return i;
}

v1::LaunchTemplate defaultBeyondLatest() {
  v1::LaunchTemplate t = kWeb;
  t.spec.defaultVersion = 5;
  return t;
}
const v1::LaunchTemplate kDefaultBeyondLatest = defaultBeyondLatest();

INSTANTIATE_TEST_SUITE_P(
    LaunchResolution, LaunchResolutionProblem,
    ::testing::Values(
        ProblemCase{"TemplateNotFound", withRef("1"), nullptr, "LaunchTemplateNotFound",
                    "LaunchTemplate \"web\" not found in namespace \"prod\""},
        ProblemCase{"NoSuchVersion", withRef("7"), &kWeb, "LaunchTemplateVersionNotFound",
                    "LaunchTemplate \"web\" has no version 7 (latest is 3)"},
        ProblemCase{"DefaultBeyondLatest", withRef("$Default"), &kDefaultBeyondLatest,
                    "LaunchTemplateVersionNotFound",
                    "LaunchTemplate \"web\" has no version 5 (its defaultVersion) (latest is 3)"},
        ProblemCase{"RecordedGone", recorded(9), &kWeb, "LaunchTemplateVersionNotFound",
                    "LaunchTemplate \"web\" has no version 9 (recorded in "
                    "status.launchTemplateVersion) (latest is 3)"},
        ProblemCase{"TypeMissingInVersion", withRef("3"), &kWeb, "InstanceTypeMissing",
                    "no instance type: neither the Instance nor LaunchTemplate \"web\" version 3 "
                    "sets instanceType"},
        ProblemCase{"ImageMissing",
                    instance("metadata: {name: a, namespace: b}\nspec: {instanceType: t3.micro}"),
                    nullptr, "ImageMissing", "no image: the Instance does not set image"},
        ProblemCase{"BothMissingImageFirst",
                    instance("metadata: {name: a, namespace: b}\nspec: {}"), nullptr,
                    "ImageMissing", "no image: the Instance does not set image"},
        ProblemCase{
            "TypeMissing",
            instance("metadata: {name: a, namespace: b}\nspec: {image: {containerDisk: x}}"),
            nullptr, "InstanceTypeMissing",
            "no instance type: the Instance does not set instanceType"}),
    [](const auto& p) { return std::string(p.param.label); });

}  // namespace
