// Field errors read as Kubernetes' field.Error and apierrors.NewInvalid
// (api/validation/field_error.h).
#include "api/validation/field_error.h"

#include <gtest/gtest.h>

namespace kubec2::api {
namespace {

using Type = FieldError::Type;

TEST(ValidationMessages, FieldErrorReadsAsKubernetesFieldError) {
  EXPECT_EQ(
      (FieldError{Type::Invalid, "spec.minSize", 5, "must be at most spec.maxSize (3)"}.message()),
      "spec.minSize: Invalid value: 5: must be at most spec.maxSize (3)");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", "a\"b\\\n\x01", "bad"}.message()),
            "spec.x: Invalid value: \"a\\\"b\\\\\\n\\x01\": bad");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", 0.1, "d"}.message()),
            "spec.x: Invalid value: 0.1: d");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", true, "d"}.message()),
            "spec.x: Invalid value: true: d");
  EXPECT_EQ((FieldError{Type::Invalid, "spec.x", nullptr, "d"}.message()),
            "spec.x: Invalid value: \"null\": d");
  EXPECT_EQ((FieldError{Type::Required, "spec.image", nullptr, "set it"}.message()),
            "spec.image: Required value: set it");
  EXPECT_EQ((FieldError{Type::Required, "spec", nullptr, ""}.message()), "spec: Required value");
  EXPECT_EQ((FieldError{Type::Forbidden, "spec.x", nullptr, "not here"}.message()),
            "spec.x: Forbidden: not here");
  EXPECT_EQ((FieldError{Type::Duplicate, "spec.a[1].name", "web", ""}.message()),
            "spec.a[1].name: Duplicate value: \"web\"");
  EXPECT_EQ((FieldError{Type::NotFound, "spec.g", "api", "must name a group"}.message()),
            "spec.g: Not found: \"api\": must name a group");
}

TEST(ValidationMessages, CauseTypesAreMetav1CauseTypes) {
  EXPECT_EQ((FieldError{Type::Invalid, "", nullptr, ""}.causeType()), "FieldValueInvalid");
  EXPECT_EQ((FieldError{Type::Required, "", nullptr, ""}.causeType()), "FieldValueRequired");
  EXPECT_EQ((FieldError{Type::Forbidden, "", nullptr, ""}.causeType()), "FieldValueForbidden");
  EXPECT_EQ((FieldError{Type::Duplicate, "", nullptr, ""}.causeType()), "FieldValueDuplicate");
  EXPECT_EQ((FieldError{Type::NotFound, "", nullptr, ""}.causeType()), "FieldValueNotFound");
}

TEST(ValidationMessages, InvalidMessageAsTheApiServerWordsIt) {
  const FieldError a{Type::Invalid, "spec.minSize", 6, "too big"};
  const FieldError b{Type::Required, "spec.x", nullptr, ""};
  EXPECT_EQ(invalidMessage("ScalingGroup", "web", {a}),
            "ScalingGroup.compute.kubec2.io \"web\" is invalid: spec.minSize: Invalid value: 6: "
            "too big");
  EXPECT_EQ(invalidMessage("ScalingGroup", "web", {a, b}),
            "ScalingGroup.compute.kubec2.io \"web\" is invalid: [spec.minSize: Invalid value: 6: "
            "too big, spec.x: Required value]");
  // The same message twice is said once, and then without brackets.
  EXPECT_EQ(invalidMessage("Instance", "web-1", {b, b}),
            "Instance.compute.kubec2.io \"web-1\" is invalid: spec.x: Required value");
  EXPECT_EQ(invalidMessage("Instance", "a\"b", {a, b, a}),
            "Instance.compute.kubec2.io \"a\\\"b\" is invalid: [spec.minSize: Invalid value: 6: "
            "too big, spec.x: Required value]");
}

}  // namespace
}  // namespace kubec2::api
