// One validator per kind, after controller-runtime's CustomValidator and
// CustomDefaulter (pkg/webhook/admission/validator_custom.go,
// defaulter_custom.go): create, update and delete rules, defaults, and
// warnings, each a pure function of the review and of AdmissionLookups.
// Each kind's validator is one file of this folder, listed once in
// kinds.h; api/validation.h is the entry point that dispatches to them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"
#include "api/validation/field_error.h"
#include "api/validation/lookups.h"

namespace kubec2::api {

// Whether an IANA time zone name (Europe/Paris) exists.
using TimeZoneExists = std::function<bool(const std::string&)>;

namespace validation {

// The rules read JSON of any shape, and decode it into the generated types.
using json = nlohmann::json;
namespace v1 = v1alpha1;

// What a rule sees besides the spec, and where it reports.
struct Context {
  const nlohmann::json& root;  // the whole object under review, for values in type errors
  std::string namespace_;      // its metadata.namespace (a subresource's: the request's)
  std::string name;            // its metadata.name (a subresource's: the request's)
  const TimeZoneExists& tz;
  const AdmissionLookups& lookups;
  Errors errs;  // every broken rule, in the order found
};

// A warning for kubectl ("Warning: ..."): accepted, but probably not what
// the user meant. Field path first, as a field error.
using Warnings = std::vector<std::string>;

// Each method reports through its arguments and should not throw on any
// JSON; should one throw all the same, api/validation.h turns it into a
// field error (validate) or nothing (defaultsPatch, warnings), so a request
// never fails on an exception. Implementations hold no state: one instance
// serves every request thread.
class KindValidator {
 public:
  virtual ~KindValidator() = default;

  // CREATE: `spec` is the new object's spec (present, of any JSON shape).
  virtual void validateCreate(Context& c, const nlohmann::json& spec) const = 0;
  // UPDATE that changes the spec (one that does not is never refused):
  // `oldSpec` is the stored spec, of any shape, or nullptr when the stored
  // object has none.
  virtual void validateUpdate(Context& c, const nlohmann::json& spec,
                              const nlohmann::json* oldSpec) const = 0;
  // DELETE: `oldObject` is the stored object, of any shape. Nothing is
  // refused unless a kind says so.
  virtual void validateDelete(Context& /*c*/, const nlohmann::json& /*oldObject*/) const {}
  // UPDATE of the scale subresource: `scale` is the autoscaling/v1 Scale
  // written, whose spec.replicas sets the kind's specReplicasPath. Only
  // kinds declaring a scale subresource get one.
  virtual void validateScale(Context& /*c*/, const nlohmann::json& /*scale*/) const {}
  // The defaults the schema cannot express (they depend on other fields),
  // appended to `patch` as RFC 6902 operations against the object; `spec`
  // is an object. Never overwrites a value the user set.
  virtual void defaults(const nlohmann::json& /*spec*/, nlohmann::json& /*patch*/) const {}
  // Accepted-but-suspicious values of `spec` (an object, possibly of a
  // wrong shape) in namespace `ns`, checked against what the operator
  // knows; nothing when it knows nothing yet.
  virtual void warnings(const nlohmann::json& /*spec*/, const std::string& /*ns*/,
                        const AdmissionLookups& /*lookups*/, Warnings& /*out*/) const {}
};

// The one instance of validator class V, for the table of kinds (kinds.cpp).
template <typename V>
const KindValidator& theValidator() {
  static const V v;
  return v;
}

}  // namespace validation
}  // namespace kubec2::api
