#include "controllers/common/executor.h"

#include <functional>
#include <future>
#include <optional>
#include <set>

#include "controllers/common/metrics.h"
#include "reconcilers/common/conditions.h"
#include "runtime/finalizers.h"
#include "runtime/log.h"
#include "runtime/managed_fields.h"
#include "runtime/object.h"
#include "runtime/patch.h"
#include "runtime/timefmt.h"

namespace kubec2::controllers {
namespace {

using nlohmann::json;
namespace rec = kubec2::reconcilers;

json metaOf(const json& obj) {
  return obj.is_object() ? obj.value("metadata", json::object()) : json::object();
}

// `j` without members whose value is the empty string, at any depth: the
// API server reads "" in a merge patch's body as null and refuses it for a
// string field ("must be of type string: null", seen with kube-apiserver
// 1.20 on CRD status), so an empty string is written as an absent member.
json withoutEmptyStrings(json j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end();) {
      if (it->is_string() && it->get_ref<const std::string&>().empty()) {
        it = j.erase(it);
      } else {
        *it = withoutEmptyStrings(std::move(*it));
        ++it;
      }
    }
  } else if (j.is_array()) {
    for (auto& v : j) v = withoutEmptyStrings(std::move(v));
  }
  return j;
}

// The merge patch (RFC 7386) that turns the subject's status into `now`,
// members it drops (at any depth) set to null.
json statusPatch(const json& subject, const json& now) {
  const auto it = subject.find("status");
  const json old = it != subject.end() && it->is_object() ? *it : json::object();
  return kube::createMergePatch({{"status", old}}, {{"status", withoutEmptyStrings(now)}});
}

// A JSON patch removing the ownerReference to `ownerUid` from `obj`, guarded
// by the object's uid and the reference's position; nullopt when there is none.
std::optional<json> releasePatch(const json& obj, const std::string& ownerUid) {
  const json m = metaOf(obj);
  const json refs = m.value("ownerReferences", json::array());
  for (std::size_t i = 0; i < refs.size(); ++i)
    if (refs[i].value("uid", "") == ownerUid) {
      const std::string at = "/metadata/ownerReferences/" + std::to_string(i);
      return json::array(
          {{{"op", "test"}, {"path", "/metadata/uid"}, {"value", m.value("uid", "")}},
           {{"op", "test"}, {"path", at + "/uid"}, {"value", ownerUid}},
           {{"op", "remove"}, {"path", at}}});
    }
  return std::nullopt;
}

// What an action does, in words, for the failure it may report.
std::string describe(const rec::Action& action) {
  auto objectName = [](const kube::Resource& r, const std::string& name) {
    return r.kind + " " + name;
  };
  if (const auto* a = std::get_if<rec::ApplyObject>(&action))
    return "applying " + objectName(a->resource, metaOf(a->object).value("name", ""));
  if (const auto* c = std::get_if<rec::CreateObject>(&action))
    return "creating " + c->resource.kind + " " +
           (metaOf(c->object).contains("name")
                ? metaOf(c->object).value("name", std::string())
                : metaOf(c->object).value("generateName", std::string()) + "...");
  if (const auto* d = std::get_if<rec::DeleteObject>(&action))
    return "deleting " + objectName(d->resource, d->name);
  if (const auto* m = std::get_if<rec::MergePatchObject>(&action))
    return "patching " + objectName(m->resource, m->name);
  if (const auto* r = std::get_if<rec::ReleaseObject>(&action))
    return "releasing " + objectName(r->resource, r->name) + " from its owner";
  if (std::holds_alternative<rec::PatchStatus>(action)) return "writing the status";
  if (std::holds_alternative<rec::AddFinalizer>(action)) return "adding the finalizer";
  if (std::holds_alternative<rec::RemoveFinalizer>(action)) return "removing the finalizer";
  return "recording an Event";
}

}  // namespace

PlanExecutor::PlanExecutor(kube::Client& client, kube::Recorder& recorder, std::string fieldManager)
    : client_(client), recorder_(recorder), fieldManager_(std::move(fieldManager)) {}

