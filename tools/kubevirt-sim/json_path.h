// Reading the objects the simulator watches without throwing: a missing
// member, or one of another type, reads as null or "".
#pragma once

#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace kubec2::sim {

// The value at `path` (object keys), or null.
inline const nlohmann::json& field(const nlohmann::json& j,
                                   std::initializer_list<const char*> path) {
  static const nlohmann::json kNull;
  const nlohmann::json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(k);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

// The string at `path`, or "".
inline std::string str(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json& v = field(j, path);
  return v.is_string() ? v.get<std::string>() : "";
}

// The object's status, or an empty object.
inline const nlohmann::json& statusOf(const nlohmann::json& obj) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  auto it = obj.find("status");
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace kubec2::sim
