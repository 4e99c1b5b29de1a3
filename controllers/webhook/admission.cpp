#include "controllers/webhook/admission.h"

#include <exception>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "controllers/webhook/metrics.h"
#include "api/well_known.h"
#include "runtime/base64.h"

namespace kubec2::webhook {
namespace {

using nlohmann::json;

constexpr const char* kGroup = "compute.kubec2.io";

HttpAnswer badRequest(const std::string& cause) {
  return {400, json{{"error", cause}}.dump()};
}

bool isComputeKind(const std::string& kind) {
  return kind == "Instance" || kind == "LaunchTemplate" || kind == "ScalingGroup" ||
         kind == "LoadBalancer";
}

// A denial as the API server words its own validation failures (422
// Invalid with one cause per field, the cause's message without the field),
// so kubectl prints it as it prints a schema error:
//   The ScalingGroup "web" is invalid: spec.minSize: Invalid value: 5: ...
// The message (which the API server prefixes with the webhook's name) is
// what clients without kubectl's cause printing show.
json denial(const std::string& kind, const std::string& name,
            const std::vector<api::FieldError>& errors) {
  json causes = json::array();
  for (const auto& e : errors)
    causes.push_back({{"reason", e.causeType()}, {"message", e.body()}, {"field", e.field}});
  return {{"code", 422},
          {"reason", "Invalid"},
          {"message", api::invalidMessage(kind, name, errors)},
          {"details", {{"group", kGroup}, {"kind", kind}, {"name", name}, {"causes", causes}}}};
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
  patch.push_back({{"op", "add"},
                   {"path", "/metadata/finalizers/-"},
                   {"value", api::kInstanceFinalizer}});
}

}  // namespace

HttpAnswer review(Endpoint endpoint, std::string_view body) {
  if (body.size() > kMaxReviewBytes) {
    return {
        413,
        json{{"error", "request body over " + std::to_string(kMaxReviewBytes) + " bytes"}}.dump()};
  }
  const json in = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded()) return badRequest("request body is not JSON");
  if (!in.is_object() || in.value("kind", "") != "AdmissionReview")
    return badRequest("request body is not an AdmissionReview");
  const std::string apiVersion = in.value("apiVersion", "");
  if (apiVersion != "admission.k8s.io/v1" && apiVersion != "admission.k8s.io/v1beta1")
    return badRequest("unsupported AdmissionReview apiVersion \"" + apiVersion +
                      "\" (want admission.k8s.io/v1 or v1beta1)");
  const json& req = in.contains("request") ? in["request"] : json();
  if (!req.is_object() || !req.contains("uid") || !req["uid"].is_string())
    return badRequest("AdmissionReview has no request.uid");

  try {
    json response = {{"uid", req["uid"]}, {"allowed", true}};
    const json& k = req.value("kind", json::object());
    const std::string kind = k.is_object() ? k.value("kind", "") : "";
    const std::string group = k.is_object() ? k.value("group", "") : "";
    const std::string op = req.value("operation", "");
    if (group == kGroup && isComputeKind(kind)) {
      const json object = req.value("object", json());
      const json oldObject = req.value("oldObject", json());
      if (endpoint == Endpoint::Mutate) {
        if (op == "CREATE" || op == "UPDATE") {
          json patch = api::defaultsPatch(kind, object);
          if (op == "CREATE" && kind == "Instance") addInstanceFinalizer(object, patch);
          metrics::reviews("/mutate", kind, op, true).Increment();
          if (patch.is_array() && !patch.empty()) {
            response["patchType"] = "JSONPatch";
            response["patch"] = kube::base64Encode(patch.dump());
          }
        }
      } else if (op == "CREATE" || op == "UPDATE" || op == "DELETE") {
        api::AdmissionInput ai;
        ai.kind = kind;
        ai.operation = op == "CREATE"   ? api::Operation::Create
                       : op == "UPDATE" ? api::Operation::Update
                                        : api::Operation::Delete;
        ai.object = object;
        ai.oldObject = oldObject;
        const auto errors = api::validate(ai);
        metrics::reviews("/validate", kind, op, errors.empty()).Increment();
        if (!errors.empty()) {
          std::string name = req.value("name", "");
          if (name.empty() && object.is_object() && object.contains("metadata") &&
              object["metadata"].is_object())
            name = object["metadata"].value("name", "");
          response["allowed"] = false;
          response["status"] = denial(kind, name, errors);
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
