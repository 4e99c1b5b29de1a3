// The Instance validator: an EC2 instance's launch rules, what cannot
// change after launch (EC2 cannot change an instance's image, key pair or
// zone either), volumes that grow but never shrink (EBS ModifyVolume
// likewise), and termination protection (DisableApiTermination).
#include <cstdint>
#include <optional>

#include "api/cron.h"
#include "api/v1alpha1/types.h"
#include "api/validation/json_helpers.h"
#include "api/validation/launch_rules.h"
#include "api/validation/validator.h"
#include "api/validation/warnings.h"

namespace kubec2::api::validation {
namespace {

// The spec rules, on create and on update (oldSpecJson set).
void checkSpec(Context& c, const json& specJson, const json* oldSpecJson) {
  const auto spec = decode<v1::InstanceSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  if (!spec->launchTemplateRef) {
    if (!spec->image)
      c.errs.push_back(required("spec.image",
                                "an Instance without spec.launchTemplateRef must set the image "
                                "it launches from"));
    if (!spec->instanceType)
      c.errs.push_back(required("spec.instanceType",
                                "an Instance without spec.launchTemplateRef must set its "
                                "instance type"));
  }
  checkLaunchFields(c, "spec", *spec);
  if (const auto& sched = spec->snapshotSchedule) {
    try {
      (void)CronSchedule::parse(sched->recurrence);
    } catch (const std::invalid_argument& e) {
      c.errs.push_back(invalid("spec.snapshotSchedule.recurrence", sched->recurrence,
                               std::string("must be a cron expression (minute hour day-of-month "
                                           "month day-of-week): ") +
                                   e.what()));
    }
    const std::string zone = sched->timeZone.value_or("UTC");
    if (!c.tz(zone))
      c.errs.push_back(invalid("spec.snapshotSchedule.timeZone", zone,
                               "must be an IANA time zone the operator's time zone database "
                               "knows, such as UTC, Europe/Paris or America/New_York"));
  }
  if (oldSpecJson == nullptr) return;
  const auto old = decodeQuietly<v1::InstanceSpec>(*oldSpecJson, "spec");
  if (!old) return;

  auto immutable = [&](const char* field, bool same, const json& value) {
    if (!same)
      c.errs.push_back(invalid(std::string("spec.") + field, value,
                               "field is immutable: it cannot change after the Instance is "
                               "created"));
  };
  auto toJson = [](const auto& opt) { return opt ? opt->toJson() : json(nullptr); };
  immutable("image", spec->image == old->image, toJson(spec->image));
  auto normalized = [](std::optional<v1::LaunchTemplateRef> r) {
    if (r && !r->version) r->version = "$Default";  // the schema default
    return r;
  };
  immutable("launchTemplateRef",
            normalized(spec->launchTemplateRef) == normalized(old->launchTemplateRef),
            toJson(spec->launchTemplateRef));
  immutable("keyPair", spec->keyPair == old->keyPair, toJson(spec->keyPair));
  immutable("availabilityZone", spec->availabilityZone == old->availabilityZone,
            spec->availabilityZone ? json(*spec->availabilityZone) : json(nullptr));

  // Volumes grow but never shrink.
  auto noShrink = [&](const std::string& path, std::optional<std::int64_t> now,
                      std::int64_t before) {
    const std::string detail = "must not be less than the current size, " + num(before) +
                               " GiB: a volume can grow but never shrink";
    if (!now)
      c.errs.push_back(required(path, detail));
    else if (*now < before)
      c.errs.push_back(invalid(path, *now, detail));
  };
  // The root volume's size in force: the one set, else 10 GiB for http and
  // registry images; a pvc clone's default (the source's size) is unknown here.
  auto rootSize = [](const v1::InstanceSpec& s) -> std::optional<std::int64_t> {
    if (s.volumes && s.volumes->root && s.volumes->root->sizeGiB) return *s.volumes->root->sizeGiB;
    if (s.image && (s.image->http || s.image->registry)) return 10;
    return std::nullopt;
  };
  const auto rootBefore = rootSize(*old);
  const auto rootNow = rootSize(*spec);
  const auto& newVolumes = spec->volumes;
  const bool rootSet = newVolumes && newVolumes->root && newVolumes->root->sizeGiB;
  if (rootBefore && old->volumes && old->volumes->root && old->volumes->root->sizeGiB && !rootSet)
    noShrink("spec.volumes.root.sizeGiB", std::nullopt, *rootBefore);  // removing it shrinks
  else if (rootBefore && rootNow)
    noShrink("spec.volumes.root.sizeGiB", *rootNow, *rootBefore);
  // The volumes the last start made (status.volumes: the API server keeps
  // the stored status on a spec update), by name.
  std::set<std::string> made;
  if (const json* st = member(c.root, "status"))
    if (const json* vols = member(*st, "volumes"); vols != nullptr && vols->is_array())
      for (const json& v : *vols)
        if (const std::string* n = v.is_object() ? stringMember(v, "name") : nullptr)
          made.insert(*n);
  const auto& oldVolumes = old->volumes;
  if (oldVolumes && oldVolumes->extra && newVolumes && newVolumes->extra) {
    for (size_t i = 0; i < newVolumes->extra->size(); ++i) {
      const auto& v = (*newVolumes->extra)[i];
      for (const auto& o : *oldVolumes->extra)
        if (o.name == v.name) {
          if (o.sizeGiB)  // absent: a snapshot's size, unknown here
            noShrink(at("spec.volumes.extra", i) + ".sizeGiB", v.sizeGiB, *o.sizeGiB);
          // A volume is made from its source once, as an EBS volume from
          // its snapshot: another source is another volume. One not made
          // yet (its launch waits, say for a missing Snapshot) can be fixed.
          if (!(v.fromSnapshot == o.fromSnapshot) && made.count(v.name))
            c.errs.push_back(invalid(
                at("spec.volumes.extra", i) + ".fromSnapshot",
                v.fromSnapshot ? v.fromSnapshot->toJson() : json(nullptr),
                "field is immutable: the volume is made from it once; add a volume of another "
                "name to restore another copy"));
        }
    }
  }
}

class InstanceValidator final : public KindValidator {
 public:
  void validateCreate(Context& c, const json& spec) const override {
    // Its name is the value of the compute.kubec2.io/instance label on its
    // VM and pod, and label values stop at 63 characters.
    const std::string name = metadataString(c.root, "name");
    if (name.size() > 63)
      c.errs.push_back(invalid("metadata.name", name,
                               "must be at most 63 characters: an Instance's name is a label "
                               "value on its VirtualMachine and pod"));
    checkSpec(c, spec, nullptr);
  }

  void validateUpdate(Context& c, const json& spec, const json* oldSpec) const override {
    checkSpec(c, spec, oldSpec);
  }

  void warnings(const json& spec, const std::string& ns, const AdmissionLookups& lookups,
                Warnings& out) const override {
    warnLaunchFields("spec", spec, lookups, out);
    if (const json* ref = member(spec, "launchTemplateRef"))
      if (const std::string* name = stringMember(*ref, "name"))
        warnLaunchTemplate("spec.launchTemplateRef.name", ns, *name, lookups, out);
  }

  void validateDelete(Context& c, const json& oldObject) const override {
    if (!oldObject.is_object()) return;
    const auto spec = oldObject.find("spec");
    if (spec == oldObject.end() || !spec->is_object()) return;
    const auto flag = spec->find("disableApiTermination");
    if (flag != spec->end() && flag->is_boolean() && flag->get<bool>())
      c.errs.push_back(
          forbidden("spec.disableApiTermination",
                    "the Instance has termination protection (OperationNotPermitted): set "
                    "spec.disableApiTermination to false first, then delete it"));
  }
};

}  // namespace

const KindValidator& instanceValidator() {
  return theValidator<InstanceValidator>();
}

}  // namespace kubec2::api::validation
