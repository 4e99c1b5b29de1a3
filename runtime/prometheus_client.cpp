#include "runtime/prometheus_client.h"

#include <atomic>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "runtime/http_transport.h"
#include "runtime/metrics.h"

namespace kube::prom {
namespace {

using nlohmann::json;

struct Families {
  ::prometheus::Family<::prometheus::Histogram>& duration =
      ::prometheus::BuildHistogram()
          .Name("kubec2_prometheus_query_duration_seconds")
          .Help(
              "Seconds per Prometheus query, by kind (instant or range) and result "
              "(success or error).")
          .Register(*kube::metrics::registry());
  ::prometheus::Family<::prometheus::Counter>& errors =
      ::prometheus::BuildCounter()
          .Name("kubec2_prometheus_query_errors_total")
          .Help(
              "Prometheus queries that gave no usable answer, by reason (Unreachable, Timeout, "
              "HttpError, Garbage, TooLarge, TLSError, Stopped).")
          .Register(*kube::metrics::registry());
};

Families& families() {
  static Families f;
  return f;
}

const ::prometheus::Histogram::BucketBoundaries& buckets() {
  static const ::prometheus::Histogram::BucketBoundaries b{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                           0.5,   1,    2.5,   5,    10,  30};
  return b;
}

std::string readWhole(const std::string& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + what + " " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Prometheus writes sample values as strings: "1.5", "NaN", "+Inf", "-Inf".
double parseValue(const json& v) {
  if (!v.is_string()) throw QueryError("Garbage", "a sample value is not a string");
  const std::string& s = v.get_ref<const std::string&>();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  double out = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size())
    throw QueryError("Garbage", "a sample value is not a number: " + s.substr(0, 40));
  return out;
}

std::pair<double, double> parsePoint(const json& p) {
  if (!p.is_array() || p.size() != 2 || !p[0].is_number())
    throw QueryError("Garbage", "a sample is not [time, \"value\"]");
  return {p[0].get<double>(), parseValue(p[1])};
}

Labels parseLabels(const json& m) {
  Labels out;
  if (m.is_null()) return out;
  if (!m.is_object()) throw QueryError("Garbage", "a series' labels are not an object");
  for (const auto& [k, v] : m.items())
    if (v.is_string()) out.emplace(k, v.get<std::string>());
  return out;
}

std::string formatTime(double t) {
  std::ostringstream ss;
  ss.precision(3);
  ss << std::fixed << t;
  return ss.str();
}

// A string member of `obj`, or `fallback` when it is missing or not a string:
// json::value() would throw json::type_error for a number, and an answer
// of the wrong shape must be a QueryError like any other garbage.
std::string stringField(const json& obj, const char* key, const std::string& fallback = "") {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace

QueryResult parseResponse(long httpStatus, const std::string& body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("status") ||
      !doc["status"].is_string()) {
    if (httpStatus < 200 || httpStatus >= 300)
      throw QueryError("HttpError", "HTTP " + std::to_string(httpStatus) + " from Prometheus");
    throw QueryError("Garbage", "the answer is not Prometheus's JSON (" +
                                    std::to_string(body.size()) + " bytes)");
  }
  if (doc["status"] != "success") {
    throw QueryError("HttpError", "HTTP " + std::to_string(httpStatus) + " from Prometheus: " +
                                      stringField(doc, "errorType", "error") + ": " +
                                      stringField(doc, "error", "(no message)"));
  }
  const json& data = doc.contains("data") ? doc["data"] : json();
  if (!data.is_object() || !data.contains("resultType") || !data.contains("result"))
    throw QueryError("Garbage", "the answer has no data.resultType and data.result");
  QueryResult out;
  out.resultType = stringField(data, "resultType");
  const json& result = data["result"];
  if (out.resultType == "scalar") {
    Sample s;
    std::tie(s.time, s.value) = parsePoint(result);
    out.samples.push_back(std::move(s));
  } else if (out.resultType == "vector") {
    if (!result.is_array()) throw QueryError("Garbage", "a vector result is not an array");
    for (const auto& r : result) {
      if (!r.is_object() || !r.contains("value"))
        throw QueryError("Garbage", "a sample has no value");
      Sample s;
      s.labels = parseLabels(r.value("metric", json()));
      std::tie(s.time, s.value) = parsePoint(r["value"]);
      out.samples.push_back(std::move(s));
    }
  } else if (out.resultType == "matrix") {
    if (!result.is_array()) throw QueryError("Garbage", "a matrix result is not an array");
    for (const auto& r : result) {
      if (!r.is_object() || !r.contains("values") || !r["values"].is_array())
        throw QueryError("Garbage", "a series has no values");
      Series s;
      s.labels = parseLabels(r.value("metric", json()));
      for (const auto& p : r["values"]) s.points.push_back(parsePoint(p));
      out.series.push_back(std::move(s));
    }
  } else if (out.resultType != "string") {
    throw QueryError("Garbage", "unknown resultType " + out.resultType.substr(0, 40));
  }
  if (doc.contains("warnings") && doc["warnings"].is_array())
    for (const auto& w : doc["warnings"])
      if (w.is_string()) out.warnings.push_back(w.get<std::string>());
  return out;
}

namespace {
// scheme://user:password@host -> scheme://host: a URL fit for a log line.
std::string withoutCredentials(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto at = url.find('@', scheme + 3);
  const auto slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}
}  // namespace

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

struct Client::Impl {
  ClientOptions opts;
  std::string pathPrefix;
  std::string where;  // the server's URL without credentials, for messages and the log
  std::unique_ptr<HttpTransport> http;
  // Whether the last query failed: the log says when Prometheus starts
  // failing and when it answers again, not once per query.
  std::atomic<bool> failing{false};

