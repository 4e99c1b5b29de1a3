// A reconcile's decision as a value: the ordered writes that make the
// cluster match what was observed and asked for (kube-rs' "sans-IO" shape:
// observe -> plan -> apply). Reconcilers build plans with pure functions and
// table-test them; one executor (controllers/common/executor.h) performs
// any plan, in order, and stops at the first failure (the key is retried
// with backoff and the next reconcile plans again from what it observes).
//
// A plan is about one object, its subject (the Instance, the ScalingGroup
// ...): status, finalizers and Events go to the subject; applies and
// deletes name their own objects.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/resource.h"

namespace kubec2::reconcilers {

// Server-side apply of a configuration (only the fields the operator owns).
struct ApplyObject {
  kube::Resource resource;
  nlohmann::json object;  // apiVersion, kind, metadata.name and .namespace set
  // The resourceVersion of the object this apply was decided on ("" when
  // it did not exist or was not observed): until the cache moves past it,
  // what the cache shows is not a change (applied.h, decideApply).
  std::string observedResourceVersion{};
};

// A JSON merge patch (RFC 7386) of an object, for what server-side apply
// cannot do: a list in the patch replaces the stored list whole, members
// other field managers added included (a Service's ports edited by hand,
// which an apply can only merge with: 422 Duplicate value). Guarded by
// the resourceVersion observed: an object changed since fails with 409
// Conflict and the next reconcile plans again from what it sees.
struct MergePatchObject {
  kube::Resource resource;
  std::string namespace_;
  std::string name;
  std::string observedResourceVersion;  // required: the patch's precondition
  nlohmann::json patch;                 // without metadata.resourceVersion (added)
};

// Create an object the server names (metadata.generateName): what a
// controller makes many of, as a ReplicaSet its pods, where a name chosen
// by the server is never one in use. Not idempotent: a controller creating
// this way tracks its creations in flight (runtime/expectations.h) so a
// stale cache never makes it create twice.
// Create. With metadata.name set, an AlreadyExists answer counts as done:
// the name is the caller's token for one launch, sent again when an
// earlier attempt's answer was lost (controllers/scalinggroup/launch_names.h).
struct CreateObject {
  kube::Resource resource;
  nlohmann::json object;  // apiVersion, kind, metadata.namespace, and .generateName or .name set
  // A Normal Event about the subject recorded only by the create that made
  // the object (not by one answered AlreadyExists: a create sent again
  // from a stale cache must not announce it twice). Empty reason: none.
  std::string createdReason{};
  std::string createdMessage{};
};

// Delete, guarded by the uid that was observed, so an object deleted and
// re-created meanwhile by somebody else is not deleted unseen (409).
struct DeleteObject {
  kube::Resource resource;
  std::string namespace_;
  std::string name;
  std::string uid;  // empty: no precondition
  // A Normal Event about the subject recorded only by the delete that
  // deleted the object (not one answered NotFound, as a delete sent again
  // from a stale cache is). Empty reason: none.
  std::string deletedReason{};
  std::string deletedMessage{};
};

// Removes an object's ownerReference to `ownerUid`, so that the garbage
// collector keeps it when that owner goes (volumes that outlive an
// instance). Other owners stay.
struct ReleaseObject {
  kube::Resource resource;
  std::string namespace_;
  std::string name;
  std::string ownerUid;
};

// The subject's whole new status (members it drops are removed).
struct PatchStatus {
  nlohmann::json status;
};

struct AddFinalizer {
  std::string finalizer;
};

struct RemoveFinalizer {
  std::string finalizer;
};

// Which field manager changed some fields of an object: the executor reads
// the object's managedFields (before the actions after this one run) and
// names the writers other than the operator in the Event's message.
struct ChangeAttribution {
  kube::Resource resource;
  std::string namespace_;
  std::string name;
  std::vector<std::string> pointers;  // JSON pointers of the changed fields
};

// An Event about the subject.
struct RecordEvent {
  bool warning = false;
  std::string reason;   // CamelCase: VirtualMachineRestored
  std::string message;  // for people; never secret material
  std::optional<ChangeAttribution> changedBy;
};

using Action = std::variant<ApplyObject, CreateObject, DeleteObject, ReleaseObject, PatchStatus,
                            AddFinalizer, RemoveFinalizer, RecordEvent, MergePatchObject>;

struct Plan {
  std::vector<Action> actions;
  // Come back after this long (a retention to wait out, a poll) ...
  std::optional<std::chrono::milliseconds> requeueAfter;
  // ... or with the key's exponential backoff (something not watched).
  bool retryWithBackoff = false;

  Plan& add(Action a) {
    actions.push_back(std::move(a));
    return *this;
  }
  // Keeps the earliest of two requeue times; at least 1 ms, since a
  // requeue of 0 means none (runtime/controller.h).
  void requeueWithin(std::chrono::milliseconds d) {
    d = std::max(d, std::chrono::milliseconds(1));
    if (!requeueAfter || d < *requeueAfter) requeueAfter = d;
  }

  // For tests and for plans built in steps.
  template <typename T>
  std::vector<const T*> all() const {
    std::vector<const T*> out;
    for (const auto& a : actions)
      if (const T* t = std::get_if<T>(&a)) out.push_back(t);
    return out;
  }
  template <typename T>
  const T* first() const {
    for (const auto& a : actions)
      if (const T* t = std::get_if<T>(&a)) return t;
    return nullptr;
  }
  // The apply of an object of `kind` named `name`, if planned.
  const ApplyObject* applyOf(const std::string& kind, const std::string& name) const;
  bool empty() const { return actions.empty(); }
};

}  // namespace kubec2::reconcilers
