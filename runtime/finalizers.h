// Finalizers and owner references on objects held as JSON: pure functions, no
// I/O. The patch builders return bodies for Client::patch that fail, rather
// than overwrite, when someone else changed the object in between.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/object.h"

namespace kube {

// --- Finalizers (metadata.finalizers) ---

bool hasFinalizer(const nlohmann::json& obj, std::string_view finalizer);
bool hasFinalizer(const ObjectMeta& meta, std::string_view finalizer);
// Appends `finalizer` unless present; returns whether `obj` changed.
bool addFinalizer(nlohmann::json& obj, std::string_view finalizer);
// Removes every occurrence of `finalizer`; returns whether `obj` changed.
// Drops metadata.finalizers when it becomes empty, as the server would.
bool removeFinalizer(nlohmann::json& obj, std::string_view finalizer);

// A JSON patch (PatchType::Json) that sets metadata.finalizers of `obj` (as
// last read) to `desired`. Guarded by `test` operations: on metadata.uid (a
// deleted and re-created object with the same name is not the one we
// cleaned up for) and on the current finalizer list, or, when the object has
// no list yet, on metadata.resourceVersion (RFC 6902 cannot test for an
// absent member). So a concurrent change of the finalizers makes the patch
// fail, while unrelated writes (status, labels) do not.
// A failed test is answered 422 (ApiError::isInvalid): re-read and retry.
// Throws std::invalid_argument when there is no list and no resourceVersion.
nlohmann::json finalizersJsonPatch(const nlohmann::json& obj,
                                   const std::vector<std::string>& desired);
// A merge patch (PatchType::Merge) doing the same, guarded by
// metadata.resourceVersion: the server answers 409 Conflict when the object
// changed at all since it was read (controller-runtime's
// MergeFromWithOptimisticLock). Simpler, but conflicts with every write.
// Throws std::invalid_argument without a resourceVersion.
nlohmann::json finalizersMergePatch(const nlohmann::json& obj,
                                    const std::vector<std::string>& desired);
// Guarded JSON patches adding or removing one finalizer; nullopt when there
// is nothing to do.
std::optional<nlohmann::json> addFinalizerPatch(const nlohmann::json& obj,
                                                std::string_view finalizer);
std::optional<nlohmann::json> removeFinalizerPatch(const nlohmann::json& obj,
                                                   std::string_view finalizer);

// --- Owner references (metadata.ownerReferences) ---

// {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}
nlohmann::json controllerOwnerRef(const std::string& apiVersion, const std::string& kind,
                                  const std::string& name, const std::string& uid);

// Whether the object's controller reference points at `ownerUid`.
bool isControlledBy(const ObjectMeta& meta, const std::string& ownerUid);
bool isControlledBy(const nlohmann::json& obj, const std::string& ownerUid);

// Makes the owner the controller of `child` (controller-runtime's
// SetControllerReference): replaces an existing reference to the same owner
// (same API group, kind and name, so a re-created owner's new uid is taken),
// appends otherwise. Throws std::invalid_argument when another object already
// controls the child, when a namespaced owner would own an object in another
// namespace or a cluster-scoped one (the garbage collector would ignore or
// misread such a reference), or when the owner lacks name or uid.
void setControllerReference(nlohmann::json& child, const std::string& ownerApiVersion,
                            const std::string& ownerKind, const ObjectMeta& owner);
// The same, reading apiVersion, kind and metadata from the owner object.
void setControllerReference(nlohmann::json& child, const nlohmann::json& owner);

}  // namespace kube
