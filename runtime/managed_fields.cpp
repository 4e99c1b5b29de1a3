#include "runtime/managed_fields.h"

namespace kube {

using nlohmann::json;

std::vector<std::string> pointerTokens(const std::string& pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  std::string cur;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      out.push_back(cur);
      cur.clear();
    } else if (pointer[i] == '~' && i + 1 < pointer.size() &&
               (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      cur += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      cur += pointer[i];
    }
  }
  return out;
}

std::string pointerOf(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) {
    out += '/';
    for (char c : t) {
      if (c == '~')
        out += "~0";
      else if (c == '/')
        out += "~1";
      else
        out += c;
    }
  }
  return out;
}

void leafPointers(const json& j, const std::string& prefix, std::set<std::string>& out) {
  if (!j.is_object() || j.empty()) {
    out.insert(prefix);
    return;
  }
  for (const auto& [k, v] : j.items()) leafPointers(v, prefix + pointerOf({k}), out);
}

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
