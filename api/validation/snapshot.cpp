// The Snapshot validator: a name that fits the VolumeSnapshots it names
// and labels (NAME.VOLUME; a label value is at most 63 characters), and a
// spec that never changes (an EBS snapshot is one moment's copy: EC2 has
// no call that changes what a snapshot copied).
#include <string>

#include "api/v1alpha1/types.h"
#include "api/validation/json_helpers.h"
#include "api/validation/validator.h"

namespace kubec2::api::validation {
namespace {

class SnapshotValidator final : public KindValidator {
 public:
  void validateCreate(Context& c, const json& spec) const override {
    const std::string name = metadataString(c.root, "name");
    if (name.size() > 63)
      c.errs.push_back(invalid("metadata.name", name,
                               "must be at most 63 characters: it labels the Snapshot's "
                               "VolumeSnapshots (compute.kubec2.io/snapshot=NAME)"));
    decode<v1::SnapshotSpec>(spec, "spec", c.root, c.errs);
  }

  void validateUpdate(Context& c, const json& specJson, const json* oldSpecJson) const override {
    const auto spec = decode<v1::SnapshotSpec>(specJson, "spec", c.root, c.errs);
    if (!spec || oldSpecJson == nullptr) return;
    const auto old = decodeQuietly<v1::SnapshotSpec>(*oldSpecJson, "spec");
    if (!old) return;
    const std::string why =
        "field is immutable: a snapshot is one moment's copy (create another Snapshot to copy "
        "again)";
    auto toJson = [](const auto& v) { return v ? json(*v) : json(nullptr); };
    if (spec->instanceRef.name != old->instanceRef.name)
      c.errs.push_back(invalid("spec.instanceRef.name", spec->instanceRef.name, why));
    if (spec->volumes != old->volumes)
      c.errs.push_back(invalid("spec.volumes", toJson(spec->volumes), why));
    if (spec->volumeSnapshotClassName != old->volumeSnapshotClassName)
      c.errs.push_back(
          invalid("spec.volumeSnapshotClassName", toJson(spec->volumeSnapshotClassName), why));
  }
};

}  // namespace

const KindValidator& snapshotValidator() {
  return theValidator<SnapshotValidator>();
}

}  // namespace kubec2::api::validation
