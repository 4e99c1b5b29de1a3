// The webhook's view of the cluster (api/validation/lookups.h), from the
// manager's shared informer caches: the instance type catalog in force,
// node zones, LaunchTemplates and ScalingGroups. The informers start with
// the manager in every replica (leader or not), as the webhook serves in
// every replica; until one has synced its answers are "not known yet", so
// a starting webhook gives no warning rather than a false one. A Live read
// of a ScalingGroup is a GET through the manager's client.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/v1alpha1/types.h"
#include "api/validation/lookups.h"
#include "controllers/common/instance_type_catalog.h"
#include "runtime/informer.h"
#include "runtime/manager.h"

namespace kubec2::webhook {

class ClusterLookups final : public api::AdmissionLookups {
 public:
  // Registers the informers it reads with `mgr` (or reuses those the
  // controllers registered); call before mgr.run(). `catalog` is the one
  // the Instance controller launches with. Both must outlive this object.
  ClusterLookups(kube::Manager& mgr,
                 std::shared_ptr<controllers::InstanceTypeCatalogSource> catalog);

  std::optional<std::vector<std::string>> instanceTypes() const override;
  std::optional<std::vector<std::string>> zones() const override;
  std::optional<bool> launchTemplateExists(const std::string& ns,
                                           const std::string& name) const override;
  api::StoredObject scalingGroup(const std::string& ns, const std::string& name,
                                 api::Freshness freshness) const override;

 private:
  // Whether the informers (which watch the manager's --namespace, or all)
  // see namespace `ns`.
  bool watches(const std::string& ns) const;

  kube::Client& client_;
  std::string namespace_;  // the manager's; empty: all
  std::shared_ptr<controllers::InstanceTypeCatalogSource> catalog_;
  kube::Informer<kube::RawObject>& nodes_;
  kube::Informer<api::v1alpha1::LaunchTemplate>& launchTemplates_;
  kube::Informer<api::v1alpha1::ScalingGroup>& scalingGroups_;
};

}  // namespace kubec2::webhook
