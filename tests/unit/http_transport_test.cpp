// The shared HTTP transport against a scripted HTTP server on loopback:
// retries and Retry-After, the size limit, auth headers, stop requests.
#include "runtime/http_transport.h"

#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/unit/scripted_http_server.h"

namespace kube {
namespace {

using testing::Canned;
using testing::ScriptedServer;

struct RecordedWaits {
  std::vector<std::chrono::milliseconds> waits;
  HttpOptions options(const std::string& url) {
    HttpOptions o;
    o.baseUrl = url;
    o.http2 = false;
    o.sleep = [this](std::stop_token, std::chrono::milliseconds d) {
      waits.push_back(d);
      return true;
    };
    return o;
  }
};

TEST(HttpTransport, RetriesTooManyRequestsAsTheServerAsks) {
  ScriptedServer server({{429, "{}", "3"}, {200, R"({"ok":true})"}});
  RecordedWaits w;
  HttpTransport t(w.options(server.url()));
  const HttpResponse r =
      t.call({.method = "POST", .path = "/x", .body = "{}", .idempotent = false});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"ok":true})");
  ASSERT_EQ(w.waits.size(), 1u);
  // Retry-After: 3, jittered up by at most half.
  EXPECT_GE(w.waits[0], std::chrono::seconds(3));
  EXPECT_LE(w.waits[0], std::chrono::milliseconds(4500));
}

TEST(HttpTransport, ServerErrorsAreRetriedOnlyWhenSafe) {
  {
    ScriptedServer server({{500, "{}"}, {200, "{}"}});
    RecordedWaits w;
    HttpTransport t(w.options(server.url()));
    EXPECT_EQ(t.call({.method = "POST", .path = "/x", .body = "{}", .idempotent = false}).status,
              500)
        << "a POST may have been processed: not sent twice";
    EXPECT_TRUE(w.waits.empty());
  }
  {
    ScriptedServer server({{503, "{}"}, {503, "{}"}, {200, "{}"}});
    RecordedWaits w;
    HttpTransport t(w.options(server.url()));
    EXPECT_EQ(t.call({.path = "/x"}).status, 200);
    ASSERT_EQ(w.waits.size(), 2u);
    EXPECT_LT(w.waits[0], w.waits[1] + std::chrono::milliseconds(200)) << "backoff grows";
  }
  {
    ScriptedServer server({{404, "{}"}});
    RecordedWaits w;
    HttpTransport t(w.options(server.url()));
    EXPECT_EQ(t.call({.path = "/x"}).status, 404);
    EXPECT_TRUE(w.waits.empty()) << "a client error is final";
  }
}

TEST(HttpTransport, GivesUpAfterMaxRetries) {
  ScriptedServer server({{503, "{}"}});
  RecordedWaits w;
  HttpOptions o = w.options(server.url());
  o.maxRetries = 2;
  HttpTransport t(o);
  EXPECT_EQ(t.call({.path = "/x"}).status, 503);
  EXPECT_EQ(w.waits.size(), 2u);
  EXPECT_EQ(server.seen().size(), 3u);
}

TEST(HttpTransport, ResponsesOverTheLimitFail) {
  ScriptedServer server({{200, std::string(10000, 'x')}});
  RecordedWaits w;
  HttpOptions o = w.options(server.url());
  o.maxResponseBytes = 4096;
  HttpTransport t(o);
  const HttpResponse r = t.call({.path = "/big"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.failureReason, "TooLarge");
  EXPECT_NE(r.failureMessage.find("4096"), std::string::npos) << r.failureMessage;
  EXPECT_TRUE(w.waits.empty()) << "the same answer would come again";
}

TEST(HttpTransport, SendsBasicAuthOrTheTokenFileAsItRotates) {
  ScriptedServer server({{200, "{}"}});
  RecordedWaits w;
  HttpOptions basic = w.options(server.url());
  basic.basicUser = "prom";
  basic.basicPassword = "secret";
  HttpTransport(basic).call({.path = "/a"});

  const std::string file = ::testing::TempDir() + "/token";
  std::ofstream(file) << "first\n";
  HttpOptions tok = w.options(server.url());
  tok.tokenFile = file;
  tok.tokenRereadPeriod = std::chrono::seconds(0);
  HttpTransport t(tok);
  t.call({.path = "/b"});
  std::ofstream(file) << "second\n";
  t.call({.path = "/c"});
  std::ofstream(file) << "";  // mid-rotation: the old token stays
  t.call({.path = "/d"});

  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].authorization, "Basic cHJvbTpzZWNyZXQ=");
  EXPECT_EQ(seen[1].authorization, "Bearer first");
  EXPECT_EQ(seen[2].authorization, "Bearer second");
  EXPECT_EQ(seen[3].authorization, "Bearer second");
}

TEST(HttpTransport, UnreachableAndStoppedAreTransportFailures) {
  RecordedWaits w;
  HttpOptions o = w.options("http://127.0.0.1:1");
  o.maxRetries = 1;
  HttpTransport t(o);
  const HttpResponse r = t.call({.path = "/x"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.failureReason, "Unreachable");
  EXPECT_EQ(w.waits.size(), 1u) << "nothing was sent: retried";

  ScriptedServer server({{200, "{}"}});
  HttpTransport s(w.options(server.url()));
  std::stop_source stop;
  stop.request_stop();
  const HttpResponse stopped = s.call({.path = "/x"}, stop.get_token());
  EXPECT_EQ(stopped.failureReason, "Stopped");
}

TEST(HttpTransport, StreamsChunksUntilTheCallerEndsIt) {
  ScriptedServer server({{200, "line1\nline2\n"}});
  RecordedWaits w;
  HttpTransport t(w.options(server.url()));
  std::string got;
  const HttpResponse r = t.stream("/watch", [&](std::string_view chunk) {
    got += chunk;
    return true;
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(got, "line1\nline2\n");
  EXPECT_TRUE(r.body.empty());

  ScriptedServer failing({{403, R"({"message":"no"})"}});
  HttpTransport f(w.options(failing.url()));
  const HttpResponse denied = f.stream("/watch", [](std::string_view) { return true; });
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body, R"({"message":"no"})");
}

}  // namespace
}  // namespace kube
