// The instance type catalog in force: the built-in types with the ConfigMap
// (--instance-types-configmap in the operator's namespace) applied, rebuilt
// when the ConfigMap changes. Shared by the Instance controller and the
// admission webhook's warnings, so both know the same types. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "reconcilers/instance/instance_types.h"
#include "runtime/informer.h"
#include "runtime/manager.h"

namespace kubec2::controllers {

class InstanceTypeCatalogSource {
 public:
  // Registers the ConfigMap's informer (one object, by field selector) with
  // the manager. Call before the manager runs.
  InstanceTypeCatalogSource(kube::Manager& mgr, std::string ns, std::string name);

  struct Snapshot {
    std::shared_ptr<const reconcilers::InstanceTypeCatalog> catalog;
    std::vector<std::string> problems;  // ConfigMap entries ignored, and why
  };
  // The catalog as of the cache now. Bad entries are logged once per
  // version of the ConfigMap.
  Snapshot current();

  // The ConfigMap's informer, for controllers that reconcile on its changes.
  kube::Informer<kube::RawObject>& informer() { return informer_; }
  const std::string& namespace_() const { return ns_; }
  const std::string& name() const { return name_; }

 private:
  std::string ns_;
  std::string name_;
  kube::Informer<kube::RawObject>& informer_;
  std::mutex mu_;
  std::string builtFrom_ = "none";  // the ConfigMap's resourceVersion ("" when absent)
  Snapshot snapshot_;
};

}  // namespace kubec2::controllers
