// The Instance rules (api/validation/instance.cpp and the launch field
// rules of launch_rules.cpp): launch fields, what cannot change after
// launch, volumes that only grow, termination protection.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

const std::string kRule = "spec.securityGroups[0].ingress[0]";
const json kDataMade = json::array({{{"name", "data"}, {"claimName", "web-data"}}});

std::vector<Refused> instanceRefused() {
  const json inst = instance();
  const json vols = instanceWithVolumes();
  return {
      refused("NameLongerThanALabelValue", with(inst, {{"/metadata/name", std::string(64, 'a')}}),
              "metadata.name", Type::Invalid, "must be at most 63 characters"),
      refused("ReservedTagPrefix", with(inst, {{"/spec/tags/kubec2:owner", "me"}}), "spec.tags",
              Type::Invalid,
              "spec.tags: Invalid value: \"kubec2:owner\": tag keys must not start with "
              "\"kubec2:\", which the operator reserves for its own tags"),
      refused("ReservedTagPrefixInAnotherCase", with(inst, {{"/spec/tags/KubeC2:Owner", "me"}}),
              "spec.tags", Type::Invalid, "Invalid value: \"KubeC2:Owner\": tag keys must not"),
      refused("EmptyTagKey", with(inst, {{"/spec/tags", {{"", "x"}}}}), "spec.tags", Type::Invalid,
              "tag keys must be 1 to 128 characters long"),
      refused("TagKeyOf129Characters", with(inst, {{"/spec/tags/" + std::string(129, 'k'), "x"}}),
              "spec.tags", Type::Invalid, "1 to 128 characters"),
      refused("DuplicateExtraVolumeName",
              with(vols, {{"/spec/volumes/extra/1", {{"name", "data"}, {"sizeGiB", 5}}}}),
              "spec.volumes.extra[1].name", Type::Duplicate, "Duplicate value: \"data\""),
      refused("EmptyExtraVolumeWithoutSize", without(vols, "/spec/volumes/extra/0/sizeGiB"),
              "spec.volumes.extra[0].sizeGiB", Type::Required,
              "an empty volume needs a size (only a volume restored from a snapshot"),
      // status.volumes: the volume was made (the API server keeps the
      // stored status on a spec update).
      refusedUpdate("RestoredVolumeGivenAnotherSnapshot",
                    with(vols, {{"/spec/volumes/extra/0/fromSnapshot", {{"name", "nightly"}}}}),
                    with(vols, {{"/spec/volumes/extra/0/fromSnapshot", {{"name", "weekly"}}},
                                {"/status/volumes", kDataMade}}),
                    "spec.volumes.extra[0].fromSnapshot", Type::Invalid,
                    "field is immutable: the volume is made from it once"),
      refusedUpdate("EmptyVolumeGivenASnapshot", vols,
                    with(vols, {{"/spec/volumes/extra/0/fromSnapshot", {{"name", "nightly"}}},
                                {"/status/volumes", kDataMade}}),
                    "spec.volumes.extra[0].fromSnapshot", Type::Invalid, "field is immutable"),
      refused("ExtraVolumeNamedRoot", with(vols, {{"/spec/volumes/extra/0/name", "root"}}),
              "spec.volumes.extra[0].name", Type::Invalid,
              "Invalid value: \"root\": is reserved: root and cloudinit name the instance's own "
              "disks"),
      refused("ExtraVolumeNamedCloudinit",
              with(vols, {{"/spec/volumes/extra/0/name", "cloudinit"}}),
              "spec.volumes.extra[0].name", Type::Invalid, "\"cloudinit\": is reserved"),
      refused("RootVolumeWithContainerDisk", with(inst, {{"/spec/volumes/root/sizeGiB", 20}}),
              "spec.volumes.root", Type::Forbidden,
              "must not be set with a containerDisk image (spec.image.containerDisk), whose root "
              "disk is ephemeral"),
      refused("DuplicateSecurityGroupName",
              with(withRule({{"fromPort", 80}}), {{"/spec/securityGroups/1", {{"name", "web"}}}}),
              "spec.securityGroups[1].name", Type::Duplicate, "Duplicate value: \"web\""),
      refused("ProtocolAllWithFromPort", withRule({{"protocol", "all"}, {"fromPort", 80}}),
              kRule + ".fromPort", Type::Forbidden,
              "ports apply to tcp, udp and sctp only: protocol all allows every port"),
      refused("ProtocolAllWithToPort", withRule({{"protocol", "all"}, {"toPort", 80}}),
              kRule + ".toPort", Type::Forbidden, "protocol all allows every port"),
      refused("ToPortWithoutFromPort", withRule({{"protocol", "udp"}, {"toPort", 53}}),
              kRule + ".toPort", Type::Forbidden,
              "may only be set with fromPort: a port range starts at fromPort"),
      // The protocol defaults to tcp.
      refused("ToPortBelowFromPort", withRule({{"fromPort", 443}, {"toPort", 80}}),
              kRule + ".toPort", Type::Invalid,
              "Invalid value: 80: must be greater than or equal to fromPort (443)"),
      refused("SelectorInWithoutValues", withSelector({{"key", "role"}, {"operator", "In"}}),
              kRule + ".sources[0].instanceSelector.matchExpressions[0].values", Type::Required,
              "must be specified when `operator` is 'In' or 'NotIn'"),
      refused("SelectorNotInWithEmptyValues",
              withSelector({{"key", "role"}, {"operator", "NotIn"}, {"values", json::array()}}),
              kRule + ".sources[0].instanceSelector.matchExpressions[0].values", Type::Required,
              "'In' or 'NotIn'"),
      refused("SelectorExistsWithValues",
              withSelector({{"key", "role"}, {"operator", "Exists"}, {"values", {"a"}}}),
              kRule + ".sources[0].instanceSelector.matchExpressions[0].values", Type::Forbidden,
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),

      // Immutable after creation.
      refusedUpdate("ImageChanged", inst,
                    with(inst, {{"/spec/image/containerDisk", "quay.io/containerdisks/fedora:41"}}),
                    "spec.image", Type::Invalid,
                    "field is immutable: it cannot change after the Instance is created"),
      refusedUpdate("KeyPairAdded", inst, with(inst, {{"/spec/keyPair/secretName", "deploy-key"}}),
                    "spec.keyPair", Type::Invalid, "field is immutable"),
      refusedUpdate("AvailabilityZoneChanged",
                    with(inst, {{"/spec/availabilityZone", "us-east-1a"}}),
                    with(inst, {{"/spec/availabilityZone", "us-east-1b"}}), "spec.availabilityZone",
                    Type::Invalid, "Invalid value: \"us-east-1b\": field is immutable"),
      refusedUpdate(
          "AvailabilityZoneRemoved", with(inst, {{"/spec/availabilityZone", "us-east-1a"}}), inst,
          "spec.availabilityZone", Type::Invalid, "Invalid value: \"null\": field is immutable"),
      refusedUpdate("LaunchTemplateVersionChanged",
                    with(inst, {{"/spec/launchTemplateRef", {{"name", "web"}}}}),
                    with(inst, {{"/spec/launchTemplateRef", {{"name", "web"}, {"version", "2"}}}}),
                    "spec.launchTemplateRef", Type::Invalid, "field is immutable"),

      // Volumes grow but never shrink.
      refusedUpdate("RootVolumeShrunk", vols, with(vols, {{"/spec/volumes/root/sizeGiB", 10}}),
                    "spec.volumes.root.sizeGiB", Type::Invalid,
                    "Invalid value: 10: must not be less than the current size, 20 GiB: a volume "
                    "can grow but never shrink"),
      refusedUpdate("RootVolumeSizeRemoved", vols, without(vols, "/spec/volumes/root/sizeGiB"),
                    "spec.volumes.root.sizeGiB", Type::Required, "the current size, 20 GiB"),
      refusedUpdate("RootVolumeRemovedFallsBackTo10GiB", vols, without(vols, "/spec/volumes/root"),
                    "spec.volumes.root.sizeGiB", Type::Required, "the current size, 20 GiB"),
      // Without a size, an http or registry image's root volume is 10 GiB.
      refusedUpdate("RootVolumeBelowTheDefaultSize", without(vols, "/spec/volumes/root"),
                    with(vols, {{"/spec/volumes/root/sizeGiB", 5}}), "spec.volumes.root.sizeGiB",
                    Type::Invalid,
                    "Invalid value: 5: must not be less than the current size, 10 GiB"),
      refusedUpdate("ExtraVolumeShrunk", vols, with(vols, {{"/spec/volumes/extra/0/sizeGiB", 99}}),
                    "spec.volumes.extra[0].sizeGiB", Type::Invalid,
                    "Invalid value: 99: must not be less than the current size, 100 GiB"),
  };
}

