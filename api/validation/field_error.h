// Field errors in the shape of Kubernetes' field.Error
// (k8s.io/apimachinery/pkg/util/validation/field), so that a kubectl user
// reads a webhook refusal exactly as the API server's own validation:
//   spec.minSize: Invalid value: 5: must be less than or equal to spec.maxSize (3)
// Also the pieces every rule uses to build one: JSON paths as field.Path
// writes them (spec.listeners[1].port), values formatted as Go's %v and %q
// print them, and decoding into the generated types with a shape mismatch
// turned into a FieldError instead of an exception.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/codec.h"

namespace kubec2::api {

// One broken rule.
struct FieldError {
  // field.ErrorType, those the rules use. Internal: the rule could not be
  // decided (a lookup failed), as field.InternalError.
  enum class Type { Invalid, Required, Forbidden, Duplicate, NotFound, Internal };
  Type type = Type::Invalid;
  std::string field;     // JSON path: spec.listeners[1].port; empty for the object itself
  nlohmann::json value;  // the offending value (Invalid, Duplicate, NotFound); null otherwise
  std::string detail;    // the rule, in words

  // "spec.x: Invalid value: 5: detail", "spec.x: Required value: detail", ...
  std::string message() const;
  // The message without the field: "Invalid value: 5: detail" (the message
  // of a metav1.StatusCause, whose field is separate).
  std::string body() const;
  // "FieldValueInvalid", "FieldValueRequired", ... (metav1.CauseType);
  // "InternalError" for Internal.
  std::string causeType() const;
};

// The message the webhook answers with, as apierrors.NewInvalid words the
// API server's own (duplicates said once, brackets around two or more):
//   ScalingGroup.compute.kubec2.io "web" is invalid: [spec.minSize: ..., spec.x: ...]
std::string invalidMessage(const std::string& kind, const std::string& name,
                           const std::vector<FieldError>& errors);

namespace validation {

using Errors = std::vector<FieldError>;

// Builders, one per field.ErrorType (field.Invalid, field.Required, ...).
FieldError invalid(std::string field, nlohmann::json value, std::string detail);
FieldError required(std::string field, std::string detail);
FieldError forbidden(std::string field, std::string detail);
FieldError duplicate(std::string field, nlohmann::json value);
FieldError notFound(std::string field, nlohmann::json value, std::string detail);
FieldError internalError(std::string field, std::string detail);

// path[i], as field.Path.Index.
std::string at(const std::string& path, size_t i);
// An integer in a rule's words.
std::string num(std::int64_t v);
// A double as Go's %v prints a float64 (shortest form: 0.1, 10.5, 1e+21).
std::string formatNumber(double d);
// A string as Go's %q quotes it ("a\"b\n"), as field.Error prints values.
std::string goQuote(std::string_view s);

// The FieldError for a shape mismatch found while decoding `root` (its
// value is looked up at the error's path, so the message shows it).
FieldError fromTypeError(const ApiTypeError& e, const nlohmann::json& root);

// `j` (found at `path` of `root`) decoded as T, a generated API type; a
// shape mismatch is appended to `errs` as a FieldError and gives nullopt.
template <typename T>
std::optional<T> decode(const nlohmann::json& j, const std::string& path,
                        const nlohmann::json& root, Errors& errs) {
  try {
    return T::fromJson(j, path);
  } catch (const ApiTypeError& e) {
    errs.push_back(fromTypeError(e, root));
  } catch (const std::exception& e) {
    errs.push_back(invalid(path, nullptr, e.what()));
  }
  return std::nullopt;
}

// The same for a stored object, whose shape problems are not the user's to
// fix now: nullopt without an error.
template <typename T>
std::optional<T> decodeQuietly(const nlohmann::json& j, const std::string& path) {
  Errors ignored;
  return decode<T>(j, path, j, ignored);
}

}  // namespace validation
}  // namespace kubec2::api
