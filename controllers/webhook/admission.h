// The AdmissionReview envelope (admission.k8s.io/v1 and v1beta1) around the
// compute API's rules (api/validation.h): request body in, HTTP status and
// response body out. No HTTP server here, so the envelope is unit-tested
// without sockets; webhook_server.cpp serves it.
#pragma once

#include <string>
#include <string_view>

#include "api/validation/lookups.h"

namespace kubec2::webhook {

// The largest request body accepted. The API server caps an object at
// 1.5 MiB (etcd's request limit) and a review carries the object and its old
// version, so 4 MiB fits every real review; more is refused unread.
inline constexpr size_t kMaxReviewBytes = 4 * 1024 * 1024;

enum class Endpoint { Validate, Mutate };

struct HttpAnswer {
  int status = 200;
  std::string body;  // JSON
};

// Answers one review. A body that is not an AdmissionReview (not JSON, no
// request.uid, an unknown apiVersion) gets 400 with {"error": cause}; a kind
// outside compute.kubec2.io/v1alpha1 (api/validation/kinds.h) is allowed
// untouched (the webhook configurations do not send others, so this is
// only a safety net). /validate also reviews the scale subresource
// (request.subResource "scale", an autoscaling/v1 Scale), and answers an
// admitted object's warnings (response.warnings, which kubectl prints as
// "Warning: ..."); `lookups` is the view of the cluster both need.
// Never throws.
HttpAnswer review(Endpoint endpoint, std::string_view body,
                  const api::AdmissionLookups& lookups = api::noLookups());

}  // namespace kubec2::webhook
