#include "runtime/managed_fields.h"

#include "runtime/json_pointer.h"

namespace kube {

using nlohmann::json;

std::vector<ManagedFieldsEntry> managedFieldsOf(const json& obj) {
  std::vector<ManagedFieldsEntry> out;
  if (!obj.is_object()) return out;
  const auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return out;
  const auto mf = meta->find("managedFields");
  if (mf == meta->end() || !mf->is_array()) return out;
  for (const auto& e : *mf) {
    if (!e.is_object()) continue;
    ManagedFieldsEntry m;
    m.manager = e.value("manager", "");
    m.operation = e.value("operation", "");
    m.subresource = e.value("subresource", "");
    if (const auto f = e.find("fieldsV1"); f != e.end()) m.fieldsV1 = *f;
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::string> managersOf(const json& obj, const std::string& pointer) {
  const std::vector<std::string> tokens = pointerTokens(pointer);
  std::vector<std::string> out;
  for (const auto& e : managedFieldsOf(obj)) {
    const json* node = &e.fieldsV1;
    bool owns = false;
    for (std::size_t i = 0; i < tokens.size() && node != nullptr && node->is_object(); ++i) {
      const auto it = node->find("f:" + tokens[i]);
      if (it == node->end()) {
        node = nullptr;
        break;
      }
      node = &*it;
      // A field with no named members below it is owned whole (a leaf, a
      // list, or a map set as one value).
      bool hasMembers = false;
      for (const auto& [k, v] : node->items())
        if (k.rfind("f:", 0) == 0) hasMembers = true;
      if (!hasMembers) {
        owns = true;
        break;
      }
    }
    if (owns) out.push_back(e.manager);
  }
  return out;
}

json fieldsV1Of(const std::set<std::string>& pointers) {
  json root = json::object();
  for (const auto& p : pointers) {
    json* node = &root;
    for (const auto& t : pointerTokens(p)) {
      json& child = (*node)["f:" + t];
      if (!child.is_object()) child = json::object();
      node = &child;
    }
  }
  return root;
}

}  // namespace kube
