#include "api/validation/json_helpers.h"

#include "runtime/json_pointer.h"

namespace kubec2::api::validation {

using json = nlohmann::json;

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const std::string* stringMember(const json& object, const char* key) {
  const json* m = member(object, key);
  return m != nullptr && m->is_string() ? m->get_ptr<const std::string*>() : nullptr;
}

bool absent(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null();
}

std::string metadataString(const json& object, const char* key) {
  const json* meta = member(object, "metadata");
  const std::string* v = meta != nullptr ? stringMember(*meta, key) : nullptr;
  return v != nullptr ? *v : "";
}

json addOp(const std::vector<std::string>& tokens, json value) {
  return {{"op", "add"}, {"path", kube::pointerOf(tokens)}, {"value", std::move(value)}};
}

}  // namespace kubec2::api::validation
