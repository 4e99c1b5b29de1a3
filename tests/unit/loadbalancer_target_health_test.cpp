// A load balancer target's health as ELB keeps it: thresholds, reasons,
// draining and the matcher, in simulated time.
#include "reconcilers/loadbalancer/target_health.h"

#include <gtest/gtest.h>

#include "api/target_health.h"

namespace {

using namespace std::chrono_literals;
namespace lb = kubec2::reconcilers::loadbalancer;
namespace v1 = kubec2::api::v1alpha1;
using lb::Outcome;
using lb::State;

const lb::Time t0 = lb::Time{} + 1000h;

lb::CheckResult check(lb::Time at, Outcome o, int code = 0) {
  return lb::CheckResult{at, o, code, o == Outcome::Failed ? "connection refused" : ""};
}

// Runs `n` checks of one outcome, one interval apart, from `from`.
lb::TargetHealth run(lb::TargetHealth t, const lb::CheckSettings& s, Outcome o, int n,
                     lb::Time& clock, int code = 200) {
  for (int i = 0; i < n; ++i) {
    clock += s.interval;
    t = lb::afterCheck(t, check(clock, o, code), s);
  }
  return t;
}

TEST(LoadBalancerTargetHealth, ANewTargetIsHealthyAfterTheHealthyThresholdAndNotBefore) {
  lb::CheckSettings s;
  s.healthyThreshold = 3;
  auto clock = t0;
  auto t = lb::registered(clock);
  EXPECT_EQ(t.state, State::Initial);
  EXPECT_EQ(t.reason, "Elb.InitialHealthChecking");
  t = run(t, s, Outcome::Pass, 2, clock);
  EXPECT_EQ(t.state, State::Initial);
  t = run(t, s, Outcome::Pass, 1, clock);
  EXPECT_EQ(t.state, State::Healthy);
  EXPECT_EQ(t.reason, "");
  EXPECT_EQ(t.since, clock);
}

TEST(LoadBalancerTargetHealth, AFailureInBetweenStartsTheCountAgain) {
  lb::CheckSettings s;
  s.healthyThreshold = 3;
  s.unhealthyThreshold = 3;
  auto clock = t0;
  auto t = run(lb::registered(clock), s, Outcome::Pass, 2, clock);
  t = run(t, s, Outcome::Failed, 1, clock);
  t = run(t, s, Outcome::Pass, 2, clock);
  EXPECT_EQ(t.state, State::Initial) << "two passes after a failure are not three";
  t = run(t, s, Outcome::Pass, 1, clock);
  EXPECT_EQ(t.state, State::Healthy);
}

TEST(LoadBalancerTargetHealth,
     AHealthyTargetFailsAfterTheUnhealthyThresholdWithTheLastFailuresReason) {
  lb::CheckSettings s;
  s.healthyThreshold = 2;
  s.unhealthyThreshold = 2;
  s.timeout = 4s;
  auto clock = t0;
  auto t = run(lb::registered(clock), s, Outcome::Pass, 2, clock);
  ASSERT_EQ(t.state, State::Healthy);
  t = run(t, s, Outcome::Timeout, 1, clock);
  EXPECT_EQ(t.state, State::Healthy) << "one failure is below the threshold: no flapping";
  t = run(t, s, Outcome::Timeout, 1, clock);
  EXPECT_EQ(t.state, State::Unhealthy);
  EXPECT_EQ(t.reason, "Target.Timeout");
  EXPECT_EQ(t.description, "Request timed out after 4 s");

  auto u = run(lb::registered(clock), s, Outcome::Pass, 2, clock);
  u = run(u, s, Outcome::ResponseCodeMismatch, 2, clock, 503);
  EXPECT_EQ(u.reason, "Target.ResponseCodeMismatch");
  EXPECT_EQ(u.description, "Health checks failed with these codes: [503], expected 200");

  auto v = run(lb::registered(clock), s, Outcome::Failed, 2, clock);
  EXPECT_EQ(v.state, State::Unhealthy) << "an initial target that fails becomes unhealthy";
  EXPECT_EQ(v.reason, "Target.FailedHealthChecks");
  EXPECT_EQ(v.description, "Health checks failed: connection refused");
}

TEST(LoadBalancerTargetHealth, AnUnhealthyTargetReturnsAfterTheHealthyThreshold) {
  lb::CheckSettings s;
  s.healthyThreshold = 3;
  s.unhealthyThreshold = 2;
  auto clock = t0;
  auto t = run(lb::registered(clock), s, Outcome::Failed, 2, clock);
  ASSERT_EQ(t.state, State::Unhealthy);
  t = run(t, s, Outcome::Pass, 2, clock);
  EXPECT_EQ(t.state, State::Unhealthy);
  EXPECT_EQ(t.reason, "Target.FailedHealthChecks") << "the reason stays until it is healthy";
  t = run(t, s, Outcome::Pass, 1, clock);
  EXPECT_EQ(t.state, State::Healthy);
}

TEST(LoadBalancerTargetHealth, AHealthyTargetDrainsForTheDelayServingButNotReady) {
  lb::CheckSettings s;
  s.healthyThreshold = 2;
  auto clock = t0;
  auto t = run(lb::registered(clock), s, Outcome::Pass, 2, clock);
  const auto d = lb::deregistered(t, clock, 30s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->state, State::Draining);
  EXPECT_EQ(d->reason, "Target.DeregistrationInProgress");
  EXPECT_FALSE(lb::drainingOver(*d, clock + 29s));
  EXPECT_TRUE(lb::drainingOver(*d, clock + 30s));
  // Checks no longer move a draining target, and leaving again keeps its end.
  auto same = lb::afterCheck(*d, check(clock + 5s, Outcome::Failed), s);
  same = lb::afterCheck(same, check(clock + 10s, Outcome::Failed), s);
  EXPECT_EQ(same.state, State::Draining);
  EXPECT_EQ(lb::deregistered(same, clock + 20s, 30s)->drainingUntil, clock + 30s);
}

TEST(LoadBalancerTargetHealth, ATargetThatNeverServedOrHasNoDelayGoesAtOnce) {
  lb::CheckSettings s;
  auto clock = t0;
  EXPECT_FALSE(lb::deregistered(lb::registered(clock), clock, 300s));
  auto bad = run(lb::registered(clock), s, Outcome::Failed, 2, clock);
  EXPECT_FALSE(lb::deregistered(bad, clock, 300s));
  s.healthyThreshold = 2;
  auto good = run(lb::registered(clock), s, Outcome::Pass, 2, clock);
  EXPECT_FALSE(lb::deregistered(good, clock, 0s));
}

TEST(LoadBalancerTargetHealth, AStoppedInstanceIsUnusedAndNotChecked) {
  lb::CheckSettings s;
  s.healthyThreshold = 2;
  auto clock = t0;
  auto t = lb::notRunning(run(lb::registered(clock), s, Outcome::Pass, 2, clock), clock);
  EXPECT_EQ(t.state, State::Unused);
  EXPECT_EQ(t.reason, "Target.InvalidState");
  t = run(t, s, Outcome::Pass, 5, clock);
  EXPECT_EQ(t.state, State::Unused);
  EXPECT_EQ(lb::toString(t.state), "unused");
}

TEST(LoadBalancerTargetHealth, TheMatcherTakesOneCodeAListOrARangeAndNamesWhatItRefuses) {
  EXPECT_TRUE(lb::CodeMatcher::parse("200").accepts(200));
  EXPECT_FALSE(lb::CodeMatcher::parse("200").accepts(201));
  const auto list = lb::CodeMatcher::parse("200,202,301");
  EXPECT_TRUE(list.accepts(202));
  EXPECT_TRUE(list.accepts(301));
  EXPECT_FALSE(list.accepts(201));
  const auto range = lb::CodeMatcher::parse("200-299");
  EXPECT_TRUE(range.accepts(200));
  EXPECT_TRUE(range.accepts(299));
  EXPECT_FALSE(range.accepts(300));
  EXPECT_FALSE(range.accepts(199));
  for (const char* bad : {"", "2000", "500", "299-200", "200,", "abc", "200-"}) {
    try {
      lb::CodeMatcher::parse(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + bad + "\""), std::string::npos)
          << e.what();
    }
  }
}

