// One HTTP(S) transport over libcurl for every client of the operator: the
// Kubernetes API client and the Prometheus client (the load balancers'
// health checks are prober.h: fresh connections, no retries). It owns what
// they share — TLS (always verified), bearer tokens re-read from a file as
// they rotate, basic auth, connection reuse, timeouts, a response size
// limit, a client-side rate limit and retries with backoff that honour
// Retry-After — and nothing of any one API: it hands back status and body,
// and each client turns a failure into its own error.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace kube {

struct HttpOptions {
  std::string baseUrl;  // scheme://host:port, no trailing slash; paths are appended
  // Trust: PEM text of the CA bundle; empty: the system's trust store.
  std::string caPem;
  // Client certificate authentication (PEM text).
  std::string clientCertPem;
  std::string clientKeyPem;
  // Authorization: a bearer token, fixed or read from a file (re-read at
  // most every tokenRereadPeriod; a file that is empty mid-rotation keeps the
  // old token), or basic auth. A token wins over basic auth.
  std::string bearerToken;
  std::string tokenFile;
  std::chrono::seconds tokenRereadPeriod{60};
  std::string basicUser;
  std::string basicPassword;

  // Client-side rate limit (token bucket); qps <= 0: unlimited.
  double qps = 0;
  int burst = 1;
  std::chrono::milliseconds timeout{30000};  // whole request, except streams
  std::chrono::milliseconds connectTimeout{10000};
  // Retries of one call (so up to maxRetries + 1 attempts); see call().
  int maxRetries = 5;
  std::chrono::milliseconds retryBase{
      200};                                // doubled per attempt, capped at 10 s, jittered x1..1.5
  std::chrono::seconds maxRetryAfter{30};  // a longer Retry-After is capped to this
  // Bodies larger than this fail with reason TooLarge; 0: no limit.
  std::size_t maxResponseBytes = 0;
  std::string userAgent = "kubec2";
  bool http2 = true;  // offered over TLS; HTTP/1.1 otherwise
  // Called after every exchange (method, "200" or "<error>", seconds):
  // each client counts requests under its own metric names.
  std::function<void(const std::string& method, const std::string& code, double seconds)> observe;
  // Log name of requests at debug level ("kube", "prometheus").
  std::string logName = "http";
  // Waits between retries: returns false when `stop` ended the wait.
  // Default: a real, stop-aware wait. Tests record the waits instead.
  std::function<bool(std::stop_token stop, std::chrono::milliseconds wait)> sleep;
};

// The outcome of a request: an HTTP answer (status > 0), or none (status 0)
// with the transport failure's reason and message.
struct HttpResponse {
  long status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retryAfter;  // Retry-After in seconds, when sent
  // Status 0 only: Unreachable (connect or resolve failed), Timeout,
  // TLSError, TooLarge (over maxResponseBytes), Stopped (the stop token),
  // TransportError (anything else).
  std::string failureReason;
  std::string failureMessage;  // "GET https://...: Couldn't connect to server (detail)"

  bool ok() const { return status >= 200 && status < 300; }
};

struct HttpRequest {
  std::string method = "GET";
  std::string path{};  // appended to baseUrl, with its query
  std::string body{};
  std::string contentType{};                // sent when the body is non-empty
  std::string accept = "application/json";  // empty: no Accept header
  // Safe to send twice: transport failures and 5xx are retried only then
  // (a failure to connect, and 429, are retried for every request: nothing
  // was processed).
  bool idempotent = true;
};

class HttpTransport {
 public:
  explicit HttpTransport(HttpOptions opts);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  const HttpOptions& options() const;

  // One exchange, no retries (but the rate limit).
  HttpResponse perform(const HttpRequest& req, std::stop_token stop = {});

  // With retries, as client-go's: 429 always (not processed); 5xx when
  // idempotent or the server sent Retry-After; connection failures always;
  // other transport failures when idempotent. Backoff doubles from
  // retryBase up to 10 s with jitter, or follows Retry-After (capped).
  // Returns the last response: 2xx, or the failure that was not retried.
  // A stop request ends the wait and the transfer (reason Stopped).
  HttpResponse call(const HttpRequest& req, std::stop_token stop = {});

  // A long-lived GET (watch): `onData` gets each chunk of a 2xx body as it
  // arrives and returns false to end the stream; `stop` ends it too. No
  // overall timeout but `maxSeconds` (0: none), no retries, no size limit.
  // Returns the response with an empty body for 2xx (its data went to
  // onData), or the error body of a non-2xx answer. An exception thrown by
  // onData ends the transfer and is rethrown.
  HttpResponse stream(const std::string& path, const std::function<bool(std::string_view)>& onData,
                      std::stop_token stop = {}, long maxSeconds = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// libcurl's global initialisation; call once from main before any thread starts.
void globalInit();

// RFC 3986 percent-encoding of a query value.
std::string urlEncode(std::string_view s);

}  // namespace kube
