// Building patch bodies from two versions of an object.
#pragma once

#include <nlohmann/json.hpp>

namespace kube {

// RFC 7386 JSON merge patch that turns `original` into `modified`: changed
// and new fields as they are, removed fields as null, arrays replaced whole.
// Empty object when nothing changed.
nlohmann::json createMergePatch(const nlohmann::json& original, const nlohmann::json& modified);

// RFC 6902 JSON patch; with `guardResourceVersion`, the first operation tests
// metadata.resourceVersion so the patch fails with 422/409 on a stale base
// instead of silently overwriting a concurrent change.
nlohmann::json createJsonPatch(const nlohmann::json& original, const nlohmann::json& modified,
                               bool guardResourceVersion = false);

}  // namespace kube
