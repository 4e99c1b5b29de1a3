// The LaunchTemplate rules (api/validation/launch_template.cpp): published
// versions never change, new ones get the launch field rules.
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

using testing::HasSubstr;

json launchSpecTagged(const std::string& key) {
  return with(launchSpec(), {{"/tags/" + key, "x"}});
}
json twoVersions() {
  return with(launchTemplate(), {{"/spec/versions/1",
                                  {{"spec", with(launchSpec(), {{"/instanceType", "m5.large"}})}}},
                                 {"/spec/defaultVersion", 2}});
}

std::vector<Refused> launchTemplateRefused() {
  const json lt = launchTemplate();
  return {
      refused("DefaultVersionBeyondTheVersions", with(lt, {{"/spec/defaultVersion", 2}}),
              "spec.defaultVersion", Type::Invalid,
              "Invalid value: 2: must be at most the number of versions in spec.versions (1): "
              "there is no version 2"),
      refusedUpdate("EditingPublishedVersion1", lt,
                    with(lt, {{"/spec/versions/0/spec/instanceType", "m5.large"}}),
                    "spec.versions[0]", Type::Forbidden,
                    "Forbidden: version 1 is published and cannot change or move: append a new "
                    "version instead"),
      refusedUpdate("DescribingPublishedVersion1", lt,
                    with(lt, {{"/spec/versions/0/description", "now described"}}),
                    "spec.versions[0]", Type::Forbidden, "version 1 is published"),
      refusedUpdate("RemovingAVersion", twoVersions(), with(lt, {{"/spec/defaultVersion", 1}}),
                    "spec.versions", Type::Forbidden,
                    "published versions cannot be removed: the template has 2 versions, the "
                    "update leaves 1"),
      // New versions are checked as a new object's launch fields.
      refusedUpdate("AppendingAVersionWithAReservedTag", lt,
                    with(lt, {{"/spec/versions/1/spec", launchSpecTagged("kubec2:owner")}}),
                    "spec.versions[1].spec.tags", Type::Invalid, "reserves for its own tags"),
      refused("RootVolumeWithContainerDisk",
              with(lt, {{"/spec/versions/0/spec/volumes/root/sizeGiB", 20}}),
              "spec.versions[0].spec.volumes.root", Type::Forbidden,
              "must not be set with a containerDisk image (spec.versions[0].spec.image."
              "containerDisk)"),
  };
}

std::vector<Admitted> launchTemplateAdmitted() {
  const json lt = launchTemplate();
  const json invalidToday = with(lt, {{"/spec/defaultVersion", 7}});
  return {
      admitted("Minimal", lt),
      admitted("DefaultVersionIsTheLast", twoVersions()),
      admittedUpdate("AppendingAVersion", lt, twoVersions()),
      admittedUpdate("MovingTheDefaultVersion", twoVersions(),
                     with(twoVersions(), {{"/spec/defaultVersion", 1}})),
      // Published versions were checked when published; rules added since
      // must not block appending.
      admittedUpdate("AppendingAfterAVersionInvalidToday",
                     with(lt, {{"/spec/versions/0/spec", launchSpecTagged("kubec2:owner")}}),
                     with(lt, {{"/spec/versions/0/spec", launchSpecTagged("kubec2:owner")},
                               {"/spec/versions/1/spec", launchSpec()}})),
      // Same spec: labels, finalizers and the like always go through.
      admittedUpdate("MetadataOnlyUpdateOfASpecInvalidToday", invalidToday,
                     with(invalidToday, {{"/metadata/labels/team", "web"}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationLaunchTemplate, ValidationRefused,
                         testing::ValuesIn(launchTemplateRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationLaunchTemplate, ValidationAdmitted,
                         testing::ValuesIn(launchTemplateAdmitted()), caseName<Admitted>);

TEST(ValidationLaunchTemplate, ReorderingRefusesEveryMovedVersion) {
  json swapped = twoVersions();
  std::swap(swapped["spec"]["versions"][0], swapped["spec"]["versions"][1]);
  const auto errs = update(twoVersions(), swapped);
  ASSERT_EQ(errs.size(), 2u) << messages(errs);
  EXPECT_EQ(errs[0].field, "spec.versions[0]");
  EXPECT_EQ(errs[1].field, "spec.versions[1]");
  EXPECT_THAT(errs[1].message(), HasSubstr("version 2 is published and cannot change or move"));
}

}  // namespace
}  // namespace kubec2::api::vtest
