// The one plan executor: performs a reconciler's Plan (reconcilers/common/
// plan.h) through the client, in order, for every controller.
//
// - ApplyObject: server-side apply with the controller's field manager,
//   forced (the operator owns what it applies); what the server kept is
//   recorded in the AppliedLedger.
// - DeleteObject: delete with the observed uid as precondition.
// - ReleaseObject: ownerReferences removed (a merge patch).
// - PatchStatus: a merge patch of the status subresource that turns the
//   subject's status into the new one (dropped members set to null), then
//   remembered in the StatusCache until the informer catches up.
// - AddFinalizer / RemoveFinalizer: JSON patches guarded by the subject's
//   uid and finalizer list (runtime/finalizers.h), so a concurrent change
//   fails the patch (422) instead of being overwritten.
// - RecordEvent: an Event about the subject; with changedBy, the object's
//   managedFields are read first and the other writers named.
//
// NotFound means done for deletes, releases, status patches and finalizer
// removal (the object is gone already); a subject gone before its
// finalizer is added ends the plan. Any other error is thrown after the
// actions before it took effect: the controller retries with backoff and
// plans again from what it observes then (nothing is done twice that the
// server already holds: applies and patches are idempotent, deletes are
// guarded by uid).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "controllers/common/applied_ledger.h"
#include "controllers/common/status_cache.h"
#include "reconcilers/common/plan.h"
#include "runtime/client.h"
#include "runtime/controller.h"
#include "runtime/events.h"

namespace kubec2::controllers {

// The object a plan is about, as observed (metadata and status).
struct Subject {
  kube::Resource resource;
  nlohmann::json object;
};

// One per controller: it holds that controller's ledger of applies and its
// read-your-writes status cache.
class PlanExecutor {
 public:
  // `client` and `recorder` must outlive the executor.
  PlanExecutor(kube::Client& client, kube::Recorder& recorder, std::string fieldManager);

  // Performs `plan` and turns its requeue wishes into a Result.
  kube::Result execute(const Subject& subject, const reconcilers::Plan& plan);

  const std::string& fieldManager() const { return fieldManager_; }
  // What the last applies left on the server, for the next plans.
  AppliedLedger& ledger() { return ledger_; }
  // The statuses written, until the informer delivers them: reconcilers
  // overlay lookup()'s answer on the cached object before planning.
  StatusCache& statuses() { return statuses_; }

 private:
  std::string attribution(const reconcilers::ChangeAttribution& a);

  kube::Client& client_;
  kube::Recorder& recorder_;
  std::string fieldManager_;
  AppliedLedger ledger_;
  StatusCache statuses_;
};

}  // namespace kubec2::controllers
