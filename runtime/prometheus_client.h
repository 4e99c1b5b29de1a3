// A client of Prometheus's HTTP query API (prometheus.io/docs/prometheus/
// latest/querying/api/): instant queries (/api/v1/query) and range queries
// (/api/v1/query_range), over the shared HTTP transport (libcurl: TLS
// verification always on, a CA file, a bearer token file re-read as it
// rotates, basic auth, timeouts, a response size limit).
//
// Every failure is a QueryError with a reason a scaling policy can report
// and a dashboard can count (kubec2_prometheus_query_errors_total{reason}):
//   Unreachable  the connection failed (Prometheus down, wrong address)
//   Timeout      no whole answer within the timeout (a hung server)
//   HttpError    an HTTP error status, or {"status":"error"} (a bad query)
//   Garbage      a body that is not the API's JSON (a proxy's page), or an
//                answer cut short
//   TooLarge     a body over maxResponseBytes
//   TLSError     the server's certificate did not verify
//   Stopped      the caller's stop token ended the query
// Every message names the server (its URL without credentials: a URL's
// user:password@ is sent as basic auth and appears nowhere else), and the
// log says when queries start failing and when they succeed again, once
// each, not once per query.
// Sample values keep Prometheus's NaN and +/-Inf as doubles: deciding what
// they mean is the caller's (a scaling policy holds on them).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

namespace kube::prom {

struct ClientOptions {
  std::string url;              // http(s)://host:port[/prefix], as --prometheus-url
  std::string caFile;           // PEM bundle to trust; empty: the system's trust store
  std::string bearerTokenFile;  // re-read as it rotates; wins over basic auth
  std::string basicUser;
  std::string basicPasswordFile;
  std::chrono::milliseconds timeout{
      10000};  // per request, as Prometheus's own default query timeout is 2 min
  std::size_t maxResponseBytes = 16u << 20;  // 16 MiB: a range query of 14 days by group fits
  int maxRetries = 1;                        // one retry of a failed query within an evaluation
};

// One series' label set, by label name.
using Labels = std::map<std::string, std::string>;

struct Sample {
  Labels labels;
  double time = 0;   // Unix seconds
  double value = 0;  // may be NaN or +/-Inf
};

struct Series {
  Labels labels;
  std::vector<std::pair<double, double>> points;  // (Unix seconds, value), in time order
};

// An instant query's answer: a vector (one sample per series) or a scalar
// (one sample without labels). A range query's: matrix.
struct QueryResult {
  std::string resultType;       // "vector", "scalar", "matrix" or "string"
  std::vector<Sample> samples;  // vector and scalar
  std::vector<Series> series;   // matrix
  std::vector<std::string> warnings;
};

class QueryError : public std::runtime_error {
 public:
  QueryError(std::string reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  // Unreachable, Timeout, HttpError, Garbage, TooLarge, TLSError or Stopped.
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

class Client {
 public:
  // Throws std::invalid_argument for a URL that is not http(s)://... and
  // std::runtime_error for a CA or password file that cannot be read.
  explicit Client(ClientOptions opts);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // An instant query evaluated at `at` (Unix seconds; absent: the server's
  // now). Throws QueryError.
  QueryResult query(const std::string& promql, std::optional<double> at = std::nullopt,
                    std::stop_token stop = {});

  // A range query from start to end (Unix seconds) at `step` seconds
  // (Prometheus refuses more than 11,000 points per series). Throws QueryError.
  QueryResult queryRange(const std::string& promql, double start, double end, double step,
                         std::stop_token stop = {});

  const ClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses an API answer (exposed for tests): throws QueryError (HttpError
// for {"status":"error"}, Garbage for anything else that is not the API's
// JSON).
QueryResult parseResponse(long httpStatus, const std::string& body);

// A PromQL string literal holding `s` (quotes and backslashes escaped), for
// label values put into queries.
std::string quote(const std::string& s);

}  // namespace kube::prom
