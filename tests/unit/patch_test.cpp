#include "runtime/patch.h"

#include <gtest/gtest.h>

namespace kube {
namespace {

using nlohmann::json;

TEST(MergePatch, ChangedAddedAndRemovedFields) {
  json a = {{"spec", {{"replicas", 1}, {"image", "a"}, {"old", true}}}, {"keep", 1}};
  json b = {{"spec", {{"replicas", 3}, {"image", "a"}, {"new", "x"}}}, {"keep", 1}};
  json p = createMergePatch(a, b);
  EXPECT_EQ(p, json({{"spec", {{"replicas", 3}, {"old", nullptr}, {"new", "x"}}}}));
  // Applying the patch gives the modified object: the property users rely on.
  json applied = a;
  applied.merge_patch(p);
  EXPECT_EQ(applied, b);
}

TEST(MergePatch, ArraysAreReplacedWhole) {
  json a = {{"metadata", {{"finalizers", {"a", "b"}}}}};
  json b = {{"metadata", {{"finalizers", {"a"}}}}};
  EXPECT_EQ(createMergePatch(a, b), json({{"metadata", {{"finalizers", {"a"}}}}}));
}

TEST(MergePatch, NoChangeIsEmpty) {
  json a = {{"x", {{"y", 1}}}};
  EXPECT_TRUE(createMergePatch(a, a).empty());
}

TEST(JsonPatch, GuardTestsResourceVersionFirst) {
  json a = {{"metadata", {{"resourceVersion", "42"}, {"labels", {{"a", "1"}}}}}};
  json b = a;
  b["metadata"]["labels"]["b"] = "2";
  json p = createJsonPatch(a, b, true);
  ASSERT_GE(p.size(), 2u);
  EXPECT_EQ(p[0], json({{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", "42"}}));
  EXPECT_EQ(a.patch(p), b);
}

}  // namespace
}  // namespace kube
