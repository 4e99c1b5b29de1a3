// The Prometheus query client against a scripted server: what it sends,
// how it reads each answer type, and the reason it gives for every way an
// answer can be unusable (the main path talks to a real Prometheus in the
// integration tests).
#include "runtime/prometheus_client.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/metrics.h"
#include "tests/unit/scripted_http_server.h"

namespace kube::prom {
namespace {

using testing::Canned;
using testing::ScriptedServer;

ClientOptions optionsFor(const std::string& url) {
  ClientOptions o;
  o.url = url;
  o.timeout = std::chrono::milliseconds(2000);
  o.maxRetries = 0;
  return o;
}

std::string reasonOf(Client& c, const std::string& q = "up") {
  try {
    c.query(q);
  } catch (const QueryError& e) {
    return e.reason();
  }
  return "(no error)";
}

double errorsCounted(const std::string& reason) {
  for (const auto& fam : kube::metrics::registry()->Collect()) {
    if (fam.name != "kubec2_prometheus_query_errors_total") continue;
    for (const auto& m : fam.metric)
      for (const auto& l : m.label)
        if (l.name == "reason" && l.value == reason) return m.counter.value;
  }
  return 0;
}

TEST(PrometheusClient, SendsTheQueryAsAFormAndReadsAVectorWithItsLabels) {
  ScriptedServer server({{200, R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"name":"web-abc","namespace":"shop"},"value":[1700000000.5,"0.25"]},
      {"metric":{"name":"web-def"},"value":[1700000000.5,"NaN"]},
      {"metric":{"name":"web-ghi"},"value":[1700000000.5,"+Inf"]}]}})"}});
  Client c(optionsFor(server.url() + "/prom/"));
  const QueryResult r = c.query(R"(sum by (name) (rate(x{namespace="shop"}[2m])))", 1700000000.5);
  ASSERT_EQ(r.resultType, "vector");
  ASSERT_EQ(r.samples.size(), 3u);
  EXPECT_EQ(r.samples[0].labels.at("name"), "web-abc");
  EXPECT_EQ(r.samples[0].labels.at("namespace"), "shop");
  EXPECT_DOUBLE_EQ(r.samples[0].value, 0.25);
  EXPECT_DOUBLE_EQ(r.samples[0].time, 1700000000.5);
  EXPECT_TRUE(std::isnan(r.samples[1].value));
  EXPECT_TRUE(std::isinf(r.samples[2].value));
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/prom/api/v1/query");  // the URL's path prefixes the API's
  EXPECT_NE(seen[0].body.find("query=sum%20by%20%28name%29"), std::string::npos) << seen[0].body;
  EXPECT_NE(seen[0].body.find("&time=1700000000.500"), std::string::npos) << seen[0].body;
}

TEST(PrometheusClient, ReadsScalarsAndRangeQueryMatrices) {
  ScriptedServer server(
      {{200, R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}})"},
       {200, R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"scaling_group":"web"},"values":[[1700000000,"1"],[1700000060,"2.5"]]}]}})"}});
  Client c(optionsFor(server.url()));
  const QueryResult s = c.query("scalar(up)");
  ASSERT_EQ(s.samples.size(), 1u);
  EXPECT_DOUBLE_EQ(s.samples[0].value, 42);
  const QueryResult m = c.queryRange("sum by (scaling_group) (x)", 1700000000, 1700000060, 60);
  ASSERT_EQ(m.series.size(), 1u);
  EXPECT_EQ(m.series[0].labels.at("scaling_group"), "web");
  ASSERT_EQ(m.series[0].points.size(), 2u);
  EXPECT_DOUBLE_EQ(m.series[0].points[1].first, 1700000060);
  EXPECT_DOUBLE_EQ(m.series[0].points[1].second, 2.5);
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].target, "/api/v1/query_range");
  EXPECT_NE(seen[1].body.find("&start=1700000000.000&end=1700000060.000&step=60.000"),
            std::string::npos)
      << seen[1].body;
}

