#include "runtime/selector.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace kube {
namespace {

using Labels = std::map<std::string, std::string>;

// The message of the std::invalid_argument thrown by parse, or "" if none.
std::string parseError(std::string_view text) {
  try {
    LabelSelector::parse(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

std::string jsonError(const nlohmann::json& j) {
  try {
    LabelSelector::fromJson(j);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(LabelSelector, EmptyMatchesEverything) {
  for (const char* text : {"", "   "}) {
    auto s = LabelSelector::parse(text);
    EXPECT_TRUE(s.empty());
    EXPECT_TRUE(s.matches({}));
    EXPECT_TRUE(s.matches({{"a", "b"}}));
    EXPECT_EQ(s.toString(), "");
  }
}

TEST(LabelSelector, Equals) {
  for (const char* text : {"app=web", "app==web", " app = web ", "app == web"}) {
    auto s = LabelSelector::parse(text);
    EXPECT_TRUE(s.matches({{"app", "web"}})) << text;
    EXPECT_TRUE(s.matches({{"app", "web"}, {"other", "x"}})) << text;
    EXPECT_FALSE(s.matches({{"app", "db"}})) << text;
    EXPECT_FALSE(s.matches({})) << text;
    EXPECT_EQ(s.toString(), "app=web") << text;
  }
}

TEST(LabelSelector, NotEqualsAlsoMatchesAbsentLabel) {
  auto s = LabelSelector::parse("env!=dev");
  EXPECT_FALSE(s.matches({{"env", "dev"}}));
  EXPECT_TRUE(s.matches({{"env", "prod"}}));
  EXPECT_TRUE(s.matches({}));
  EXPECT_EQ(s.toString(), "env!=dev");
}

TEST(LabelSelector, In) {
  auto s = LabelSelector::parse("tier in (web, db)");
  EXPECT_TRUE(s.matches({{"tier", "web"}}));
  EXPECT_TRUE(s.matches({{"tier", "db"}}));
  EXPECT_FALSE(s.matches({{"tier", "cache"}}));
  EXPECT_FALSE(s.matches({}));
  EXPECT_EQ(s.toString(), "tier in (db,web)");  // values sorted, as Kubernetes prints them
}

TEST(LabelSelector, NotIn) {
  auto s = LabelSelector::parse("tier notin (web,db)");
  EXPECT_FALSE(s.matches({{"tier", "web"}}));
  EXPECT_FALSE(s.matches({{"tier", "db"}}));
  EXPECT_TRUE(s.matches({{"tier", "cache"}}));
  EXPECT_TRUE(s.matches({}));
  EXPECT_EQ(s.toString(), "tier notin (db,web)");
}

TEST(LabelSelector, ExistsAndDoesNotExist) {
  auto exists = LabelSelector::parse("gpu");
  EXPECT_TRUE(exists.matches({{"gpu", ""}}));
  EXPECT_TRUE(exists.matches({{"gpu", "a100"}}));
  EXPECT_FALSE(exists.matches({{"cpu", "x"}}));
  auto absent = LabelSelector::parse("! gpu");
  EXPECT_FALSE(absent.matches({{"gpu", ""}}));
  EXPECT_TRUE(absent.matches({{"cpu", "x"}}));
  EXPECT_EQ(absent.toString(), "!gpu");
}

TEST(LabelSelector, EmptyValues) {
  auto s = LabelSelector::parse("a=,b");
  EXPECT_TRUE(s.matches({{"a", ""}, {"b", "x"}}));
  EXPECT_FALSE(s.matches({{"a", "x"}, {"b", "x"}}));
  EXPECT_EQ(s.toString(), "a=,b");
  // An element left empty in a list is the empty value, as in Kubernetes.
  auto list = LabelSelector::parse("a in (x,)");
  EXPECT_TRUE(list.matches({{"a", ""}}));
  EXPECT_TRUE(list.matches({{"a", "x"}}));
  EXPECT_EQ(list.toString(), "a in (,x)");
}

TEST(LabelSelector, AllRequirementsMustHold) {
  auto s = LabelSelector::parse("app=web,tier in (fe,be),!canary,region,env!=dev");
  Labels ok{{"app", "web"}, {"tier", "fe"}, {"region", "eu"}};
  EXPECT_TRUE(s.matches(ok));
  for (auto [k, v] : std::map<std::string, std::string>{
           {"app", "db"}, {"tier", "x"}, {"canary", "1"}, {"env", "dev"}}) {
    Labels bad = ok;
    bad[k] = v;
    EXPECT_FALSE(s.matches(bad)) << k << "=" << v;
  }
  Labels noRegion = ok;
  noRegion.erase("region");
  EXPECT_FALSE(s.matches(noRegion));
}

TEST(LabelSelector, PrefixedKeysAndPunctuation) {
  auto s = LabelSelector::parse("app.kubernetes.io/name=my-app_1.0,example.com/x in (A.b,c-d)");
  EXPECT_TRUE(s.matches({{"app.kubernetes.io/name", "my-app_1.0"}, {"example.com/x", "A.b"}}));
  EXPECT_EQ(s.requirements().size(), 2u);
}

TEST(LabelSelector, KeywordsAreValidValues) {
  auto s = LabelSelector::parse("a=in,b in (notin)");
  EXPECT_TRUE(s.matches({{"a", "in"}, {"b", "notin"}}));
}

TEST(LabelSelector, ToStringRoundTrip) {
  for (const char* text : {"a=b", "a!=b", "a in (x,y)", "a notin (x,y,z)", "a", "!a",
                           "a=", "a in (,x)", "x/y=z,a.b/c in (1,2),!d,e,f!=g", "b=2,a=1,a!=3"}) {
    auto once = LabelSelector::parse(text);
    auto twice = LabelSelector::parse(once.toString());
    EXPECT_EQ(twice.toString(), once.toString()) << text;
    EXPECT_EQ(twice.requirements().size(), once.requirements().size()) << text;
  }
  // Sorted by key (stable for repeated keys), so equal selectors print alike.
  EXPECT_EQ(LabelSelector::parse("b=2, a=1, a!=3").toString(), "a=1,a!=3,b=2");
  EXPECT_EQ(LabelSelector::parse("a in (y,x,y)").toString(), "a in (x,y)");
}

TEST(LabelSelector, ParseErrorsNamePositionAndCause) {
  EXPECT_EQ(parseError("a in x"),
            "label selector \"a in x\": expected '(' after 'in' at position 5");
  EXPECT_EQ(parseError("a notin"),
            "label selector \"a notin\": expected '(' after 'notin' at position 7");
  EXPECT_EQ(parseError("a in ()"),
            "label selector \"a in ()\": the value list of 'in' must not be empty at position 6");
  EXPECT_EQ(parseError("a in (x"),
            "label selector \"a in (x\": expected ',' or ')' in the value list at position 7");
  EXPECT_EQ(parseError("a in (x y)"),
            "label selector \"a in (x y)\": expected ',' or ')' in the value list at position 8");
  EXPECT_EQ(parseError("a,"),
            "label selector \"a,\": expected a requirement after ',' at position 2");
  EXPECT_EQ(parseError(",a"), "label selector \",a\": expected a label key or '!' at position 0");
  EXPECT_EQ(parseError("!"), "label selector \"!\": expected a label key after '!' at position 1");
  EXPECT_EQ(parseError("a=b c"),
            "label selector \"a=b c\": expected ',' or end of selector at position 4");
  EXPECT_EQ(parseError("a=b=c"),
            "label selector \"a=b=c\": expected ',' or end of selector at position 3");
  EXPECT_EQ(parseError("a=(b)"),
            "label selector \"a=(b)\": expected a value after '=' at position 2");
  EXPECT_EQ(parseError("a>1"),
            "label selector \"a>1\": operator '>' is not supported in label selectors at "
            "position 1");
  EXPECT_EQ(parseError("!a=b"),
            "label selector \"!a=b\": expected ',' or end of selector at position 2");
  EXPECT_NE(parseError("a b").find("after key 'a' at position 2"), std::string::npos)
      << parseError("a b");
}

TEST(LabelSelector, ValidatesKeysAndValues) {
  const std::string name63(63, 'a');
  const std::string prefix253 = std::string(249, 'p') + ".com";
  EXPECT_EQ(parseError(name63 + "=" + name63), "");
  EXPECT_EQ(parseError(prefix253 + "/" + name63), "");
  EXPECT_EQ(parseError("A_b-c.D"), "");  // upper case is fine in the name part

  EXPECT_NE(parseError(name63 + "a").find("63 characters"), std::string::npos);
  EXPECT_NE(parseError("a=" + name63 + "a").find("invalid label value"), std::string::npos);
  EXPECT_NE(parseError("p" + prefix253 + "/a").find("253 characters"), std::string::npos);
  EXPECT_NE(parseError("-a").find("invalid label key \"-a\""), std::string::npos);
  EXPECT_NE(parseError("a-").find("begin and end with an alphanumeric"), std::string::npos);
  EXPECT_NE(parseError("a=b-").find("invalid label value \"b-\""), std::string::npos);
  EXPECT_NE(parseError("a@b").find("found '@'"), std::string::npos);
  EXPECT_NE(parseError("Example.com/a").find("prefix must be a DNS subdomain"), std::string::npos);
  EXPECT_NE(parseError("a..b/c").find("prefix"), std::string::npos);
  EXPECT_NE(parseError("/a").find("prefix before '/' must not be empty"), std::string::npos);
  EXPECT_NE(parseError("a/").find("name part must not be empty"), std::string::npos);
  EXPECT_NE(parseError("a/b/c").find("at most one '/'"), std::string::npos);
  EXPECT_NE(parseError("x, a=b/c").find("at position 5"), std::string::npos);

  EXPECT_EQ(labelKeyError("k8s.io/app"), "");
  EXPECT_EQ(labelValueError(""), "");
  EXPECT_NE(labelValueError("a b"), "");
}

TEST(LabelSelector, FromJsonMatchLabelsAndExpressions) {
  auto j = nlohmann::json::parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["fe", "be"]},
      {"key": "env", "operator": "NotIn", "values": ["dev"]},
      {"key": "region", "operator": "Exists"},
      {"key": "canary", "operator": "DoesNotExist", "values": []}
    ]})");
  auto s = LabelSelector::fromJson(j);
  EXPECT_EQ(s.toString(), "app=web,!canary,env!=dev,region,tier in (be,fe)");
  EXPECT_TRUE(s.matches({{"app", "web"}, {"tier", "fe"}, {"region", "eu"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "fe"}, {"region", "eu"}, {"env", "dev"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "fe"}, {"region", "eu"}, {"canary", "y"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "fe"}}));
  EXPECT_FALSE(s.matches({{"app", "db"}, {"tier", "fe"}, {"region", "eu"}}));
  // The string form means the same thing.
  EXPECT_EQ(LabelSelector::parse(s.toString()).toString(), s.toString());
}

TEST(LabelSelector, FromJsonEmptyAndNull) {
  EXPECT_TRUE(LabelSelector::fromJson(nlohmann::json()).empty());
  EXPECT_TRUE(LabelSelector::fromJson(nlohmann::json::object()).empty());
  EXPECT_TRUE(
      LabelSelector::fromJson({{"matchLabels", nullptr}, {"matchExpressions", nullptr}}).empty());
}

TEST(LabelSelector, FromJsonErrorsNameTheField) {
  using nlohmann::json;
  EXPECT_EQ(jsonError(json::array()), "label selector: expected an object, got array");
  EXPECT_EQ(jsonError({{"matchLabels", {{"a", 1}}}}),
            "label selector: matchLabels[\"a\"]: expected a string, got number");
  EXPECT_NE(jsonError({{"matchLabels", {{"a", "b c"}}}}).find("matchLabels[\"a\"]: invalid value"),
            std::string::npos);
  EXPECT_NE(jsonError({{"matchLabels", {{"-a", "b"}}}}).find("invalid key"), std::string::npos);
  auto expr = [](json e) { return json{{"matchExpressions", json::array({e})}}; };
  EXPECT_EQ(jsonError(expr({{"key", "a"}, {"operator", "Gt"}, {"values", json::array({"1"})}})),
            "label selector: matchExpressions[0]: unknown operator \"Gt\" (label selectors know "
            "In, NotIn, Exists, DoesNotExist)");
  EXPECT_EQ(jsonError(expr({{"key", "a"}, {"operator", "In"}})),
            "label selector: matchExpressions[0]: values must not be empty for In");
  EXPECT_EQ(jsonError(expr({{"key", "a"}, {"operator", "Exists"}, {"values", json::array({"x"})}})),
            "label selector: matchExpressions[0]: values must be empty for Exists");
  EXPECT_EQ(jsonError(expr({{"operator", "Exists"}})),
            "label selector: matchExpressions[0]: key is missing");
  EXPECT_EQ(jsonError(expr({{"key", "a"}, {"operator", "In"}, {"values", json::array({1})}})),
            "label selector: matchExpressions[0].values[0]: expected a string, got number");
  EXPECT_EQ(jsonError({{"matchExpressions", json::array({1})}}),
            "label selector: matchExpressions[0]: expected an object, got number");
  EXPECT_EQ(jsonError({{"matchExpressions", json::object()}}),
            "label selector: matchExpressions: expected an array, got object");
}

}  // namespace
}  // namespace kube
