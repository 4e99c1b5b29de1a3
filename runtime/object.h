// Object metadata in typed, compact form, and the generic object the runtime
// stores when a caller has no typed struct: metadata typed, the rest kept as
// the compact JSON text the server sent (a few bytes per byte of JSON, where a
// parsed JSON tree costs many times that; see docs/benchmarks.md).
#pragma once

#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

struct OwnerReference {
  std::string apiVersion;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool blockOwnerDeletion = false;

  nlohmann::json toJson() const;
  static OwnerReference fromJson(const nlohmann::json& j);
  bool operator==(const OwnerReference&) const = default;
};

struct ObjectMeta {
  std::string name;
  std::string generateName;
  std::string namespace_;
  std::string uid;
  std::string resourceVersion;
  long long generation = 0;
  std::string creationTimestamp;
  std::optional<std::string> deletionTimestamp;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<OwnerReference> ownerReferences;
  std::vector<std::string> finalizers;

  // Reads the fields above from a metadata object; ignores the rest
  // (managedFields in particular, which can be larger than the object).
  static ObjectMeta fromJson(const nlohmann::json& metadata);
  nlohmann::json toJson() const;

  // "namespace/name", or "name" for cluster-scoped objects: the work-queue key.
  std::string key() const;
  const OwnerReference* controllerRef() const;
};

// Splits a "namespace/name" key. A key without '/' is cluster-scoped.
std::pair<std::string, std::string> splitKey(std::string_view key);
std::string makeKey(std::string_view ns, std::string_view name);

// Any object: typed metadata plus the compact JSON text of the whole object.
// This is what Informer<RawObject> stores for kinds without a C++ type.
struct RawObject {
  std::string apiVersion;
  std::string kind;
  ObjectMeta metadata;
  std::string json;  // the full object, compact (metadata.managedFields dropped)

  static RawObject fromJson(const nlohmann::json& j);
  // From the server's text, parsing only metadata, apiVersion and kind and
  // cutting managedFields out of the text (no tree of the whole object).
  // Throws std::invalid_argument when the text is not a JSON object.
  static RawObject fromText(std::string_view text);
  nlohmann::json toJson() const { return nlohmann::json::parse(json); }
};

// The member at `path` below `obj`: nullptr when `obj` is null or a member
// on the way is missing or not an object.
const nlohmann::json* jsonAt(const nlohmann::json* obj,
                             std::initializer_list<std::string_view> path);
// Whether the object (as JSON) has a metadata.deletionTimestamp. False for null.
bool isDeleting(const nlohmann::json* obj);

// Accessor the informer uses to reach metadata of any stored type.
template <typename T>
const ObjectMeta& metaOf(const T& obj) {
  return obj.metadata;
}

}  // namespace kube