std::string PlanExecutor::attribution(const rec::ChangeAttribution& a) {
  try {
    const auto obj = kube::getIfExists(client_, a.resource, a.namespace_, a.name);
    if (!obj) return "";
    std::set<std::string> writers;
    for (const auto& p : a.pointers)
      for (const auto& m : kube::managersOf(*obj, p))
        if (m != fieldManager_) writers.insert(m);
    std::string out;
    for (const auto& w : writers) out += (out.empty() ? "" : ", ") + w;
    return out;
  } catch (const std::exception& e) {
    // Attribution is for people; the restore goes ahead without it.
    kube::log::warn("Reading who changed an object failed",
                    {{"object", a.namespace_ + "/" + a.name}, {"error", e.what()}});
    return "";
  }
}

void PlanExecutor::reportFailure(const kube::Resource& resource, const kube::ObjectRef& ref,
                                 const json& current, const std::string& what,
                                 const kube::ApiError& error, bool writeStatus,
                                 const kube::ReconcileContext& ctx) {
  // Routine races and throttling are retried at once or as the server asks:
  // not worth a Warning.
  if (error.isConflict() || error.isTooManyRequests()) return;
  const std::string message = "Failed " + what + ": " + error.what() + "; retrying with backoff";
  try {
    if (writeStatus && statusReports_) {
      rec::Conditions conds;
      if (const json* cs = kube::jsonAt(&current, {"status"}); cs && cs->contains("conditions")) {
        conds.emplace();
        for (const auto& c : (*cs)["conditions"])
          conds->push_back(api::v1alpha1::Condition::fromJson(c));
      }
      const auto* was = rec::findCondition(conds, "Ready");
      if (was && was->reason == "WriteFailed" && was->message == message) return;  // said already
      const auto generation = metaOf(current).value("generation", std::int64_t{0});
      auto ready = rec::condition(conds, "Ready", "False", "WriteFailed", message, generation,
                                  kube::formatRfc3339(ctx.clock.wallNow()));
      rec::setCondition(conds, std::move(ready));
      json list = json::array();
      for (const auto& c : *conds) list.push_back(c.toJson());
      try {
        client_.patchStatus(resource, ref.namespace_, ref.name, kube::PatchType::Merge,
                            {{"status", {{"conditions", list}}}}, fieldManager_);
        metrics::writes("status", resource.groupResource()).Increment();
      } catch (const std::exception& e) {
        // The status refused too (the object's writes all fail): the
        // Event below still names the cause. The log has this one.
        kube::log::warn("Reporting a failed write in status failed",
                        {{"object", ref.namespace_ + "/" + ref.name}, {"error", e.what()}});
      }
    }
    recorder_.event(ref, kube::EventType::Warning, "WriteFailed", message);
  } catch (const std::exception& e) {
    // The API server may be down altogether: the log has it.
    kube::log::warn("Reporting a failed write failed",
                    {{"object", ref.namespace_ + "/" + ref.name}, {"error", e.what()}});
  }
}

