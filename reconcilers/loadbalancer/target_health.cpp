#include "reconcilers/loadbalancer/target_health.h"

#include "api/target_health.h"

#include <charconv>
#include <stdexcept>

namespace kubec2::reconcilers::loadbalancer {
namespace {

namespace v1 = kubec2::api::v1alpha1;

int codeAt(std::string_view text, std::string_view part) {
  int code = 0;
  const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), code);
  if (ec != std::errc() || end != part.data() + part.size() || part.size() != 3 || code < 200 ||
      code > 499)
    throw std::invalid_argument("health check matcher \"" + std::string(text) + "\": \"" +
                                std::string(part) + "\" is not an HTTP code from 200 to 499");
  return code;
}

TargetHealth moved(const TargetHealth& from, State to, Time now, std::string reason,
                   std::string description) {
  TargetHealth t = from;
  if (t.state != to) t.since = now;
  t.state = to;
  t.reason = std::move(reason);
  t.description = std::move(description);
  return t;
}

const char* reasonOf(Outcome o) {
  switch (o) {
    case Outcome::Timeout:
      return "Target.Timeout";
    case Outcome::ResponseCodeMismatch:
      return "Target.ResponseCodeMismatch";
    default:
      return "Target.FailedHealthChecks";
  }
}

std::string describeFailure(const CheckResult& r, const CheckSettings& s) {
  switch (r.outcome) {
    case Outcome::Timeout:
      return "Request timed out after " + std::to_string(s.timeout.count()) + " s";
    case Outcome::ResponseCodeMismatch:
      return "Health checks failed with these codes: [" + std::to_string(r.httpStatus) +
             "], expected " + s.matcher.text();
    default:
      return "Health checks failed" + (r.detail.empty() ? std::string() : ": " + r.detail);
  }
}

}  // namespace

CodeMatcher CodeMatcher::parse(std::string_view text) {
  CodeMatcher m;
  m.text_ = std::string(text);
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const int lo = codeAt(text, text.substr(0, dash));
    const int hi = codeAt(text, text.substr(dash + 1));
    if (lo > hi)
      throw std::invalid_argument("health check matcher \"" + std::string(text) +
                                  "\": the range ends before it starts");
    m.ranges_.emplace_back(lo, hi);
    return m;
  }
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const auto part =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    const int code = codeAt(text, part);
    m.ranges_.emplace_back(code, code);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return m;
}

bool CodeMatcher::accepts(int httpStatus) const {
  for (const auto& [lo, hi] : ranges_)
    if (httpStatus >= lo && httpStatus <= hi) return true;
  return false;
}

CheckSettings checkSettingsOf(const v1::TargetGroup& group, const std::string& loadBalancerType) {
  CheckSettings s;
  const std::string groupProtocol =
      group.protocol.value_or(loadBalancerType == "network" ? "TCP" : "HTTP");
  s.protocol = (groupProtocol == "HTTP" || groupProtocol == "HTTPS") ? groupProtocol : "TCP";
  s.port = group.port;
  if (!group.healthCheck) return s;
  const auto& h = *group.healthCheck;
  if (h.protocol) s.protocol = *h.protocol;
  // A number, or its decimal text ("8080", ELB's string form); anything
  // else ("traffic-port", or text the webhook refuses) is the traffic port.
  if (h.port) {
    if (h.port->isInt()) {
      s.port = h.port->intValue();
    } else if (auto p = api::healthCheckPortNumber(h.port->stringValue())) {
      s.port = *p;
    }
  }
  if (h.path) s.path = *h.path;
  if (h.intervalSeconds) s.interval = std::chrono::seconds(*h.intervalSeconds);
  if (h.timeoutSeconds) s.timeout = std::chrono::seconds(*h.timeoutSeconds);
  if (h.healthyThresholdCount) s.healthyThreshold = static_cast<int>(*h.healthyThresholdCount);
  if (h.unhealthyThresholdCount)
    s.unhealthyThreshold = static_cast<int>(*h.unhealthyThresholdCount);
  if (h.matcher && h.matcher->httpCode) s.matcher = CodeMatcher::parse(*h.matcher->httpCode);
  return s;
}

std::string_view toString(State s) {
  switch (s) {
    case State::Initial:
      return "initial";
    case State::Healthy:
      return "healthy";
    case State::Unhealthy:
      return "unhealthy";
    case State::Draining:
      return "draining";
    case State::Unused:
      return "unused";
  }
  return "unused";
}

TargetHealth registered(Time now) {
  TargetHealth t;
  t.state = State::Initial;
  t.reason = "Elb.InitialHealthChecking";
  t.description = "Initial health checks in progress";
  t.since = now;
  return t;
}

TargetHealth afterCheck(const TargetHealth& target, const CheckResult& result,
                        const CheckSettings& settings) {
  if (target.state == State::Draining || target.state == State::Unused) return target;
  TargetHealth t = target;
  if (result.outcome == Outcome::Pass) {
    t.failures = 0;
    ++t.passes;
    if (t.state != State::Healthy && t.passes >= settings.healthyThreshold)
      return moved(t, State::Healthy, result.at, "", "");
    // An unhealthy target keeps its failure's reason until it is healthy again.
    return t;
  }
  t.passes = 0;
  ++t.failures;
  if (t.failures >= settings.unhealthyThreshold)
    return moved(t, State::Unhealthy, result.at, reasonOf(result.outcome),
                 describeFailure(result, settings));
  return t;
}

std::optional<TargetHealth> deregistered(const TargetHealth& target, Time now,
                                         std::chrono::seconds delay) {
  if (target.state == State::Draining) return target;
  if (target.state != State::Healthy || delay.count() <= 0) return std::nullopt;
  TargetHealth t = moved(target, State::Draining, now, "Target.DeregistrationInProgress",
                         "Target deregistration is in progress");
  t.drainingUntil = now + delay;
  return t;
}

bool drainingOver(const TargetHealth& target, Time now) {
  return target.state == State::Draining && target.drainingUntil && now >= *target.drainingUntil;
}

TargetHealth notRunning(const TargetHealth& target, Time now) {
  TargetHealth t = moved(target, State::Unused, now, "Target.InvalidState",
                         "Target is in the stopped or terminated state");
  t.passes = 0;
  t.failures = 0;
  t.drainingUntil.reset();
  return t;
}

}  // namespace kubec2::reconcilers::loadbalancer
