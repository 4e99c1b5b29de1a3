// The admission rules of compute.kubec2.io/v1alpha1 that the CRD schemas
// cannot express on Kubernetes 1.20 (no CEL): cross-field bounds, immutable
// launch template versions, unique names and ports, step intervals, cron
// expressions and time zones, references. Pure functions of the objects: the
// webhook (controllers/webhook) calls them over HTTPS, and the unit tests call
// them directly. Every rule is stated in the declarations' descriptions
// ("the webhook refuses ...").
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubec2::api {

// One broken rule, in the shape of Kubernetes' field.Error so that kubectl
// users read the same thing as for the API server's own validation:
//   spec.minSize: Invalid value: 5: must be at most spec.maxSize (3)
struct FieldError {
  enum class Type { Invalid, Required, Forbidden, Duplicate, NotFound };
  Type type = Type::Invalid;
  std::string field;     // JSON path: spec.listeners[1].port
  nlohmann::json value;  // the offending value (Invalid, Duplicate, NotFound); null otherwise
  std::string detail;    // the rule, in words

  // "spec.x: Invalid value: 5: detail", "spec.x: Required value: detail", ...
  std::string message() const;
  // The message without the field: "Invalid value: 5: detail" (the message
  // of a metav1.StatusCause, whose field is separate).
  std::string body() const;
  // "FieldValueInvalid", "FieldValueRequired", ... (metav1.CauseType)
  std::string causeType() const;
};

enum class Operation { Create, Update, Delete };

struct AdmissionInput {
  std::string kind;  // Instance, LaunchTemplate, ScalingGroup or LoadBalancer
  Operation operation = Operation::Create;
  nlohmann::json object;     // the new object (null for Delete)
  nlohmann::json oldObject;  // the stored object (Update, Delete); null for Create
};

// Whether an IANA time zone name (Europe/Paris) exists. The default looks in
// $TZDIR or /usr/share/zoneinfo.
using TimeZoneExists = std::function<bool(const std::string&)>;
bool timeZoneExistsInZoneinfo(const std::string& name);

// Every rule the input breaks; empty when it is admitted. Never throws on
// any JSON: a value of the wrong shape is itself reported as a FieldError.
std::vector<FieldError> validate(const AdmissionInput& in,
                                 const TimeZoneExists& tz = timeZoneExistsInZoneinfo);

// The defaults the schema cannot express (they depend on other fields), as
// an RFC 6902 JSON Patch against `object`; an empty array when there are none.
nlohmann::json defaultsPatch(const std::string& kind, const nlohmann::json& object);

// The message the webhook answers with, as the API server words its own:
//   ScalingGroup.compute.kubec2.io "web" is invalid: [spec.minSize: ..., spec.x: ...]
std::string invalidMessage(const std::string& kind, const std::string& name,
                           const std::vector<FieldError>& errors);

}  // namespace kubec2::api
