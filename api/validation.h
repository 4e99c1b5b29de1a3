// The admission rules of compute.kubec2.io/v1alpha1 that the CRD schemas
// cannot express on Kubernetes 1.20 (no CEL): cross-field bounds, immutable
// launch template versions, unique names and ports, step intervals, cron
// expressions and time zones, references, the bounds of scale subresource
// writes; the defaults that depend on other fields; and warnings for
// accepted values the operator does not know (yet). Pure functions of the
// review and of AdmissionLookups: the webhook (controllers/webhook) calls
// them over HTTPS, and the unit tests call them directly. Every rule is
// stated in the declarations' descriptions ("the webhook refuses ...") and
// in docs/admission-webhook.md.
//
// The rules of each kind are one file of api/validation/ (instance.cpp,
// launch_template.cpp, scaling_group.cpp, load_balancer.cpp, elastic_ip.cpp), listed in
// api/validation/kinds.h; the rules they share are in launch_rules.h and
// common_rules.h; field errors in field_error.h; the PromQL check in promql.h.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/validation/field_error.h"
#include "api/validation/lookups.h"
#include "api/validation/validator.h"

namespace kubec2::api {

enum class Operation { Create, Update, Delete };

struct AdmissionInput {
  std::string kind;  // Instance, LaunchTemplate, ScalingGroup, LoadBalancer, ElasticIP or Snapshot
  Operation operation = Operation::Create;
  nlohmann::json object;     // the new object (null for Delete); for "scale", the Scale
  nlohmann::json oldObject;  // the stored object (Update, Delete); null for Create
  // "" for the object itself, "scale" for its scale subresource (object is
  // then an autoscaling/v1 Scale); reviews of other subresources (status)
  // have no rules.
  std::string subResource{};
  // The request's name and namespace, for objects whose metadata lacks them.
  std::string name{};
  std::string namespace_{};
};

// Whether an IANA time zone name (Europe/Paris) exists: a TZif file under
// $TZDIR or /usr/share/zoneinfo, reached by a plain relative path.
bool timeZoneExistsInZoneinfo(const std::string& name);

// Every rule the input breaks; empty when it is admitted. Never throws on
// any JSON: a value of the wrong shape is itself reported as a FieldError.
// `lookups` answers what the rules need beyond the object (the stored
// ScalingGroup of a scale write); a rule that cannot get its answer
// reports an Internal FieldError rather than guess.
std::vector<FieldError> validate(const AdmissionInput& in,
                                 const TimeZoneExists& tz = timeZoneExistsInZoneinfo,
                                 const AdmissionLookups& lookups = noLookups());

// The defaults the schema cannot express (they depend on other fields), as
// an RFC 6902 JSON Patch against `object`; an empty array when there are
// none, and on any JSON it cannot read (defaults never fail a request).
nlohmann::json defaultsPatch(const std::string& kind, const nlohmann::json& object);

// Warnings for an admitted CREATE or UPDATE, as kubectl prints them
// ("Warning: spec.instanceType: ..."): values the operator does not know,
// per `lookups`. Nothing that `lookups` does not know yet, and on UPDATE
// only warnings the stored object did not already earn, so that a
// controller's metadata write or an unrelated change does not repeat them.
// Never throws.
std::vector<std::string> warnings(const AdmissionInput& in, const AdmissionLookups& lookups);

}  // namespace kubec2::api
