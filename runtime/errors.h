// Errors crossing the runtime's boundary. The API server's Status (code,
// reason, message, causes) is kept whole inside ApiError so callers can tell
// NotFound from Conflict from Invalid and show the server's own words.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kube {

struct StatusCause {
  std::string reason;   // e.g. FieldValueInvalid
  std::string message;  // human text
  std::string field;    // e.g. spec.minSize
};

// metav1.Status, as returned by the API server on failure.
struct Status {
  int code = 0;        // HTTP status code (0 when no response was received)
  std::string reason;  // NotFound, AlreadyExists, Conflict, Invalid, Expired, ...
  std::string message;
  std::vector<StatusCause> causes;
  std::optional<std::chrono::seconds> retryAfter;  // from details.retryAfterSeconds or header

  static Status fromJson(const nlohmann::json& j, int httpCode);
};

// An error answered by the API server (or a transport failure, code 0).
class ApiError : public std::runtime_error {
 public:
  explicit ApiError(Status status);
  const Status& status() const { return status_; }
  int code() const { return status_.code; }
  const std::string& reason() const { return status_.reason; }

  bool isNotFound() const { return code() == 404 || reason() == "NotFound"; }
  bool isAlreadyExists() const { return reason() == "AlreadyExists"; }
  bool isConflict() const { return code() == 409 && reason() != "AlreadyExists"; }
  bool isInvalid() const { return code() == 422 || reason() == "Invalid"; }
  bool isGone() const { return code() == 410 || reason() == "Expired" || reason() == "Gone"; }
  bool isForbidden() const { return code() == 403; }
  bool isUnauthorized() const { return code() == 401; }
  bool isTooManyRequests() const { return code() == 429; }
  bool isServerError() const { return code() >= 500; }
  // No HTTP answer at all: connection refused, TLS failure, timeout.
  bool isTransport() const { return code() == 0; }

 private:
  Status status_;
};

// A problem with the client's configuration (kubeconfig, in-cluster files).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace kube