// Runs `write(i)` for each index of [first, last) concurrently, in rounds
// that double from 1 up to kMaxConcurrentWrites (16) (the ReplicaSet
// controller's slow start: a write that fails, such as every launch refused
// by a webhook, fails once rather than a thousand times). Marks `done[i]`
// for each write that returned; after a round with a failure, throws the
// first failure and starts no more.
void PlanExecutor::concurrently(std::size_t first, std::size_t last,
                                const std::function<void(std::size_t)>& write,
                                std::vector<bool>& done, const kube::ReconcileContext& ctx) {
  constexpr std::size_t kMaxConcurrentWrites = 16;
  std::size_t round = 1;
  for (std::size_t i = first; i < last;) {
    ctx.throwIfStopped();
    const std::size_t end = std::min(last, i + round);
    std::vector<std::future<void>> inFlight;
    for (std::size_t k = i; k < end; ++k)
      inFlight.push_back(std::async(std::launch::async, [&write, k] { write(k); }));
    std::exception_ptr failure;
    for (std::size_t k = i; k < end; ++k) {
      try {
        inFlight[k - i].get();
        done[k] = true;
      } catch (...) {
        if (!failure) failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
    i = end;
    round = std::min(round * 2, kMaxConcurrentWrites);
  }
}

kube::Result PlanExecutor::execute(const Subject& subject, const rec::Plan& plan,
                                   const kube::ReconcileContext& ctx, ExecutionReport* report) {
  ExecutionReport local;
  ExecutionReport& result = report ? *report : local;
  result.done.assign(plan.actions.size(), false);
  auto requeue = [&plan] {
    if (plan.retryWithBackoff) return kube::Result::requeueNow();
    if (plan.requeueAfter) return kube::Result::after(*plan.requeueAfter);
    return kube::Result::done();
  };
  if (plan.actions.empty()) return requeue();
  // The subject as our own writes leave it: the caller's object until a
  // write answers with a newer one (not a copy: it can be large).
  std::optional<json> written;
  const json* current = &subject.object;
  const json* meta = kube::jsonAt(&subject.object, {"metadata"});
  auto metaString = [meta](const char* field) {
    return meta ? meta->value(field, std::string()) : std::string();
  };
  const std::string ns = metaString("namespace");
  const std::string name = metaString("name");
  const std::string key = kube::makeKey(ns, name);
  auto subjectWritten = [&](json response) {
    if (response.is_object() && response.contains("metadata")) {
      written = std::move(response);
      current = &*written;
    }
  };
  const kube::ObjectRef ref{subject.object.value("apiVersion", subject.resource.apiVersion()),
                            subject.resource.kind,
                            ns,
                            name,
                            metaString("uid"),
                            ""};

  auto create = [&](const rec::CreateObject& c) {
    const json m = metaOf(c.object);
    const std::string named = m.value("name", "");
    try {
      const json created = client_.create(c.resource, m.value("namespace", ns), c.object);
      metrics::writes("create", c.resource.groupResource()).Increment();
      if (!c.createdReason.empty())
        recorder_.event(ref, kube::EventType::Normal, c.createdReason, c.createdMessage);
      kube::log::debug(
          "Created",
          {{"kind", c.resource.kind}, {"object", metaOf(created).value("name", "")}, {"for", key}});
    } catch (const kube::ApiError& e) {
      // A create sent again under its name after its answer was lost: the
      // first one was committed (reconcilers/common/plan.h, CreateObject).
      if (named.empty() || !e.isAlreadyExists()) throw;
      kube::log::info("Already created by an earlier attempt whose answer was lost",
                      {{"kind", c.resource.kind}, {"object", named}, {"for", key}});
    }
  };
  auto remove = [&](const rec::DeleteObject& d) {
    kube::DeleteOptions opts;
    if (!d.uid.empty()) opts.preconditionUid = d.uid;
    if (kube::ignoreNotFound([&] { client_.del(d.resource, d.namespace_, d.name, opts); })) {
      metrics::writes("delete", d.resource.groupResource()).Increment();
      if (!d.deletedReason.empty())
        recorder_.event(ref, kube::EventType::Normal, d.deletedReason, d.deletedMessage);
    }
    ledger_.forget(d.resource, d.namespace_, d.name);
  };

  const std::size_t n = plan.actions.size();
  for (std::size_t i = 0; i < n; ++i) {
    const rec::Action& action = plan.actions[i];
    // A lost Lease or a reconcile past its timeout: no further writes.
    ctx.throwIfStopped();
    // A run of creates, or of deletes (a group launching or terminating
    // many instances), goes out concurrently: one at a time, a thousand
    // launches through two admission webhooks each take a minute.
    const std::size_t kind = action.index();
    if (std::holds_alternative<rec::CreateObject>(action) ||
        std::holds_alternative<rec::DeleteObject>(action)) {
      std::size_t last = i + 1;
      while (last < n && plan.actions[last].index() == kind) ++last;
      if (last - i > 1) {
        try {
          concurrently(
              i, last,
              [&](std::size_t k) {
                if (const auto* c = std::get_if<rec::CreateObject>(&plan.actions[k]))
                  create(*c);
                else
                  remove(std::get<rec::DeleteObject>(plan.actions[k]));
              },
              result.done, ctx);
        } catch (const kube::ApiError& e) {
          reportFailure(subject.resource, ref, *current, describe(action), e, true, ctx);
          throw;
        }
        i = last - 1;
        continue;
      }
    }
    try {
      if (const auto* a = std::get_if<rec::ApplyObject>(&action)) {
        const json m = metaOf(a->object);
        const json stored = client_.apply(a->resource, m.value("namespace", ns), a->object,
                                          fieldManager_, /*force=*/true);
        ledger_.record(a->resource, a->object, stored, a->observedResourceVersion);
        metrics::writes("apply", a->resource.groupResource()).Increment();
        kube::log::debug(
            "Applied", {{"kind", a->resource.kind}, {"object", m.value("name", "")}, {"for", key}});
      } else if (const auto* c = std::get_if<rec::CreateObject>(&action)) {
        create(*c);
      } else if (const auto* d = std::get_if<rec::DeleteObject>(&action)) {
        remove(*d);
      } else if (const auto* mp = std::get_if<rec::MergePatchObject>(&action)) {
        json body = mp->patch;
        body["metadata"]["resourceVersion"] = mp->observedResourceVersion;
        client_.patch(mp->resource, mp->namespace_, mp->name, kube::PatchType::Merge, body,
                      kube::PatchOptions{.fieldManager = fieldManager_});
        // The next apply records what the server keeps; the last record
        // is of an object that no longer is.
        ledger_.forget(mp->resource, mp->namespace_, mp->name);
        metrics::writes("patch", mp->resource.groupResource()).Increment();
        kube::log::info("Patched", {{"kind", mp->resource.kind},
                                    {"object", mp->namespace_ + "/" + mp->name},
                                    {"for", key}});
      } else if (const auto* r = std::get_if<rec::ReleaseObject>(&action)) {
        // Not watched: read, then remove only that owner's reference.
        const auto obj = kube::getIfExists(client_, r->resource, r->namespace_, r->name);
        const auto patch = obj ? releasePatch(*obj, r->ownerUid) : std::nullopt;
        if (!patch) {
          result.done[i] = true;  // nothing to do
          continue;
        }
        if (kube::ignoreNotFound([&] {
              client_.patch(r->resource, r->namespace_, r->name, kube::PatchType::Json, *patch);
            })) {
          metrics::writes("release", r->resource.groupResource()).Increment();
          kube::log::info("Released from its owner, so it is kept",
                          {{"kind", r->resource.kind},
                           {"object", r->namespace_ + "/" + r->name},
                           {"for", key}});
        }
      } else if (const auto* s = std::get_if<rec::PatchStatus>(&action)) {
        const json replaced = current->value("status", json());
        kube::ignoreNotFound([&] {
          subjectWritten(client_.patchStatus(subject.resource, ns, name, kube::PatchType::Merge,
                                             statusPatch(*current, s->status), fieldManager_));
          statuses_.remember(key, replaced, s->status);
          metrics::writes("status", subject.resource.groupResource()).Increment();
        });
      } else if (const auto* f = std::get_if<rec::AddFinalizer>(&action)) {
        const auto patch = kube::addFinalizerPatch(*current, f->finalizer);
        if (!patch) {
          result.done[i] = true;  // nothing to do
          continue;
        }
        const bool found = kube::ignoreNotFound([&] {
          subjectWritten(client_.patch(subject.resource, ns, name, kube::PatchType::Json, *patch));
        });
        if (!found) return kube::Result::done();  // deleted meanwhile: nothing to hold
        metrics::writes("finalizer", subject.resource.groupResource()).Increment();
      } else if (const auto* rf = std::get_if<rec::RemoveFinalizer>(&action)) {
        const auto patch = kube::removeFinalizerPatch(*current, rf->finalizer);
        if (!patch) {
          result.done[i] = true;  // nothing to do
          continue;
        }
        if (kube::ignoreNotFound([&] {
              subjectWritten(
                  client_.patch(subject.resource, ns, name, kube::PatchType::Json, *patch));
            }))
          metrics::writes("finalizer", subject.resource.groupResource()).Increment();
        statuses_.forget(key);
      } else if (const auto* e = std::get_if<rec::RecordEvent>(&action)) {
        std::string message = e->message;
        if (e->changedBy) {
          const std::string who = attribution(*e->changedBy);
          if (!who.empty()) message += " (changed by " + who + ")";
        }
        recorder_.event(ref, e->warning ? kube::EventType::Warning : kube::EventType::Normal,
                        e->reason, message);
      }
    } catch (const kube::ApiError& e) {
      reportFailure(subject.resource, ref, *current, describe(action), e,
                    !std::holds_alternative<rec::PatchStatus>(action), ctx);
      throw;
    }
    result.done[i] = true;
  }
  return requeue();
}

}  // namespace kubec2::controllers
