#include "api/validation/lookups.h"

namespace kubec2::api {
namespace {

class NoLookups final : public AdmissionLookups {
 public:
  std::optional<std::vector<std::string>> instanceTypes() const override { return std::nullopt; }
  std::optional<std::vector<std::string>> zones() const override { return std::nullopt; }
  std::optional<bool> launchTemplateExists(const std::string&, const std::string&) const override {
    return std::nullopt;
  }
  StoredObject scalingGroup(const std::string&, const std::string&, Freshness) const override {
    return {StoredObject::State::Unknown, nullptr, "the operator has no view of the cluster"};
  }
};

}  // namespace

const AdmissionLookups& noLookups() {
  static const NoLookups none;
  return none;
}

std::optional<bool> StaticLookups::launchTemplateExists(const std::string& ns,
                                                        const std::string& name) const {
  if (!launchTemplates) return std::nullopt;
  return launchTemplates->count(ns + "/" + name) > 0;
}

StoredObject StaticLookups::scalingGroup(const std::string& ns, const std::string& name,
                                         Freshness freshness) const {
  if (scalingGroupError) return {StoredObject::State::Unknown, nullptr, *scalingGroupError};
  const std::string key = ns + "/" + name;
  if (freshness == Freshness::Live) {
    ++liveReads;
    if (auto it = liveScalingGroups.find(key); it != liveScalingGroups.end())
      return {StoredObject::State::Found, it->second, ""};
  }
  if (auto it = cachedScalingGroups.find(key); it != cachedScalingGroups.end())
    return {StoredObject::State::Found, it->second, ""};
  return {StoredObject::State::NotFound, nullptr, ""};
}

}  // namespace kubec2::api
