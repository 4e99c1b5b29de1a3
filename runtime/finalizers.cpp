#include "runtime/finalizers.h"

#include <algorithm>
#include <stdexcept>

namespace kube {
namespace {

const nlohmann::json* metadataOf(const nlohmann::json& obj) {
  if (!obj.is_object()) return nullptr;
  auto m = obj.find("metadata");
  return m != obj.end() && m->is_object() ? &*m : nullptr;
}

const nlohmann::json* finalizersOf(const nlohmann::json& obj) {
  const auto* m = metadataOf(obj);
  if (!m) return nullptr;
  auto f = m->find("finalizers");
  return f != m->end() && f->is_array() ? &*f : nullptr;
}

std::string metaString(const nlohmann::json& obj, const char* field) {
  const auto* m = metadataOf(obj);
  if (!m) return {};
  auto it = m->find(field);
  return it != m->end() && it->is_string() ? it->get<std::string>() : std::string();
}

nlohmann::json& mutableMetadata(nlohmann::json& obj) {
  if (!obj.is_object()) throw std::invalid_argument("not a Kubernetes object: " + obj.dump());
  auto& m = obj["metadata"];
  if (!m.is_object()) m = nlohmann::json::object();
  return m;
}

std::vector<std::string> currentFinalizers(const nlohmann::json& obj) {
  std::vector<std::string> out;
  if (const auto* f = finalizersOf(obj)) {
    for (const auto& v : *f)
      if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string groupOf(std::string_view apiVersion) {
  auto slash = apiVersion.find('/');
  return slash == std::string_view::npos ? std::string() : std::string(apiVersion.substr(0, slash));
}

// "Kind ns/name" for messages.
std::string describe(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string s(kind.empty() ? "object" : kind);
  s += ' ';
  s += makeKey(ns, name);
  return s;
}

}  // namespace

bool hasFinalizer(const nlohmann::json& obj, std::string_view finalizer) {
  const auto* f = finalizersOf(obj);
  return f && std::any_of(f->begin(), f->end(), [&](const nlohmann::json& v) {
           return v.is_string() && v.get_ref<const std::string&>() == finalizer;
         });
}

bool hasFinalizer(const ObjectMeta& meta, std::string_view finalizer) {
  return std::find(meta.finalizers.begin(), meta.finalizers.end(), finalizer) !=
         meta.finalizers.end();
}

bool addFinalizer(nlohmann::json& obj, std::string_view finalizer) {
  if (hasFinalizer(obj, finalizer)) return false;
  auto& f = mutableMetadata(obj)["finalizers"];
  if (!f.is_array()) f = nlohmann::json::array();
  f.push_back(std::string(finalizer));
  return true;
}

bool removeFinalizer(nlohmann::json& obj, std::string_view finalizer) {
  if (!hasFinalizer(obj, finalizer)) return false;
  auto& m = mutableMetadata(obj);
  auto& f = m["finalizers"];
  nlohmann::json kept = nlohmann::json::array();
  for (auto& v : f)
    if (!(v.is_string() && v.get_ref<const std::string&>() == finalizer)) kept.push_back(v);
  if (kept.empty()) {
    m.erase("finalizers");
  } else {
    f = std::move(kept);
  }
  return true;
}

nlohmann::json finalizersJsonPatch(const nlohmann::json& obj,
                                   const std::vector<std::string>& desired) {
  nlohmann::json ops = nlohmann::json::array();
  if (const std::string uid = metaString(obj, "uid"); !uid.empty()) {
    ops.push_back({{"op", "test"}, {"path", "/metadata/uid"}, {"value", uid}});
  }
  if (const auto* current = finalizersOf(obj)) {
    ops.push_back({{"op", "test"}, {"path", "/metadata/finalizers"}, {"value", *current}});
    ops.push_back({{"op", "replace"}, {"path", "/metadata/finalizers"}, {"value", desired}});
    return ops;
  }
  const std::string rv = metaString(obj, "resourceVersion");
  if (rv.empty()) {
    throw std::invalid_argument(
        "finalizer patch: object has neither finalizers nor a resourceVersion to guard on");
  }
  ops.push_back({{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", rv}});
  // "add" on an object member creates it (or replaces it: the rv test above
  // is what rules out a list added meanwhile).
  ops.push_back({{"op", "add"}, {"path", "/metadata/finalizers"}, {"value", desired}});
  return ops;
}

nlohmann::json finalizersMergePatch(const nlohmann::json& obj,
                                    const std::vector<std::string>& desired) {
  const std::string rv = metaString(obj, "resourceVersion");
  if (rv.empty()) {
    throw std::invalid_argument("finalizer merge patch: object has no resourceVersion");
  }
  // null deletes the member in a merge patch; [] would say the same less plainly.
  nlohmann::json list = desired.empty() ? nlohmann::json(nullptr) : nlohmann::json(desired);
  return {{"metadata", {{"finalizers", std::move(list)}, {"resourceVersion", rv}}}};
}

std::optional<nlohmann::json> addFinalizerPatch(const nlohmann::json& obj,
                                                std::string_view finalizer) {
  if (hasFinalizer(obj, finalizer)) return std::nullopt;
  auto desired = currentFinalizers(obj);
  desired.emplace_back(finalizer);
  return finalizersJsonPatch(obj, desired);
}

std::optional<nlohmann::json> removeFinalizerPatch(const nlohmann::json& obj,
                                                   std::string_view finalizer) {
  if (!hasFinalizer(obj, finalizer)) return std::nullopt;
  auto desired = currentFinalizers(obj);
  desired.erase(std::remove(desired.begin(), desired.end(), finalizer), desired.end());
  return finalizersJsonPatch(obj, desired);
}

nlohmann::json controllerOwnerRef(const std::string& apiVersion, const std::string& kind,
                                  const std::string& name, const std::string& uid) {
  return {{"apiVersion", apiVersion},
          {"kind", kind},
          {"name", name},
          {"uid", uid},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

bool isControlledBy(const ObjectMeta& meta, const std::string& ownerUid) {
  const OwnerReference* ref = meta.controllerRef();
  return ref && !ownerUid.empty() && ref->uid == ownerUid;
}

bool isControlledBy(const nlohmann::json& obj, const std::string& ownerUid) {
  const auto* m = metadataOf(obj);
  return m && isControlledBy(ObjectMeta::fromJson(*m), ownerUid);
}

void setControllerReference(nlohmann::json& child, const std::string& ownerApiVersion,
                            const std::string& ownerKind, const ObjectMeta& owner) {
  const std::string childKind =
      child.is_object() ? child.value("kind", std::string()) : std::string();
  const std::string childNs = metaString(child, "namespace");
  const std::string childName = metaString(child, "name");
  const std::string what = "cannot make " + describe(ownerKind, owner.namespace_, owner.name) +
                           " the controller of " + describe(childKind, childNs, childName);
  if (ownerApiVersion.empty() || ownerKind.empty() || owner.name.empty() || owner.uid.empty()) {
    throw std::invalid_argument(what + ": the owner needs apiVersion, kind, name and uid");
  }
  // A cluster-scoped owner may own anything; a namespaced one only objects in
  // its own namespace (the garbage collector resolves owners in the child's).
  if (!owner.namespace_.empty()) {
    if (childNs.empty()) {
      throw std::invalid_argument(what +
                                  ": a namespaced owner cannot own a cluster-scoped object "
                                  "(or the child's namespace is not set yet)");
    }
    if (childNs != owner.namespace_) {
      throw std::invalid_argument(what + ": owner and child are in different namespaces");
    }
  }

  const std::string ownerGroup = groupOf(ownerApiVersion);
  auto sameOwner = [&](const nlohmann::json& ref) {
    return ref.is_object() && groupOf(ref.value("apiVersion", "")) == ownerGroup &&
           ref.value("kind", "") == ownerKind && ref.value("name", "") == owner.name;
  };

  auto& refs = mutableMetadata(child)["ownerReferences"];
  if (!refs.is_array()) refs = nlohmann::json::array();
  for (const auto& ref : refs) {
    if (ref.is_object() && ref.value("controller", false) && !sameOwner(ref)) {
      throw std::invalid_argument(what + ": it is already controlled by " +
                                  describe(ref.value("kind", ""), childNs, ref.value("name", "")) +
                                  " (uid " + ref.value("uid", "") + ")");
    }
  }
  nlohmann::json ref = controllerOwnerRef(ownerApiVersion, ownerKind, owner.name, owner.uid);
  for (auto& existing : refs) {
    if (sameOwner(existing)) {
      existing = std::move(ref);
      return;
    }
  }
  refs.push_back(std::move(ref));
}

void setControllerReference(nlohmann::json& child, const nlohmann::json& owner) {
  if (!owner.is_object()) throw std::invalid_argument("owner is not a Kubernetes object");
  const auto* m = metadataOf(owner);
  setControllerReference(child, owner.value("apiVersion", ""), owner.value("kind", ""),
                         m ? ObjectMeta::fromJson(*m) : ObjectMeta{});
}

}  // namespace kube
