// Names a resource type of the Kubernetes API (group, version, plural) and
// builds its REST paths. Kept apart from the client so that API types and
// pure decision code can name resources without pulling in HTTP.
#pragma once

#include <string>

namespace kube {

// Identifies a resource type: core is group "", version "v1".
struct Resource {
  std::string group;     // "" for the core group
  std::string version;   // v1, v1alpha1, ...
  std::string resource;  // plural: configmaps, virtualmachines
  bool namespaced = true;
  std::string kind;  // optional, for messages and owner references

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // /api/v1 or /apis/GROUP/VERSION
  std::string basePath() const;
  // Collection path, in `ns` when namespaced and `ns` is non-empty (all namespaces otherwise).
  std::string collectionPath(const std::string& ns) const;
  std::string objectPath(const std::string& ns, const std::string& name) const;
  // "virtualmachines.kubevirt.io", "configmaps": the name RBAC and messages use.
  std::string groupResource() const { return group.empty() ? resource : resource + "." + group; }

  bool operator==(const Resource& o) const {
    return group == o.group && version == o.version && resource == o.resource;
  }
};

}  // namespace kube
