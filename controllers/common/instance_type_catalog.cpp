#include "controllers/common/instance_type_catalog.h"

#include <map>

#include "api/resources.h"
#include "runtime/log.h"

namespace kubec2::controllers {

InstanceTypeCatalogSource::InstanceTypeCatalogSource(kube::Manager& mgr, std::string ns,
                                                     std::string name)
    : ns_(std::move(ns)),
      name_(std::move(name)),
      informer_(mgr.informer<kube::RawObject>(
          api::kConfigMaps, {.namespace_ = ns_, .fieldSelector = "metadata.name=" + name_})) {}

InstanceTypeCatalogSource::Snapshot InstanceTypeCatalogSource::current() {
  const auto cm = informer_.store().get(ns_, name_);
  const std::string rv = cm ? cm->metadata.resourceVersion : "";
  std::lock_guard lock(mu_);
  if (snapshot_.catalog && builtFrom_ == rv) return snapshot_;
  std::map<std::string, std::string> data;
  if (cm) {
    const nlohmann::json j = cm->toJson();
    if (const auto d = j.find("data"); d != j.end() && d->is_object())
      for (const auto& [k, v] : d->items())
        if (v.is_string()) data[k] = v.get<std::string>();
  }
  Snapshot s;
  s.catalog = std::make_shared<const reconcilers::InstanceTypeCatalog>(
      reconcilers::InstanceTypeCatalog::builtIn().withOverrides(data, s.problems));
  for (const auto& p : s.problems)
    kube::log::warn("Instance type ConfigMap entry ignored",
                    {{"configmap", ns_ + "/" + name_}, {"problem", p}});
  snapshot_ = std::move(s);
  builtFrom_ = rv;
  return snapshot_;
}

}  // namespace kubec2::controllers
