#include "runtime/log.h"

#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { setup("debug"); }
  void TearDown() override { kube::log::setup("info", true); }

  void setup(const std::string& level, bool asJson = true) {
    out_.str("");
    kube::log::setup(level, asJson, std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
  }

  // Every line, parsed; fails the test on a line that is not one JSON object.
  std::vector<json> lines() {
    std::vector<json> v;
    std::istringstream in(out_.str());
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
      v.push_back(std::move(j));
    }
    return v;
  }

  std::ostringstream out_;
};

TEST_F(LogTest, LineHasStandardFieldsAndCallFields) {
  kube::log::info("reconciled", {{"object", "ns/a"}, {"attempt", 3}, {"ok", true}});
  auto v = lines();
  ASSERT_EQ(v.size(), 1u);
  const json& j = v[0];
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["logger"], "kubec2");
  EXPECT_EQ(j["msg"], "reconciled");
  EXPECT_EQ(j["object"], "ns/a");
  EXPECT_EQ(j["attempt"], 3);
  EXPECT_EQ(j["ok"], true);
  const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(), rfc3339)) << j["ts"];
}

TEST_F(LogTest, FieldOrderStartsWithTsLevelLoggerMsg) {
  kube::log::warn("m", {{"a", 1}});
  const std::string s = out_.str();
  EXPECT_EQ(s.rfind("{\"ts\":", 0), 0u) << s;
  EXPECT_LT(s.find("\"level\":\"warn\""), s.find("\"logger\""));
  EXPECT_LT(s.find("\"logger\""), s.find("\"msg\""));
  EXPECT_LT(s.find("\"msg\""), s.find("\"a\""));
}

TEST_F(LogTest, ContextFieldsCarriedByEveryLineInScope) {
  {
    kube::log::LogContext ctx(
        {{"controller", "instance"}, {"object", "ns/web-1"}, {"reconcileID", "abc"}});
    kube::log::info("first");
    kube::log::error("second", {{"error", "boom"}});
    spdlog::warn("plain spdlog {}", 42);  // other runtime code logging directly
  }
  kube::log::info("after");
  auto v = lines();
  ASSERT_EQ(v.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(v[i]["controller"], "instance") << v[i];
    EXPECT_EQ(v[i]["object"], "ns/web-1") << v[i];
    EXPECT_EQ(v[i]["reconcileID"], "abc") << v[i];
  }
  EXPECT_EQ(v[1]["error"], "boom");
  EXPECT_EQ(v[1]["level"], "error");
  EXPECT_EQ(v[2]["msg"], "plain spdlog 42");
  EXPECT_EQ(v[2]["level"], "warn");
  EXPECT_FALSE(v[3].contains("controller"));
  EXPECT_FALSE(v[3].contains("reconcileID"));
}

TEST_F(LogTest, InnerScopeAndCallFieldsWin) {
  kube::log::LogContext outer({{"controller", "a"}, {"object", "x"}});
  {
    kube::log::LogContext inner({{"object", "y"}});
    kube::log::info("m1");
    kube::log::info("m2", {{"object", "z"}});
  }
  kube::log::info("m3");
  auto v = lines();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0]["object"], "y");
  EXPECT_EQ(v[0]["controller"], "a");
  EXPECT_EQ(v[1]["object"], "z");
  EXPECT_EQ(v[2]["object"], "x");
  EXPECT_EQ(kube::log::currentContext(), (json{{"controller", "a"}, {"object", "x"}}));
}

TEST_F(LogTest, ContextIsPerThread) {
  kube::log::LogContext ctx({{"reconcileID", "main-thread"}});
  std::thread([] { kube::log::info("from another thread"); }).join();
  auto v = lines();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].contains("reconcileID"));
}