TEST(LoadBalancerTargetHealth, SettingsTakeElbsDefaultsAndTheSpecWhereGiven) {
  v1::TargetGroup g;
  g.name = "web";
  g.port = 8080;
  auto s = lb::checkSettingsOf(g, "application");
  EXPECT_EQ(s.protocol, "HTTP");
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(s.path, "/");
  EXPECT_EQ(s.interval, 30s);
  EXPECT_EQ(s.timeout, 5s);
  EXPECT_EQ(s.healthyThreshold, 5);
  EXPECT_EQ(s.unhealthyThreshold, 2);
  EXPECT_TRUE(s.matcher.accepts(200));
  EXPECT_EQ(lb::checkSettingsOf(g, "network").protocol, "TCP");
  g.protocol = "UDP";
  EXPECT_EQ(lb::checkSettingsOf(g, "network").protocol, "TCP") << "UDP groups are checked by TCP";

  g.protocol = "HTTP";
  v1::TargetGroupHealthCheck h;
  h.port = kubec2::api::IntOrString{std::int64_t{9000}};
  h.path = "/healthz";
  h.intervalSeconds = 5;
  h.timeoutSeconds = 2;
  h.healthyThresholdCount = 2;
  h.unhealthyThresholdCount = 3;
  h.matcher = v1::HealthCheckMatcher{.httpCode = "200-399"};
  g.healthCheck = h;
  s = lb::checkSettingsOf(g, "application");
  EXPECT_EQ(s.port, 9000);
  EXPECT_EQ(s.path, "/healthz");
  EXPECT_EQ(s.interval, 5s);
  EXPECT_EQ(s.timeout, 2s);
  EXPECT_EQ(s.healthyThreshold, 2);
  EXPECT_EQ(s.unhealthyThreshold, 3);
  EXPECT_TRUE(s.matcher.accepts(302));
  g.healthCheck->port = kubec2::api::IntOrString{std::string("traffic-port")};
  EXPECT_EQ(lb::checkSettingsOf(g, "application").port, 8080);
}

TEST(LoadBalancerTargetHealth, AHealthCheckPortGivenAsTextIsTheNumberItSays) {
  auto group = [](kubec2::api::IntOrString port) {
    v1::TargetGroup g;
    g.name = "app";
    g.port = 80;
    g.healthCheck = v1::TargetGroupHealthCheck{};
    g.healthCheck->port = port;
    return g;
  };
  EXPECT_EQ(
      lb::checkSettingsOf(group(kubec2::api::IntOrString{std::string("8080")}), "application").port,
      8080)
      << "ELB's string form";
  EXPECT_EQ(
      lb::checkSettingsOf(group(kubec2::api::IntOrString{std::int64_t{9090}}), "application").port,
      9090);
  EXPECT_EQ(lb::checkSettingsOf(group(kubec2::api::IntOrString{std::string("traffic-port")}),
                                "application")
                .port,
            80);
  EXPECT_FALSE(kubec2::api::healthCheckPortNumber("0"));
  EXPECT_FALSE(kubec2::api::healthCheckPortNumber("70000"));
  EXPECT_FALSE(kubec2::api::healthCheckPortNumber("-1"));
  EXPECT_FALSE(kubec2::api::healthCheckPortNumber("abc"));
}

}  // namespace
