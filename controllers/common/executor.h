// The one plan executor: performs a reconciler's Plan (reconcilers/common/
// plan.h) through the client, in order, for every controller.
//
// - ApplyObject: server-side apply with the controller's field manager,
//   forced (the operator owns what it applies); what the server kept is
//   recorded in the AppliedLedger.
// - CreateObject: a create (named by the caller, or by the server from its
//   generateName); the caller tracks it with runtime/expectations.h. A
//   named create answered AlreadyExists counts as done: it is a retry of
//   one whose answer was lost.
// - DeleteObject: delete with the observed uid as precondition.
// - MergePatchObject: a JSON merge patch with the controller's field
//   manager and the observed resourceVersion as precondition; the
//   object's ledger record is forgotten (an ApplyObject after it records
//   afresh).
// - A run of consecutive creates, or of consecutive deletes, goes out
//   concurrently, in rounds doubling from 1 to 16 (the ReplicaSet
//   controller's slow start); a round with a failure ends the plan.
// - ReleaseObject: the object is read and the ownerReference to the given
//   owner removed (a JSON patch guarded by uid and position).
// - PatchStatus: a merge patch of the status subresource that turns the
//   subject's status into the new one (members dropped at any depth set to
//   null), then remembered in the StatusCache until the informer catches up.
// - AddFinalizer / RemoveFinalizer: JSON patches guarded by the subject's
//   uid and finalizer list (runtime/finalizers.h), so a concurrent change
//   fails the patch (422) instead of being overwritten.
// - RecordEvent: an Event about the subject; with changedBy, the object's
//   managedFields are read first and the other writers named.
//
// A write the API server refuses (other than a 409 Conflict or a 429, which
// are routine and retried) is reported before it is thrown: the subject's
// Ready condition turns False with reason WriteFailed and a Warning Event
// names the action and the server's answer ("Failed applying
// VirtualMachine web: InternalError (500): ... failed calling webhook"),
// once per distinct answer. The next successful plan sets Ready again.
//
// NotFound means done for deletes, releases, status patches and finalizer
// removal (the object is gone already); a subject gone before its
// finalizer is added ends the plan. Any other error is thrown after the
// actions before it took effect: the controller retries with backoff and
// plans again from what it observes then (nothing is done twice that the
// server already holds: applies and patches are idempotent, deletes are
// guarded by uid).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "controllers/common/applied_ledger.h"
#include "controllers/common/status_cache.h"
#include "reconcilers/common/plan.h"
#include "runtime/client.h"
#include "runtime/controller.h"
#include "runtime/events.h"
#include "runtime/informer.h"

namespace kubec2::controllers {

// The object a plan is about, as observed (metadata and status).
struct Subject {
  kube::Resource resource;
  nlohmann::json object;
};

// Which of a plan's actions took effect (done[i] for plan.actions[i]).
struct ExecutionReport {
  std::vector<bool> done;
};

// One per controller: it holds that controller's ledger of applies and its
// read-your-writes status cache.
class PlanExecutor {
 public:
  // `client` and `recorder` must outlive the executor.
  PlanExecutor(kube::Client& client, kube::Recorder& recorder, std::string fieldManager);

  // Performs `plan` and turns its requeue wishes into a Result. A plan
  // without actions reads nothing of `subject` (its object may be left
  // empty: the caller need not build it). Before each
  // action, a stop requested on `ctx` (lost Lease, reconcile timeout) throws
  // kube::ReconcileCancelled; the client's requests are cut short by it too
  // (kube::RequestStop, set by the controller).
  // `report`, when given, says which of the plan's actions took effect,
  // also when execute throws: a controller tracking creations and deletions
  // with expectations lowers them for the actions that did not happen, as
  // the ReplicaSet controller does for a failed create.
  kube::Result execute(const Subject& subject, const reconcilers::Plan& plan,
                       const kube::ReconcileContext& ctx, ExecutionReport* report = nullptr);

  const std::string& fieldManager() const { return fieldManager_; }
  // Whether a failed write is also reported in the subject's Ready
  // condition (true by default). Off for a reconciler whose subject's
  // status belongs to another controller (an Instance's snapshot
  // schedule): the Warning Event alone reports it.
  void reportFailuresInStatus(bool on) { statusReports_ = on; }
  // What the last applies left on the server, for the next plans.
  AppliedLedger& ledger() { return ledger_; }
  // The statuses written, until the informer delivers them: reconcilers
  // overlay lookup()'s answer on the cached object before planning.
  StatusCache& statuses() { return statuses_; }

 private:
  std::string attribution(const reconcilers::ChangeAttribution& a);
  void concurrently(std::size_t first, std::size_t last,
                    const std::function<void(std::size_t)>& write, std::vector<bool>& done,
                    const kube::ReconcileContext& ctx);
  void reportFailure(const kube::Resource& resource, const kube::ObjectRef& ref,
                     const nlohmann::json& current, const std::string& what,
                     const kube::ApiError& error, bool writeStatus,
                     const kube::ReconcileContext& ctx);

  kube::Client& client_;
  kube::Recorder& recorder_;
  std::string fieldManager_;
  bool statusReports_ = true;
  AppliedLedger ledger_;
  StatusCache statuses_;
};

// The object `req` names, from the cache, with the status `exec` last wrote
// laid over it until the cache shows that write (StatusCache): controller-
// runtime's AsReconciler (fetch, ignore NotFound) plus read-your-writes.
// nullptr when the object is gone (what was remembered of it is forgotten).
// T is a generated kind: `metadata`, `std::optional<Status> status`, toJson().
template <typename T>
std::shared_ptr<const T> fetchSubject(const kube::Informer<T>& informer, const kube::Request& req,
                                      PlanExecutor& exec) {
  auto obj = informer.store().get(req.namespace_, req.name);
  if (!obj) {
    exec.statuses().forget(req.key());
    return nullptr;
  }
  // Most reconciles follow no write of ours: no status to turn into JSON.
  if (!exec.statuses().holds(req.key())) return obj;
  const nlohmann::json cached = obj->status ? obj->status->toJson() : nlohmann::json();
  if (auto written = exec.statuses().lookup(req.key(), cached)) {
    auto copy = std::make_shared<T>(*obj);
    copy->status = std::decay_t<decltype(*copy->status)>::fromJson(*written);
    return copy;
  }
  return obj;
}

}  // namespace kubec2::controllers