TEST_F(LogTest, LevelFilters) {
  setup("warn");
  kube::log::debug("d");
  kube::log::info("i");
  kube::log::warn("w");
  kube::log::error("e");
  auto v = lines();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["level"], "warn");
  EXPECT_EQ(v[1]["level"], "error");
  EXPECT_FALSE(kube::log::enabled(kube::log::Level::Info));
  EXPECT_TRUE(kube::log::enabled(kube::log::Level::Error));
}

TEST_F(LogTest, BadLevelNamesTheAcceptedOnes) {
  try {
    kube::log::setup("verbose");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("verbose"), std::string::npos) << what;
    EXPECT_NE(what.find("debug, info, warn, error"), std::string::npos) << what;
  }
  EXPECT_EQ(kube::log::parseLevel("debug"), kube::log::Level::Debug);
  EXPECT_EQ(kube::log::parseLevel("error"), kube::log::Level::Error);
  EXPECT_THROW(kube::log::parseLevel("INFO"), std::invalid_argument);
  EXPECT_THROW(kube::log::parseLevel(""), std::invalid_argument);
}

TEST_F(LogTest, SecretLookingFieldsAreRedacted) {
  kube::log::LogContext ctx({{"Authorization", "Bearer abc"}});
  kube::log::info("m", {{"token", "s3cr3t"}, {"password", "hunter2"}, {"tokenFile", "/path"}});
  const std::string s = out_.str();
  EXPECT_EQ(s.find("s3cr3t"), std::string::npos) << s;
  EXPECT_EQ(s.find("hunter2"), std::string::npos) << s;
  EXPECT_EQ(s.find("Bearer"), std::string::npos) << s;
  auto v = lines();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0]["token"], "[REDACTED]");
  EXPECT_EQ(v[0]["tokenFile"], "/path");  // only exact names; a path is not a secret
}

TEST_F(LogTest, ReservedKeysAreKeptRenamed) {
  kube::log::info("real", {{"msg", "fake"}, {"level", "x"}});
  auto v = lines();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0]["msg"], "real");
  EXPECT_EQ(v[0]["level"], "info");
  EXPECT_EQ(v[0]["fields.msg"], "fake");
  EXPECT_EQ(v[0]["fields.level"], "x");
}

TEST_F(LogTest, MessagesAreNotFormatStringsAndBadUtf8IsSafe) {
  kube::log::info("braces {} stay {0}", {{"name", std::string("bad\xff\xfe utf8")}});
  kube::log::info(std::string("quote \" newline \n tab \t"));
  auto v = lines();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["msg"], "braces {} stay {0}");
  EXPECT_TRUE(v[0]["name"].is_string());
  EXPECT_EQ(v[1]["msg"], "quote \" newline \n tab \t");
}

TEST_F(LogTest, NamedLoggerWithFields) {
  kube::log::Logger base("manager", {{"component", "x"}});
  auto child = base.with({{"controller", "c1"}});
  child.info("hello", {{"component", "y"}});
  base.debug("plain");
  auto v = lines();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["logger"], "manager");
  EXPECT_EQ(v[0]["controller"], "c1");
  EXPECT_EQ(v[0]["component"], "y");
  EXPECT_EQ(v[1]["component"], "x");
  EXPECT_FALSE(v[1].contains("controller"));
}

TEST_F(LogTest, NonObjectFieldsKeptUnderFields) {
  kube::log::info("m", json::array({1, 2}));
  auto v = lines();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0]["fields"], json::array({1, 2}));
}

TEST_F(LogTest, TextModeIsReadable) {
  setup("info", false);
  kube::log::LogContext ctx({{"object", "ns/a"}});
  kube::log::info("hello", {{"n", 2}, {"s", "two words"}});
  const std::string s = out_.str();
  EXPECT_NE(s.find(" INFO kubec2 hello"), std::string::npos) << s;
  EXPECT_NE(s.find("object=ns/a"), std::string::npos) << s;
  EXPECT_NE(s.find("n=2"), std::string::npos) << s;
  EXPECT_NE(s.find("s=\"two words\""), std::string::npos) << s;
}

}  // namespace
