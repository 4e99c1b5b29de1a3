// Rules every kind shares: label selectors as Kubernetes checks its own,
// and references that stay in the object's namespace.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "api/v1alpha1/types.h"
#include "api/validation/validator.h"

namespace kubec2::api::validation {

// metav1validation.ValidateLabelSelector's operator rules: In and NotIn
// need values, Exists and DoesNotExist take none.
void checkSelector(Context& c, const std::string& path, const v1alpha1::LabelSelector& s);

// Every member of `j` (at `path`) that names another object (a key ending
// in Ref or Refs, pvc, certificate, keyPair) with a `namespace` other than
// the object's own is Invalid: kubec2 objects refer only to their own
// namespace, as a Pod's references do. The schema has no such member, so
// the API server prunes it; this serves callers that skip the schema. The
// walk stops 32 levels deep, so deep JSON stays cheap.
void checkReferenceNamespaces(Context& c, const nlohmann::json& j, const std::string& path);

// An object whose Service takes its name (LoadBalancer, ElasticIP) must
// have a name that is a DNS-1035 label: a lower-case letter first, then
// letters, digits and '-', at most 63 characters (Kubernetes'
// apimachinery validation of Service names). Refused at admission, not
// when the Service is written. `kind` names it in the message.
void checkServiceName(Context& c, const std::string& kind);

}  // namespace kubec2::api::validation
