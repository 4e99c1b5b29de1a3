#include "runtime/errors.h"

namespace kube {
namespace {

// The reason the API server would give for a bare HTTP code, for answers
// that carry no Status body (proxies, a server still starting).
std::string reasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

std::string describe(const Status& s) {
  std::string what = s.reason.empty() ? "error" : s.reason;
  if (s.code) what += " (" + std::to_string(s.code) + ")";
  if (!s.message.empty()) what += ": " + s.message;
  // The message usually already lists causes; add them only when it is empty.
  if (s.message.empty()) {
    for (const auto& c : s.causes) what += "; " + c.field + ": " + c.message;
  }
  return what;
}

}  // namespace

Status Status::fromJson(const nlohmann::json& j, int httpCode) {
  Status s;
  s.code = httpCode;
  if (!j.is_object()) {
    s.reason = reasonForCode(httpCode);
    return s;
  }
  if (j.contains("code") && j["code"].is_number_integer()) s.code = j["code"].get<int>();
  s.reason = j.value("reason", "");
  s.message = j.value("message", "");
  if (s.reason.empty()) s.reason = reasonForCode(s.code);
  if (auto d = j.find("details"); d != j.end() && d->is_object()) {
    if (auto c = d->find("causes"); c != d->end() && c->is_array()) {
      for (const auto& cj : *c) {
        if (!cj.is_object()) continue;
        s.causes.push_back(
            {cj.value("reason", ""), cj.value("message", ""), cj.value("field", "")});
      }
    }
    if (auto r = d->find("retryAfterSeconds"); r != d->end() && r->is_number_integer()) {
      s.retryAfter = std::chrono::seconds(r->get<long>());
    }
  }
  return s;
}

ApiError::ApiError(Status status)
    : std::runtime_error(describe(status)), status_(std::move(status)) {}

}  // namespace kube
