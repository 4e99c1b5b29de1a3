#include "runtime/object.h"

#include <stdexcept>

#include "runtime/json_scan.h"

namespace kube {
namespace {

std::string str(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void readStringMap(const nlohmann::json& j, const char* field,
                   std::map<std::string, std::string>& out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_object()) return;
  for (const auto& [k, v] : it->items())
    if (v.is_string()) out.emplace(k, v.get<std::string>());
}

}  // namespace

nlohmann::json OwnerReference::toJson() const {
  nlohmann::json j{{"apiVersion", apiVersion}, {"kind", kind}, {"name", name}, {"uid", uid}};
  if (controller) j["controller"] = true;
  if (blockOwnerDeletion) j["blockOwnerDeletion"] = true;
  return j;
}

OwnerReference OwnerReference::fromJson(const nlohmann::json& j) {
  OwnerReference r;
  r.apiVersion = str(j, "apiVersion");
  r.kind = str(j, "kind");
  r.name = str(j, "name");
  r.uid = str(j, "uid");
  r.controller = j.value("controller", false);
  r.blockOwnerDeletion = j.value("blockOwnerDeletion", false);
  return r;
}

ObjectMeta ObjectMeta::fromJson(const nlohmann::json& m) {
  ObjectMeta o;
  if (!m.is_object()) return o;
  o.name = str(m, "name");
  o.generateName = str(m, "generateName");
  o.namespace_ = str(m, "namespace");
  o.uid = str(m, "uid");
  o.resourceVersion = str(m, "resourceVersion");
  if (auto g = m.find("generation"); g != m.end() && g->is_number_integer())
    o.generation = g->get<long long>();
  o.creationTimestamp = str(m, "creationTimestamp");
  if (auto d = m.find("deletionTimestamp"); d != m.end() && d->is_string())
    o.deletionTimestamp = d->get<std::string>();
  readStringMap(m, "labels", o.labels);
  readStringMap(m, "annotations", o.annotations);
  if (auto r = m.find("ownerReferences"); r != m.end() && r->is_array()) {
    for (const auto& rj : *r) o.ownerReferences.push_back(OwnerReference::fromJson(rj));
  }
  if (auto f = m.find("finalizers"); f != m.end() && f->is_array()) {
    for (const auto& fj : *f)
      if (fj.is_string()) o.finalizers.push_back(fj.get<std::string>());
  }
  return o;
}

nlohmann::json ObjectMeta::toJson() const {
  nlohmann::json m = nlohmann::json::object();
  if (!name.empty()) m["name"] = name;
  if (!generateName.empty()) m["generateName"] = generateName;
  if (!namespace_.empty()) m["namespace"] = namespace_;
  if (!uid.empty()) m["uid"] = uid;
  if (!resourceVersion.empty()) m["resourceVersion"] = resourceVersion;
  if (generation) m["generation"] = generation;
  if (!creationTimestamp.empty()) m["creationTimestamp"] = creationTimestamp;
  if (deletionTimestamp) m["deletionTimestamp"] = *deletionTimestamp;
  if (!labels.empty()) m["labels"] = labels;
  if (!annotations.empty()) m["annotations"] = annotations;
  if (!ownerReferences.empty()) {
    auto& refs = m["ownerReferences"] = nlohmann::json::array();
    for (const auto& r : ownerReferences) refs.push_back(r.toJson());
  }
  if (!finalizers.empty()) m["finalizers"] = finalizers;
  return m;
}

std::string ObjectMeta::key() const {
  return makeKey(namespace_, name);
}

const OwnerReference* ObjectMeta::controllerRef() const {
  for (const auto& r : ownerReferences)
    if (r.controller) return &r;
  return nullptr;
}

std::pair<std::string, std::string> splitKey(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {std::string(), std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

std::string makeKey(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  std::string k;
  k.reserve(ns.size() + 1 + name.size());
  k.append(ns).append("/").append(name);
  return k;
}

RawObject RawObject::fromJson(const nlohmann::json& j) {
  RawObject r;
  r.apiVersion = str(j, "apiVersion");
  r.kind = str(j, "kind");
  auto m = j.find("metadata");
  if (m != j.end()) r.metadata = ObjectMeta::fromJson(*m);
  // managedFields is bookkeeping for server-side apply and often as large as
  // the object itself; a cache never needs it.
  if (m != j.end() && m->contains("managedFields")) {
    nlohmann::json copy = j;
    copy["metadata"].erase("managedFields");
    r.json = copy.dump();
  } else {
    r.json = j.dump();
  }
  r.json.shrink_to_fit();
  return r;
}

RawObject RawObject::fromText(std::string_view text) {
  RawObject r;
  // One pass over the object's members. metadata.managedFields is cut out of
  // metadata's text before parsing, so it is neither parsed nor kept.
  std::string_view metaSpan;
  std::optional<std::string> metaCut;
  const bool ok = jsonscan::forEachMember(text, [&](const jsonscan::Member& m) {
    if (m.key == "metadata") {
      metaSpan = m.value;
      metaCut = jsonscan::withoutMember(m.value, "managedFields");
      const auto meta = nlohmann::json::parse(metaCut ? *metaCut : m.value, nullptr, false);
      if (!meta.is_object()) throw std::invalid_argument("metadata is not a JSON object");
      r.metadata = ObjectMeta::fromJson(meta);
    } else if (m.key == "apiVersion" || m.key == "kind") {
      const auto v = nlohmann::json::parse(m.value, nullptr, false);
      if (v.is_string()) (m.key == "kind" ? r.kind : r.apiVersion) = v.get<std::string>();
    }
    return true;
  });
  if (!ok) throw std::invalid_argument("object is not well-formed JSON");
  if (metaCut) {
    const size_t base = static_cast<size_t>(metaSpan.data() - text.data());
    r.json.reserve(text.size() - metaSpan.size() + metaCut->size());
    r.json.append(text.substr(0, base));
    r.json.append(*metaCut);
    r.json.append(text.substr(base + metaSpan.size()));
  } else {
    r.json.assign(text);
  }
  return r;
}

const nlohmann::json* jsonAt(const nlohmann::json* obj,
                             std::initializer_list<std::string_view> path) {
  for (std::string_view key : path) {
    if (obj == nullptr || !obj->is_object()) return nullptr;
    const auto it = obj->find(key);
    if (it == obj->end()) return nullptr;
    obj = &*it;
  }
  return obj;
}

bool isDeleting(const nlohmann::json* obj) {
  const nlohmann::json* t = jsonAt(obj, {"metadata", "deletionTimestamp"});
  return t != nullptr && !t->is_null();
}

}  // namespace kube
