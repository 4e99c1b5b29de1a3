#include "reconcilers/launchtemplate/launch.h"

#include <string>

namespace kubec2::reconcilers {
namespace {

// The version number a ref's version string names, or nullopt when it is
// not a number ("$Latest", "$Default", or something the schema refuses).
std::optional<std::int64_t> versionNumber(const std::string& v) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(v);
}

template <typename T>
void overlay(std::optional<T>& into, const std::optional<T>& from) {
  if (from) into = from;
}

// The Instance's own launch fields, in LaunchSpec's shape.
v1::LaunchSpec inlineFields(const v1::InstanceSpec& s) {
  v1::LaunchSpec l;
  l.image = s.image;
  l.instanceType = s.instanceType;
  l.keyPair = s.keyPair;
  l.userData = s.userData;
  l.volumes = s.volumes;
  l.securityGroups = s.securityGroups;
  l.availabilityZone = s.availabilityZone;
  l.tags = s.tags;
  return l;
}

}  // namespace

LaunchResolution resolveLaunch(const v1::Instance& instance, const v1::LaunchTemplate* templ) {
  LaunchResolution r;
  const v1::InstanceSpec& is = instance.spec;
  const v1::LaunchSpec own = inlineFields(is);
  std::string from = "the Instance";  // where image and instanceType were looked for

  if (is.launchTemplateRef) {
    const v1::LaunchTemplateRef& ref = *is.launchTemplateRef;
    if (templ == nullptr) {
      r.spec = own;
      r.problemReason = "LaunchTemplateNotFound";
      r.problemMessage = "LaunchTemplate \"" + ref.name + "\" not found in namespace \"" +
                         instance.metadata.namespace_ + "\"";
      return r;
    }
    const auto latest = static_cast<std::int64_t>(templ->spec.versions.size());
    const std::string refVersion = ref.version.value_or("$Default");
    std::int64_t version = 0;
    std::string how;  // how the number was chosen, for the message
    if (instance.status && instance.status->launchTemplateVersion) {
      version = *instance.status->launchTemplateVersion;
      how = " (recorded in status.launchTemplateVersion)";
    } else if (refVersion == "$Latest") {
      version = latest;
    } else if (refVersion == "$Default") {
      version = templ->spec.defaultVersion.value_or(1);
      how = " (its defaultVersion)";
    } else if (const auto n = versionNumber(refVersion)) {
      version = *n;
    } else {
      r.spec = own;
      r.problemReason = "LaunchTemplateVersionNotFound";
      r.problemMessage = "launchTemplateRef.version \"" + refVersion +
                         "\" is not a version number, $Latest or $Default";
      return r;
    }
    if (version < 1 || version > latest) {
      r.spec = own;
      r.problemReason = "LaunchTemplateVersionNotFound";
      r.problemMessage =
          "LaunchTemplate \"" + ref.name + "\" has no version " + std::to_string(version) + how +
          (latest == 0 ? " (it has no versions)" : " (latest is " + std::to_string(latest) + ")");
      return r;
    }
    r.templateVersion = version;
    from =
        "the Instance nor LaunchTemplate \"" + ref.name + "\" version " + std::to_string(version);

    // The template version's fields, each replaced wholly by the Instance's
    // when it sets it; tags merged key by key.
    r.spec = templ->spec.versions[static_cast<std::size_t>(version - 1)].spec;
    overlay(r.spec.image, own.image);
    overlay(r.spec.instanceType, own.instanceType);
    overlay(r.spec.keyPair, own.keyPair);
    overlay(r.spec.userData, own.userData);
    overlay(r.spec.volumes, own.volumes);
    overlay(r.spec.securityGroups, own.securityGroups);
    overlay(r.spec.availabilityZone, own.availabilityZone);
    if (own.tags) {
      if (!r.spec.tags) r.spec.tags.emplace();
      for (const auto& [k, v] : *own.tags) (*r.spec.tags)[k] = v;
    }
  } else {
    r.spec = own;
  }

  const std::string subject = is.launchTemplateRef ? "neither " + from : from + " does not";
  if (!r.spec.image) {
    r.problemReason = "ImageMissing";
    r.problemMessage =
        "no image: " + subject + " set" + (is.launchTemplateRef ? "s" : "") + " image";
  } else if (!r.spec.instanceType) {
    r.problemReason = "InstanceTypeMissing";
    r.problemMessage = "no instance type: " + subject + " set" + (is.launchTemplateRef ? "s" : "") +
                       " instanceType";
  }
  return r;
}

}  // namespace kubec2::reconcilers