  QueryResult run(const char* kind, const std::string& path, const std::string& form,
                  std::stop_token stop) {
    const auto started = std::chrono::steady_clock::now();
    auto observe = [&](const char* result) {
      families()
          .duration.Add({{"kind", kind}, {"result", result}}, buckets())
          .Observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    };
    try {
      HttpRequest req;
      req.method = "POST";  // a long query fits a form body, not a URL
      req.path = pathPrefix + path;
      req.body = form;
      req.contentType = "application/x-www-form-urlencoded";
      req.idempotent = true;  // a query changes nothing
      const HttpResponse res = http->call(req, stop);
      if (res.status == 0) {
        // A transfer that broke after connecting (an answer cut short, a
        // reset) left no answer to read: garbage, to the caller.
        const std::string reason =
            res.failureReason == "TransportError" ? "Garbage" : res.failureReason;
        throw QueryError(reason, res.failureMessage);
      }
      QueryResult out = parseResponse(res.status, res.body);
      observe("success");
      if (failing.exchange(false)) spdlog::info("Prometheus at {} answers again", where);
      return out;
    } catch (const QueryError& e) {
      observe("error");
      families().errors.Add({{"reason", e.reason()}}).Increment();
      if (e.reason() == "Stopped") throw;
      // The message names the server, so a status or Event reading
      // "connection refused" says which Prometheus refused.
      std::string message = e.what();
      if (message.find(where) == std::string::npos) message += " (Prometheus at " + where + ")";
      QueryError named(e.reason(), message);
      if (!failing.exchange(true))
        spdlog::warn("Prometheus query failed ({}): {}; scaling policies that need it hold",
                     e.reason(), named.what());
      throw named;
    }
  }
};

Client::Client(ClientOptions opts) : impl_(std::make_unique<Impl>()) {
  const std::string& url = opts.url;
  const auto scheme = url.find("://");
  if (scheme == std::string::npos ||
      (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0))
    throw std::invalid_argument(
        "--prometheus-url must be http://HOST:PORT or https://HOST:PORT, not " + url);
  // The base is scheme://host:port; a path after it (Prometheus behind a
  // --web.route-prefix or a proxy) prefixes every API path.
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const auto pathStart = base.find('/', scheme + 3);
  HttpOptions h;
  h.baseUrl = pathStart == std::string::npos ? base : base.substr(0, pathStart);
  impl_->pathPrefix = pathStart == std::string::npos ? "" : base.substr(pathStart);
  if (h.baseUrl.size() <= scheme + 3)
    throw std::invalid_argument("--prometheus-url names no host: " + url);
  if (impl_->pathPrefix.find("/api/") != std::string::npos)
    throw std::invalid_argument(
        "--prometheus-url is the server's address (with its route prefix, if any), not an API "
        "path: drop " +
        impl_->pathPrefix.substr(impl_->pathPrefix.find("/api/")) + " from " + url);
  // Credentials in the URL (http://user:password@host) become basic auth,
  // so the URL in every message and log line carries none.
  if (const auto at = h.baseUrl.find('@', scheme + 3); at != std::string::npos) {
    const std::string userinfo = h.baseUrl.substr(scheme + 3, at - scheme - 3);
    h.baseUrl = withoutCredentials(h.baseUrl);
    if (opts.basicUser.empty() && opts.bearerTokenFile.empty()) {
      const auto colon = userinfo.find(':');
      h.basicUser = userinfo.substr(0, colon);
      if (colon != std::string::npos) h.basicPassword = userinfo.substr(colon + 1);
    }
  }
  if (!opts.caFile.empty()) h.caPem = readWhole(opts.caFile, "--prometheus-ca-file");
  h.tokenFile = opts.bearerTokenFile;
  if (!opts.basicUser.empty()) {
    h.basicUser = opts.basicUser;
    if (!opts.basicPasswordFile.empty())
      h.basicPassword = trimmed(readWhole(opts.basicPasswordFile, "--prometheus-password-file"));
  }
  h.timeout = opts.timeout;
  h.connectTimeout = std::min(opts.timeout, std::chrono::milliseconds(5000));
  h.maxRetries = opts.maxRetries;
  h.retryBase = std::chrono::milliseconds(200);
  h.maxResponseBytes = opts.maxResponseBytes;
  h.userAgent = "kubec2-operator";
  h.logName = "prometheus";
  impl_->where = withoutCredentials(h.baseUrl) + impl_->pathPrefix;
  impl_->opts = std::move(opts);
  impl_->http = std::make_unique<HttpTransport>(std::move(h));
}

Client::~Client() = default;

const ClientOptions& Client::options() const {
  return impl_->opts;
}

QueryResult Client::query(const std::string& promql, std::optional<double> at,
                          std::stop_token stop) {
  std::string form = "query=" + urlEncode(promql);
  if (at) form += "&time=" + formatTime(*at);
  // Prometheus's own evaluation timeout, so a slow query ends there too.
  form += "&timeout=" + std::to_string(std::max<long long>(1, impl_->opts.timeout.count() / 1000)) +
          "s";
  return impl_->run("instant", "/api/v1/query", form, stop);
}

QueryResult Client::queryRange(const std::string& promql, double start, double end, double step,
                               std::stop_token stop) {
  if (!(step > 0) || !(end >= start))
    throw std::invalid_argument("a range query needs end >= start and step > 0");
  std::string form = "query=" + urlEncode(promql) + "&start=" + formatTime(start) +
                     "&end=" + formatTime(end) + "&step=" + formatTime(step);
  return impl_->run("range", "/api/v1/query_range", form, stop);
}

}  // namespace kube::prom
