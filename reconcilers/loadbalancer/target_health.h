// A load balancer target's health, as Elastic Load Balancing keeps it
// (docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/
// API_TargetHealth.html): the check settings of a target group with ELB's
// defaults, the HTTP code matcher, and the state machine that health check
// results and (de)registration move a target through. Pure: the caller
// gives every time.
//
// States and reasons (ELB's names):
//   initial    Elb.InitialHealthChecking: registered, fewer than
//              healthyThresholdCount consecutive passes so far
//   healthy    (no reason): receives new connections
//   unhealthy  Target.Timeout (no answer within timeoutSeconds),
//              Target.ResponseCodeMismatch (an HTTP code the matcher
//              refuses), Target.FailedHealthChecks (connection refused or
//              reset, a malformed answer): after unhealthyThresholdCount
//              consecutive failures
//   draining   Target.DeregistrationInProgress: left the target group
//              while healthy; keeps its open connections, gets no new ones,
//              for deregistrationDelaySeconds
//   unused     Target.InvalidState: the instance is not running
// A target that leaves while not healthy is removed at once: no connection
// reached it, so there is nothing to drain (ELB drains every target; this
// makes scale-in of a broken instance immediate).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/v1alpha1/types.h"

namespace kubec2::reconcilers::loadbalancer {

using Time = std::chrono::system_clock::time_point;

// The HTTP codes that pass a check: "200", "200,202" or "200-299", codes
// 200 to 499 (the API's pattern; ELB's Matcher.HttpCode).
class CodeMatcher {
 public:
  // Throws std::invalid_argument naming the text when it is not one of
  // those forms (the schema's pattern refuses such text at admission).
  static CodeMatcher parse(std::string_view text);
  bool accepts(int httpStatus) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::pair<int, int>> ranges_;  // inclusive
};

// How a target group's targets are checked, every field resolved.
struct CheckSettings {
  std::string protocol;  // HTTP, HTTPS or TCP
  std::int64_t port = 0;
  std::string path = "/";
  std::chrono::seconds interval{30};
  std::chrono::seconds timeout{5};
  int healthyThreshold = 5;
  int unhealthyThreshold = 2;
  CodeMatcher matcher = CodeMatcher::parse("200");
};

// A target group's check settings with ELB's defaults for what the spec
// leaves out (interval 30 s, timeout 5 s, healthy 5, unhealthy 2, path /,
// matcher 200, port the traffic port); the protocol defaults to the target
// group's (HTTP for an application load balancer, TCP for a network one),
// and UDP and TLS groups are checked with TCP, as ELB does.
CheckSettings checkSettingsOf(const api::v1alpha1::TargetGroup& group,
                              const std::string& loadBalancerType);

// One health check's result.
enum class Outcome {
  Pass,
  Timeout,               // no whole answer within the timeout
  ResponseCodeMismatch,  // an HTTP code the matcher refuses
  Failed                 // connection refused or reset, or a malformed answer
};

struct CheckResult {
  Time at{};
  Outcome outcome = Outcome::Pass;
  int httpStatus = 0;  // for HTTP checks that got an answer
  std::string detail;  // what went wrong, in words ("connection refused")
};

enum class State { Initial, Healthy, Unhealthy, Draining, Unused };
std::string_view toString(State s);  // ELB's lower-case names

struct TargetHealth {
  State state = State::Initial;
  std::string reason;       // ELB's reason code; empty when healthy
  std::string description;  // the reason in words
  int passes = 0;           // consecutive passing checks
  int failures = 0;         // consecutive failing checks
  Time since{};             // when the state began
  std::optional<Time> drainingUntil;
};

// A newly registered target: initial, no checks yet.
TargetHealth registered(Time now);

// The target after one check. Only initial, healthy and unhealthy targets
// are checked; a draining or unused target is returned as it is.
TargetHealth afterCheck(const TargetHealth& target, const CheckResult& result,
                        const CheckSettings& settings);

// The target leaving its target group at `now` (scale-in, deregistration,
// termination): draining until now + delay when it was healthy and delay
// is positive; nullopt (gone at once) otherwise.
std::optional<TargetHealth> deregistered(const TargetHealth& target, Time now,
                                         std::chrono::seconds delay);

// Whether a draining target's delay has ended at `now` (it can go).
bool drainingOver(const TargetHealth& target, Time now);

// The target whose instance is not running (stopped, or its VM gone):
// unused, and checked again from initial when it runs again.
TargetHealth notRunning(const TargetHealth& target, Time now);

}  // namespace kubec2::reconcilers::loadbalancer