TEST(PrometheusClient, ABadQueryIsAnHttpErrorWithPrometheussMessage) {
  ScriptedServer server({{400, R"({"status":"error","errorType":"bad_data",
      "error":"1:5: parse error: unexpected end of input"})"}});
  Client c(optionsFor(server.url()));
  try {
    c.query("sum(");
    FAIL() << "no error";
  } catch (const QueryError& e) {
    EXPECT_EQ(e.reason(), "HttpError");
    EXPECT_NE(std::string(e.what()).find("HTTP 400"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad_data: 1:5: parse error"), std::string::npos)
        << e.what();
  }
}

TEST(PrometheusClient, AnErrorNamesTheServerButNotItsCredentials) {
  ClientOptions o = optionsFor("http://scaler:s3cret@127.0.0.1:1/prom");
  Client c(o);
  try {
    c.query("up");
    FAIL() << "no error";
  } catch (const QueryError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.reason(), "Unreachable");
    EXPECT_NE(what.find("http://127.0.0.1:1/prom"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
}

TEST(PrometheusClient, EveryUnusableAnswerHasItsReasonAndIsCounted) {
  const double before500 = errorsCounted("HttpError");
  const double beforeGarbage = errorsCounted("Garbage");
  {
    ScriptedServer server({{500, "<html>proxy error</html>"}});
    Client c(optionsFor(server.url()));
    EXPECT_EQ(reasonOf(c), "HttpError");
  }
  {
    ScriptedServer server({{200, "<html>login page</html>"}});
    Client c(optionsFor(server.url()));
    EXPECT_EQ(reasonOf(c), "Garbage");
  }
  {
    ScriptedServer server({{200, R"({"status":"success","data":{"resultType":"vector",
        "result":[{"metric":{},"value":[1,"twelve"]}]}})"}});
    Client c(optionsFor(server.url()));
    EXPECT_EQ(reasonOf(c), "Garbage");
  }
  {
    Canned cut{200, R"({"status":"success","data":{"resultType":"vector","result":[]}})"};
    cut.truncated = true;
    ScriptedServer server({cut});
    Client c(optionsFor(server.url()));
    EXPECT_EQ(reasonOf(c), "Garbage");
  }
  EXPECT_EQ(errorsCounted("HttpError"), before500 + 1);
  EXPECT_EQ(errorsCounted("Garbage"), beforeGarbage + 3);
}

TEST(PrometheusClient, AHungServerTimesOutAndAClosedPortIsUnreachable) {
  Canned hang{200, R"({"status":"success","data":{"resultType":"vector","result":[]}})"};
  hang.delay = std::chrono::milliseconds(3000);
  ScriptedServer server({hang});
  ClientOptions o = optionsFor(server.url());
  o.timeout = std::chrono::milliseconds(300);
  Client c(o);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(reasonOf(c), "Timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500));

  ClientOptions closed = optionsFor("http://127.0.0.1:1");
  Client d(closed);
  EXPECT_EQ(reasonOf(d), "Unreachable");
}

TEST(PrometheusClient, AnAnswerOverTheSizeLimitIsRefused) {
  std::string big = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (int i = 0; i < 2000; ++i)
    big += std::string(i ? "," : "") + R"({"metric":{"name":"web-)" + std::to_string(i) +
           R"("},"value":[1,"1"]})";
  big += "]}}";
  ScriptedServer server({{200, big}});
  ClientOptions o = optionsFor(server.url());
  o.maxResponseBytes = 4096;
  Client c(o);
  EXPECT_EQ(reasonOf(c), "TooLarge");
}

TEST(PrometheusClient, SendsTheBearerTokenFromItsFileOrBasicAuth) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("kubec2-prom-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "s3cret-token\n";
  std::ofstream(dir / "password") << "hunter2\n";
  const std::string ok = R"({"status":"success","data":{"resultType":"vector","result":[]}})";
  {
    ScriptedServer server({{200, ok}});
    ClientOptions o = optionsFor(server.url());
    o.bearerTokenFile = (dir / "token").string();
    Client c(o);
    c.query("up");
    EXPECT_EQ(server.seen().at(0).authorization, "Bearer s3cret-token");
  }
  {
    ScriptedServer server({{200, ok}});
    ClientOptions o = optionsFor(server.url());
    o.basicUser = "kubec2";
    o.basicPasswordFile = (dir / "password").string();
    Client c(o);
    c.query("up");
    EXPECT_EQ(server.seen().at(0).authorization, "Basic a3ViZWMyOmh1bnRlcjI=");
  }
  {
    // Credentials in the URL are basic auth, and only there.
    ScriptedServer server({{200, ok}, {500, "<html>proxy error</html>"}});
    std::string url = server.url();
    url.insert(url.find("://") + 3, "kubec2:hunter2@");
    Client c(optionsFor(url));
    c.query("up");
    EXPECT_EQ(server.seen().at(0).authorization, "Basic a3ViZWMyOmh1bnRlcjI=");
    try {
      c.query("up");
      FAIL() << "no error";
    } catch (const QueryError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("(Prometheus at " + server.url() + ")"), std::string::npos) << what;
      EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
    }
  }
  std::filesystem::remove_all(dir);
}

// Found by tests/fuzz/prometheus_response_fuzz: fields of the wrong type
// threw json::type_error, which the scaling controller's policies (which
// hold on a QueryError) did not catch, failing the group's whole reconcile.
TEST(PrometheusClient, AnswerFieldsOfTheWrongTypeAreGarbageOrTheServersError) {
  const auto reasonFor = [](long status, const std::string& body) -> std::string {
    try {
      (void)parseResponse(status, body);
    } catch (const QueryError& e) {
      return e.reason();
    }
    return "(parsed)";
  };
  EXPECT_EQ(reasonFor(200, R"({"status":1})"), "Garbage");
  EXPECT_EQ(reasonFor(503, R"({"status":null})"), "HttpError");
  EXPECT_EQ(reasonFor(200, R"({"status":"success","data":{"resultType":7,"result":[]}})"),
            "Garbage");
  EXPECT_EQ(reasonFor(400, R"({"status":"error","errorType":["bad_data"],"error":{}})"),
            "HttpError");
  try {
    (void)parseResponse(422, R"({"status":"error","errorType":1,"error":"query timed out"})");
    ADD_FAILURE() << "parsed";
  } catch (const QueryError& e) {
    EXPECT_STREQ(e.what(), "HTTP 422 from Prometheus: error: query timed out");
  }
}

TEST(PrometheusClient, RefusesAUrlThatIsNotHttpAndQuotesLabelValues) {
  EXPECT_THROW(Client(optionsFor("prometheus:9090")), std::invalid_argument);
  EXPECT_THROW(Client(optionsFor("ftp://prometheus:9090")), std::invalid_argument);
  EXPECT_THROW(Client(optionsFor("http://")), std::invalid_argument);
  EXPECT_THROW(Client(optionsFor("http://prometheus:9090/api/v1/query")), std::invalid_argument);
  EXPECT_EQ(quote(R"(we"b\1)"), R"("we\"b\\1")");
}

}  // namespace
}  // namespace kube::prom