std::vector<Admitted> instanceAdmitted() {
  const json inst = instance();
  const json vols = instanceWithVolumes();
  const json fromTemplate = objectOf("Instance", {{"launchTemplateRef", {{"name", "web"}}}});
  return {
      admitted("Minimal", inst),
      admitted("FromATemplateAlone", fromTemplate),
      admitted("WithPersistentVolumes", vols),
      admitted("TagsMentioningKubec2ElsewhereThanThePrefix",
               with(inst, {{"/spec/tags/kubec2", "x"}, {"/spec/tags/team.kubec2:x", "y"}})),
      admitted("TagKeyOf128Characters", with(inst, {{"/spec/tags/" + std::string(128, 'k'), "x"}})),
      admitted("ProtocolAllWithoutPorts", withRule({{"protocol", "all"}})),
      admitted("FromPortAlone", withRule({{"fromPort", 22}})),
      admitted("PortRange", withRule({{"protocol", "udp"}, {"fromPort", 1000}, {"toPort", 2000}})),
      admitted("SelectorInWithValues",
               withSelector({{"key", "role"}, {"operator", "In"}, {"values", {"bastion"}}})),
      admitted("SelectorExistsWithoutValues",
               withSelector({{"key", "role"}, {"operator", "Exists"}})),
      // An absent version is the schema default $Default: not a change.
      admittedUpdate("LaunchTemplateVersionDefaultSpelledOut", fromTemplate,
                     with(fromTemplate, {{"/spec/launchTemplateRef/version", "$Default"}})),
      admittedUpdate("LaunchTemplateVersionDefaultLeftOut",
                     with(fromTemplate, {{"/spec/launchTemplateRef/version", "$Default"}}),
                     fromTemplate),
      // Its launch waits (a Snapshot missing): the volume is not made yet.
      admittedUpdate("VolumeNotMadeYetGivenAnotherSnapshot",
                     with(instanceWithVolumes(),
                          {{"/spec/volumes/extra/0/fromSnapshot", {{"name", "nightly"}}}}),
                     with(instanceWithVolumes(), {{"/spec/volumes/extra/0/fromSnapshot",
                                                   {{"name", "nightly"}, {"volume", "logs"}}}})),
      admittedUpdate("MutableFieldsChanged", inst,
                     with(inst, {{"/spec/instanceType", "m5.large"},
                                 {"/spec/desiredState", "stopped"},
                                 {"/spec/tags/Name", "web-1"}})),
      admittedUpdate(
          "VolumesGrown", vols,
          with(vols, {{"/spec/volumes/root/sizeGiB", 40}, {"/spec/volumes/extra/0/sizeGiB", 200}})),
      admitted("ExtraVolumeFromASnapshotWithoutSize",
               with(without(vols, "/spec/volumes/extra/0/sizeGiB"),
                    {{"/spec/volumes/extra/0/fromSnapshot", {{"name", "nightly"}}}})),
      admitted(
          "RootFromASnapshot",
          with(vols, {{"/spec/image", {{"snapshot", {{"name", "golden"}, {"volume", "root"}}}}}})),
      // A restored volume's size is the copy's until one is set.
      admittedUpdate("RestoredVolumeGivenASize",
                     with(without(vols, "/spec/volumes/extra/0/sizeGiB"),
                          {{"/spec/volumes/extra/0/fromSnapshot", {{"name", "nightly"}}}}),
                     with(vols, {{"/spec/volumes/extra/0/fromSnapshot", {{"name", "nightly"}}}})),
      admittedUpdate("ExtraVolumeAdded", vols,
                     with(vols, {{"/spec/volumes/extra/1", {{"name", "logs"}, {"sizeGiB", 1}}}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationInstance, ValidationRefused,
                         testing::ValuesIn(instanceRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationInstance, ValidationAdmitted,
                         testing::ValuesIn(instanceAdmitted()), caseName<Admitted>);

TEST(ValidationInstance, WithoutTemplateImageAndInstanceTypeAreRequired) {
  const auto errs = create(objectOf("Instance", json::object()));
  ASSERT_EQ(errs.size(), 2u) << messages(errs);
  EXPECT_EQ(errs[0].message(),
            "spec.image: Required value: an Instance without spec.launchTemplateRef must set the "
            "image it launches from");
  EXPECT_EQ(errs[1].message(),
            "spec.instanceType: Required value: an Instance without spec.launchTemplateRef must "
            "set its instance type");
  expectOneError(create(without(instance(), "/spec/instanceType")), "spec.instanceType",
                 Type::Required, "must set its instance type");
}

TEST(ValidationInstance, DeleteIsRefusedWhileTerminationIsDisabled) {
  auto del = [](const json& old) {
    return validate({"Instance", Operation::Delete, nullptr, old}, fakeZones);
  };
  const auto errs = del(with(instance(), {{"/spec/disableApiTermination", true}}));
  expectOneError(errs, "spec.disableApiTermination", Type::Forbidden,
                 "set spec.disableApiTermination to false first, then delete it");

  EXPECT_TRUE(del(with(instance(), {{"/spec/disableApiTermination", false}})).empty());
  EXPECT_TRUE(del(instance()).empty());
  // Other kinds have no delete rule, whatever their spec says.
  EXPECT_TRUE(validate({"ScalingGroup", Operation::Delete, nullptr,
                        with(scalingGroup(), {{"/spec/disableApiTermination", true}})})
                  .empty());
}

}  // namespace
}  // namespace kubec2::api::vtest
