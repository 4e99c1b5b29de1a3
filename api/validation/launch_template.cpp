// The LaunchTemplate validator. As EC2's launch template versions, a
// published version never changes (CreateLaunchTemplateVersion appends;
// nothing edits a version): Instances launched from version 2 must find
// the same version 2 at their next start.
#include <cstdint>
#include <string>

#include "api/v1alpha1/types.h"
#include "api/validation/json_helpers.h"
#include "api/validation/launch_rules.h"
#include "api/validation/validator.h"

namespace kubec2::api::validation {
namespace {

// The spec rules, on create and on update (oldSpecJson set).
void checkSpec(Context& c, const json& specJson, const json* oldSpecJson) {
  const auto spec = decode<v1::LaunchTemplateSpec>(specJson, "spec", c.root, c.errs);
  if (!spec) return;
  const size_t n = spec->versions.size();
  const std::int64_t defaultVersion = spec->defaultVersion.value_or(1);
  if (defaultVersion > static_cast<std::int64_t>(n))
    c.errs.push_back(invalid("spec.defaultVersion", defaultVersion,
                             "must be at most the number of versions in spec.versions (" +
                                 std::to_string(n) + "): there is no version " +
                                 num(defaultVersion)));

  const json* oldVersions = nullptr;
  if (oldSpecJson != nullptr && oldSpecJson->is_object())
    if (auto it = oldSpecJson->find("versions"); it != oldSpecJson->end() && it->is_array())
      oldVersions = &*it;
  const json& newVersions = specJson.at("versions");
  for (size_t i = 0; i < n; ++i) {
    const std::string p = at("spec.versions", i);
    if (oldVersions != nullptr && i < oldVersions->size()) {
      // Published: it must stay as it is, and it was checked when published.
      if (newVersions[i] != (*oldVersions)[i])
        c.errs.push_back(forbidden(
            p, "version " + std::to_string(i + 1) +
                   " is published and cannot change or move: append a new version instead (and "
                   "move spec.defaultVersion to it)"));
      continue;
    }
    checkLaunchFields(c, p + ".spec", spec->versions[i].spec);
  }
  if (oldVersions != nullptr && n < oldVersions->size())
    c.errs.push_back(forbidden(
        "spec.versions", "published versions cannot be removed: the template has " +
                             std::to_string(oldVersions->size()) + " versions, the update leaves " +
                             std::to_string(n) + "; versions are only appended"));
}

class LaunchTemplateValidator final : public KindValidator {
 public:
  void validateCreate(Context& c, const json& spec) const override { checkSpec(c, spec, nullptr); }
  void validateUpdate(Context& c, const json& spec, const json* oldSpec) const override {
    checkSpec(c, spec, oldSpec);
  }

  void warnings(const json& spec, const std::string&, const AdmissionLookups& lookups,
                Warnings& out) const override {
    const json* versions = member(spec, "versions");
    if (versions == nullptr || !versions->is_array()) return;
    for (size_t i = 0; i < versions->size(); ++i)
      if (const json* s = member((*versions)[i], "spec"))
        warnLaunchFields(at("spec.versions", i) + ".spec", *s, lookups, out);
  }
};

}  // namespace

const KindValidator& launchTemplateValidator() {
  return theValidator<LaunchTemplateValidator>();
}

}  // namespace kubec2::api::validation
