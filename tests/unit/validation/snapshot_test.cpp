// The Snapshot rules (api/validation/snapshot.cpp): a name that fits the
// label on its VolumeSnapshots, and a spec that never changes.
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

json snapshot() {
  return objectOf("Snapshot", {{"instanceRef", {{"name", "web-1"}}}});
}

std::vector<Refused> snapshotRefused() {
  const json snap = snapshot();
  return {
      refused("NameLongerThanALabelValue", with(snap, {{"/metadata/name", std::string(64, 'a')}}),
              "metadata.name", Type::Invalid, "must be at most 63 characters"),
      refusedUpdate("InstanceChanged", snap, with(snap, {{"/spec/instanceRef/name", "web-2"}}),
                    "spec.instanceRef.name", Type::Invalid,
                    "field is immutable: a snapshot is one moment's copy"),
      refusedUpdate("VolumesNarrowed", snap, with(snap, {{"/spec/volumes", {"root"}}}),
                    "spec.volumes", Type::Invalid, "field is immutable"),
      refusedUpdate("ClassChanged", with(snap, {{"/spec/volumeSnapshotClassName", "fast"}}),
                    with(snap, {{"/spec/volumeSnapshotClassName", "slow"}}),
                    "spec.volumeSnapshotClassName", Type::Invalid, "field is immutable"),
  };
}

std::vector<Admitted> snapshotAdmitted() {
  const json snap = snapshot();
  return {
      admitted("Minimal", snap),
      admitted("NameOf63Characters", with(snap, {{"/metadata/name", std::string(63, 'a')}})),
      admitted("SomeVolumesWithAClass", with(snap, {{"/spec/volumes", {"root", "data"}},
                                                    {"/spec/volumeSnapshotClassName", "csi-rbd"},
                                                    {"/spec/description", "before the upgrade"}})),
      // A description says what it is for; changing it copies nothing.
      admittedUpdate("DescriptionChanged", snap,
                     with(snap, {{"/spec/description", "kept for the audit"}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationSnapshot, ValidationRefused,
                         testing::ValuesIn(snapshotRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationSnapshot, ValidationAdmitted,
                         testing::ValuesIn(snapshotAdmitted()), caseName<Admitted>);

}  // namespace
}  // namespace kubec2::api::vtest
