#include "runtime/patch.h"

namespace kube {

nlohmann::json createMergePatch(const nlohmann::json& original, const nlohmann::json& modified) {
  if (!original.is_object() || !modified.is_object()) return modified;
  nlohmann::json patch = nlohmann::json::object();
  for (const auto& [k, v] : original.items()) {
    if (!modified.contains(k)) patch[k] = nullptr;
  }
  for (const auto& [k, v] : modified.items()) {
    auto o = original.find(k);
    if (o == original.end()) {
      patch[k] = v;
    } else if (*o != v) {
      // Nested objects recurse; anything else (arrays included) is replaced.
      patch[k] = (o->is_object() && v.is_object()) ? createMergePatch(*o, v) : v;
    }
  }
  return patch;
}

nlohmann::json createJsonPatch(const nlohmann::json& original, const nlohmann::json& modified,
                               bool guardResourceVersion) {
  nlohmann::json ops = nlohmann::json::diff(original, modified);
  if (!guardResourceVersion) return ops;
  nlohmann::json out = nlohmann::json::array();
  out.push_back({{"op", "test"},
                 {"path", "/metadata/resourceVersion"},
                 {"value", original.at("metadata").at("resourceVersion")}});
  for (auto& op : ops) out.push_back(std::move(op));
  return out;
}

}  // namespace kube
