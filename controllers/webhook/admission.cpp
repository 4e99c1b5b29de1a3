#include "controllers/webhook/admission.h"

#include <exception>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "api/validation/kinds.h"
#include "api/validation/lookups.h"
#include "api/well_known.h"
#include "controllers/webhook/metrics.h"
#include "runtime/base64.h"

namespace kubec2::webhook {
namespace {

using nlohmann::json;

// A string member of `obj`, "" when it is missing or not a string
// (json::value() would throw json::type_error for a number).
std::string stringField(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

HttpAnswer badRequest(const std::string& cause) {
  return {400, json{{"error", cause}}.dump()};
}

// A denial as the API server words its own validation failures (422
// Invalid with one cause per field, the cause's message without the field),
// so kubectl prints it as it prints a schema error:
//   The ScalingGroup "web" is invalid: spec.minSize: Invalid value: 5: ...
// The message (which the API server prefixes with the webhook's name) is
// what clients without kubectl's cause printing show. A rule that could not
// be decided (an Internal error: a lookup failed) makes it a 500, as the
// API server answers an internal error, so that clients retry rather than
// read it as a verdict on the value.
json denial(const api::ComputeKind& kind, const std::string& name,
            const std::vector<api::FieldError>& errors) {
  json causes = json::array();
  bool internal = false;
  for (const auto& e : errors) {
    causes.push_back({{"reason", e.causeType()}, {"message", e.body()}, {"field", e.field}});
    internal = internal || e.type == api::FieldError::Type::Internal;
  }
  return {{"code", internal ? 500 : 422},
          {"reason", internal ? "InternalError" : "Invalid"},
          {"message", api::invalidMessage(kind.resource.kind, name, errors)},
          {"details",
           {{"group", kind.resource.group},
            {"kind", kind.resource.kind},
            {"name", name},
            {"causes", causes}}}};
}

// The Instance controller's finalizer, set at creation so that launching
// needs no write of its own (the controller adds it when missing, as when
// the webhook was bypassed). Only on CREATE: on an UPDATE it would come
// back while the controller removes it from a terminated Instance.
void addInstanceFinalizer(const json& object, json& patch) {
  const json* meta =
      object.is_object() && object.contains("metadata") ? &object["metadata"] : nullptr;
  if (meta == nullptr || !meta->is_object()) return;
  const auto f = meta->find("finalizers");
  if (f == meta->end() || !f->is_array()) {
    patch.push_back({{"op", "add"},
                     {"path", "/metadata/finalizers"},
                     {"value", json::array({api::kInstanceFinalizer})}});
    return;
  }
  for (const auto& x : *f)
    if (x == api::kInstanceFinalizer) return;
  patch.push_back(
      {{"op", "add"}, {"path", "/metadata/finalizers/-"}, {"value", api::kInstanceFinalizer}});
}

}  // namespace

HttpAnswer review(Endpoint endpoint, std::string_view body, const api::AdmissionLookups& lookups) {
  if (body.size() > kMaxReviewBytes) {
    return {
        413,
        json{{"error", "request body over " + std::to_string(kMaxReviewBytes) + " bytes"}}.dump()};
  }
  const json in = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded()) return badRequest("request body is not JSON");
  if (!in.is_object() || stringField(in, "kind") != "AdmissionReview")
    return badRequest("request body is not an AdmissionReview");
  const std::string apiVersion = stringField(in, "apiVersion");
  if (apiVersion != "admission.k8s.io/v1" && apiVersion != "admission.k8s.io/v1beta1")
    return badRequest("unsupported AdmissionReview apiVersion \"" + apiVersion +
                      "\" (want admission.k8s.io/v1 or v1beta1)");
  const json& req = in.contains("request") ? in["request"] : json();
  if (!req.is_object() || !req.contains("uid") || !req["uid"].is_string())
    return badRequest("AdmissionReview has no request.uid");

  try {
    json response = {{"uid", req["uid"]}, {"allowed", true}};
    const std::string op = req.value("operation", "");
    const std::string subResource = req.value("subResource", "");
    // The object's kind: request.kind for the object itself; for a
    // subresource request.kind is the subresource's (autoscaling/v1 Scale),
    // and request.resource names the object's.
    const api::ComputeKind* kind = nullptr;
    if (subResource.empty()) {
      const json& k = req.value("kind", json::object());
      if (k.is_object())
        if (const auto* found = api::findComputeKind(k.value("kind", ""));
            found != nullptr && found->resource.group == k.value("group", ""))
          kind = found;
    } else {
      const json& r = req.value("resource", json::object());
      if (r.is_object())
        kind = api::findComputeResource(r.value("group", ""), r.value("resource", ""));
    }
    if (kind != nullptr) {
      const std::string& kindName = kind->resource.kind;
      const json object = req.value("object", json());
      const json oldObject = req.value("oldObject", json());
      if (endpoint == Endpoint::Mutate) {
        if (subResource.empty() && (op == "CREATE" || op == "UPDATE")) {
          json patch = api::defaultsPatch(kindName, object);
          if (op == "CREATE" && kindName == "Instance") addInstanceFinalizer(object, patch);
          metrics::reviews("/mutate", kindName, op, true).Increment();
          if (patch.is_array() && !patch.empty()) {
            response["patchType"] = "JSONPatch";
            response["patch"] = kube::base64Encode(patch.dump());
          }
        }
      } else if (op == "CREATE" || op == "UPDATE" || op == "DELETE") {
        api::AdmissionInput ai;
        ai.kind = kindName;
        ai.operation = op == "CREATE"   ? api::Operation::Create
                       : op == "UPDATE" ? api::Operation::Update
                                        : api::Operation::Delete;
        ai.object = object;
        ai.oldObject = oldObject;
        ai.subResource = subResource;
        ai.name = req.value("name", "");
        ai.namespace_ = req.value("namespace", "");
        const auto errors = api::validate(ai, api::timeZoneExistsInZoneinfo, lookups);
        metrics::reviews("/validate", kindName, op, errors.empty()).Increment();
        if (!errors.empty()) {
          std::string name = ai.name;
          if (name.empty() && object.is_object() && object.contains("metadata") &&
              object["metadata"].is_object())
            name = object["metadata"].value("name", "");
          response["allowed"] = false;
          response["status"] = denial(*kind, name, errors);
        } else if (auto warnings = api::warnings(ai, lookups); !warnings.empty()) {
          response["warnings"] = std::move(warnings);
        }
      }
    }
    return {200,
            json{{"apiVersion", apiVersion}, {"kind", "AdmissionReview"}, {"response", response}}
                .dump()};
  } catch (const std::exception& e) {
    // validate() and defaultsPatch() do not throw; reaching here means the
    // review itself had a field of an unexpected type.
    return badRequest(std::string("malformed AdmissionReview: ") + e.what());
  }
}

}  // namespace kubec2::webhook
