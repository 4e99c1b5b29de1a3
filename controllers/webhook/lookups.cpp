#include "controllers/webhook/lookups.h"

#include <set>
#include <utility>

#include "api/resources.h"
#include "runtime/errors.h"

namespace kubec2::webhook {
namespace {

namespace v1 = api::v1alpha1;

constexpr const char* kZoneLabel = "topology.kubernetes.io/zone";

}  // namespace

ClusterLookups::ClusterLookups(kube::Manager& mgr,
                               std::shared_ptr<controllers::InstanceTypeCatalogSource> catalog)
    : client_(mgr.client()),
      namespace_(mgr.options().namespace_),
      catalog_(std::move(catalog)),
      nodes_(mgr.informer<kube::RawObject>(api::kNodes)),
      launchTemplates_(mgr.informer<v1::LaunchTemplate>(v1::LaunchTemplate::resource())),
      scalingGroups_(mgr.informer<v1::ScalingGroup>(v1::ScalingGroup::resource())) {}

bool ClusterLookups::watches(const std::string& ns) const {
  return namespace_.empty() || namespace_ == ns;
}

std::optional<std::vector<std::string>> ClusterLookups::instanceTypes() const {
  // Before its ConfigMap's informer syncs, the catalog may lack that ConfigMap's types.
  if (!catalog_ || !catalog_->informer().hasSynced()) return std::nullopt;
  return catalog_->current().catalog->namesBySize();
}

std::optional<std::vector<std::string>> ClusterLookups::zones() const {
  if (!nodes_.hasSynced()) return std::nullopt;
  std::set<std::string> zones;
  for (const auto& n : nodes_.store().list())
    if (const auto it = n->metadata.labels.find(kZoneLabel); it != n->metadata.labels.end())
      zones.insert(it->second);
  return std::vector<std::string>(zones.begin(), zones.end());
}

std::optional<bool> ClusterLookups::launchTemplateExists(const std::string& ns,
                                                         const std::string& name) const {
  if (!watches(ns) || !launchTemplates_.hasSynced()) return std::nullopt;
  return launchTemplates_.store().get(ns, name) != nullptr;
}

api::StoredObject ClusterLookups::scalingGroup(const std::string& ns, const std::string& name,
                                               api::Freshness freshness) const {
  using State = api::StoredObject::State;
  if (freshness == api::Freshness::Cached) {
    if (!watches(ns) || !scalingGroups_.hasSynced())
      return {State::Unknown, nullptr, "the ScalingGroup cache has not synced"};
    const auto g = scalingGroups_.store().get(ns, name);
    return g ? api::StoredObject{State::Found, g->toJson(), ""}
             : api::StoredObject{State::NotFound, nullptr, ""};
  }
  try {
    return {State::Found, client_.get(v1::ScalingGroup::resource(), ns, name), ""};
  } catch (const kube::ApiError& e) {
    if (e.isNotFound()) return {State::NotFound, nullptr, ""};
    return {State::Unknown, nullptr, e.what()};
  } catch (const std::exception& e) {
    return {State::Unknown, nullptr, e.what()};
  }
}

}  // namespace kubec2::webhook
