#include "runtime/resource.h"

namespace kube {

std::string Resource::basePath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string Resource::collectionPath(const std::string& ns) const {
  if (namespaced && !ns.empty()) return basePath() + "/namespaces/" + ns + "/" + resource;
  return basePath() + "/" + resource;
}

std::string Resource::objectPath(const std::string& ns, const std::string& name) const {
  return collectionPath(ns) + "/" + name;
}

}  // namespace kube
