// libFuzzer target: the webhook's AdmissionReview handling
// (controllers/webhook/admission.h) and the admission rules behind it
// (api/validation.h), with a view of the cluster that knows a few instance
// types, zones, a LaunchTemplate and a ScalingGroup (shop/web, 1 to 10).
// Input: a request body as the API server would POST it.
// Checks what the headers promise: review() never throws and answers 200
// with the request's uid, 400 or 413, always with a JSON body; validate(),
// defaultsPatch() and warnings() never throw on any JSON, and the patch is
// a JSON array.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "api/validation/lookups.h"
#include "controllers/webhook/admission.h"

namespace {

using nlohmann::json;

const kubec2::api::StaticLookups& lookups() {
  static const kubec2::api::StaticLookups l = [] {
    kubec2::api::StaticLookups s;
    s.instanceTypeNames = {{"m5.large", "m5.xlarge", "c5.large", "t3.micro"}};
    s.nodeZones = {{"zone-a", "zone-b"}};
    s.launchTemplates = {{"shop/web"}};
    s.cachedScalingGroups["shop/web"] = {
        {"apiVersion", "compute.kubec2.io/v1alpha1"},
        {"kind", "ScalingGroup"},
        {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
        {"spec", {{"minSize", 1}, {"maxSize", 10}, {"launchTemplateRef", {{"name", "web"}}}}}};
    return s;
  }();
  return l;
}

void checkAnswer(const kubec2::webhook::HttpAnswer& a, const json& in) {
  const json out = json::parse(a.body, nullptr, false);
  if (out.is_discarded() || !out.is_object()) std::abort();
  if (a.status == 200) {
    if (!out.contains("response") || out["response"].value("uid", json()) != in["request"]["uid"])
      std::abort();
  } else if (a.status != 400 && a.status != 413) {
    std::abort();
  }
}

// The rules on their own, as the review would call them for this request.
void checkRules(const json& in) {
  const json& req = in["request"];
  if (!req.is_object()) return;
  const json kind = req.value("kind", json());
  if (!kind.is_object() || !kind.contains("kind") || !kind["kind"].is_string()) return;
  kubec2::api::AdmissionInput ai;
  ai.kind = kind["kind"].get<std::string>();
  const json op = req.value("operation", json());
  ai.operation = op == "UPDATE"   ? kubec2::api::Operation::Update
                 : op == "DELETE" ? kubec2::api::Operation::Delete
                                  : kubec2::api::Operation::Create;
  ai.object = req.value("object", json());
  ai.oldObject = req.value("oldObject", json());
  if (const json s = req.value("subResource", json()); s.is_string()) ai.subResource = s;
  if (const json n = req.value("name", json()); n.is_string()) ai.name = n;
  if (const json n = req.value("namespace", json()); n.is_string()) ai.namespace_ = n;
  (void)kubec2::api::validate(ai, kubec2::api::timeZoneExistsInZoneinfo, lookups());
  (void)kubec2::api::warnings(ai, lookups());
  if (!kubec2::api::defaultsPatch(ai.kind, ai.object).is_array()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const json in = json::parse(body, nullptr, false);
  for (auto endpoint : {kubec2::webhook::Endpoint::Validate, kubec2::webhook::Endpoint::Mutate}) {
    const kubec2::webhook::HttpAnswer a = kubec2::webhook::review(endpoint, body, lookups());
    if (in.is_discarded() || !in.is_object() || !in.contains("request")) {
      if (a.status != 400 || !json::accept(a.body)) std::abort();
    } else {
      checkAnswer(a, in);
    }
  }
  if (in.is_object() && in.contains("request")) checkRules(in);
  return 0;
}
