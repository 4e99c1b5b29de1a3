#include "runtime/json_scan.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/object.h"

namespace kube {
namespace {

using jsonscan::forEachElement;
using jsonscan::forEachMember;
using jsonscan::Member;

std::vector<std::string> keys(std::string_view text, bool* ok = nullptr) {
  std::vector<std::string> out;
  bool r = forEachMember(text, [&](const Member& m) {
    out.emplace_back(m.key);
    return true;
  });
  if (ok) *ok = r;
  return out;
}

TEST(JsonScan, MembersAndValuesSpanStringsWithBracketsAndEscapes) {
  const std::string text =
      R"( {"a": "x}\"]{", "b" :{"c":[1,{"d":"]"}]}, "n":-1.5e3,"t":true , "z":null} )";
  std::vector<std::pair<std::string, std::string>> got;
  ASSERT_TRUE(forEachMember(text, [&](const Member& m) {
    got.emplace_back(m.key, m.value);
    return true;
  }));
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"a", R"("x}\"]{")"},
                                                                   {"b", R"({"c":[1,{"d":"]"}]})"},
                                                                   {"n", "-1.5e3"},
                                                                   {"t", "true"},
                                                                   {"z", "null"}}));
}

TEST(JsonScan, QuotesAfterRunsOfBackslashes) {
  // An even run of backslashes before a quote ends the string; an odd run escapes it.
  const std::string text = R"({"a":"x\\","b":"q\\\"}","c":"\\\\"})";
  std::vector<std::string> values;
  ASSERT_TRUE(forEachMember(text, [&](const Member& m) {
    values.emplace_back(m.value);
    return true;
  }));
  EXPECT_EQ(values, (std::vector<std::string>{R"("x\\")", R"("q\\\"}")", R"("\\\\")"}));
  for (const auto& v : values) EXPECT_TRUE(nlohmann::json::parse(v).is_string()) << v;
}

TEST(JsonScan, ElementsOfAnArray) {
  std::vector<std::string> got;
  ASSERT_TRUE(forEachElement(R"([{"a":1}, "s,]", 3 ,[]])", [&](std::string_view v) {
    got.emplace_back(v);
    return true;
  }));
  EXPECT_EQ(got, (std::vector<std::string>{R"({"a":1})", R"("s,]")", "3", "[]"}));
  EXPECT_TRUE(forEachElement("[ ]", [](std::string_view) { return true; }));
}

TEST(JsonScan, StopsEarlyWhenTheCallbackSaysSo) {
  int seen = 0;
  EXPECT_TRUE(forEachElement("[1,2,3]", [&](std::string_view) { return ++seen < 2; }));
  EXPECT_EQ(seen, 2);
}

TEST(JsonScan, MalformedTextIsRefusedNotOverrun) {
  for (const char* bad : {"", "{", "{\"a\"", "{\"a\":}", "{\"a\":1,}", "{\"a\":1", "{\"a\":\"x}",
                          "{\"a\":[1,2}", "{\"a\":1} trailing", "{a:1}", "not json"}) {
    bool ok = true;
    keys(bad, &ok);
    EXPECT_FALSE(ok) << bad;
  }
  for (const char* bad : {"", "[", "[1,2", "[1 2]", "[1,]", "[\"x]", "[{]"}) {
    EXPECT_FALSE(forEachElement(bad, [](std::string_view) { return true; })) << bad;
  }
}

TEST(JsonScan, WithoutNestedMemberKeepsTheRestValidAndEqual) {
  const nlohmann::json obj = {
      {"apiVersion", "v1"},
      {"metadata", {{"managedFields", {{{"manager", "x"}}}}, {"name", "n"}, {"uid", "u"}}},
      {"spec", {{"managedFields", "not metadata's"}}}};
  for (const char* drop : {"managedFields", "name", "uid"}) {
    auto cut = jsonscan::withoutNestedMember(obj.dump(), "metadata", drop);
    ASSERT_TRUE(cut.has_value()) << drop;
    nlohmann::json expected = obj;
    expected["metadata"].erase(drop);
    EXPECT_EQ(nlohmann::json::parse(*cut), expected) << *cut;
  }
  const std::string only = R"({"metadata":{"managedFields":[]}})";
  EXPECT_EQ(
      nlohmann::json::parse(*jsonscan::withoutNestedMember(only, "metadata", "managedFields")),
      nlohmann::json::parse(R"({"metadata":{}})"));
  EXPECT_FALSE(jsonscan::withoutNestedMember(only, "metadata", "absent").has_value());
  EXPECT_FALSE(jsonscan::withoutNestedMember(only, "spec", "managedFields").has_value());
}

TEST(RawObjectFromText, MatchesFromJsonOnTheSameObject) {
  nlohmann::json j = {
      {"apiVersion", "test.kubec2.io/v1"},
      {"kind", "Widget"},
      {"metadata",
       {{"name", "w"},
        {"namespace", "ns"},
        {"resourceVersion", "42"},
        {"labels", {{"app", "web"}}},
        {"managedFields", {{{"manager", "kubectl"}, {"fieldsV1", {{"f:spec", {}}}}}}}}},
      {"spec", {{"text", "braces { and \"quotes\""}}}};
  RawObject a = RawObject::fromJson(j);
  RawObject b = RawObject::fromText(j.dump());
  EXPECT_EQ(b.apiVersion, "test.kubec2.io/v1");
  EXPECT_EQ(b.kind, "Widget");
  EXPECT_EQ(b.metadata.key(), "ns/w");
  EXPECT_EQ(b.metadata.resourceVersion, "42");
  EXPECT_EQ(b.metadata.labels, a.metadata.labels);
  EXPECT_EQ(b.toJson(), a.toJson());
  EXPECT_FALSE(b.toJson()["metadata"].contains("managedFields"));
}

TEST(RawObjectFromText, GarbageThrowsInvalidArgument) {
  EXPECT_THROW(RawObject::fromText("{\"metadata\": "), std::invalid_argument);
  EXPECT_THROW(RawObject::fromText("{\"metadata\": [1]}"), std::invalid_argument);
  EXPECT_THROW(RawObject::fromText("not json"), std::invalid_argument);
}

}  // namespace
}  // namespace kube
