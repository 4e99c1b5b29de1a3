// The LoadBalancer rules and defaults (api/validation/load_balancer.cpp).
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/validation/support.h"

namespace kubec2::api::vtest {
namespace {

json rule(int priority, const std::string& group) {
  return {{"priority", priority},
          {"conditions", {{"pathPatterns", {"/api/*"}}}},
          {"targetGroup", group}};
}

std::vector<Refused> loadBalancerRefused() {
  const json lb = loadBalancer();
  const json nlb = networkLoadBalancer();
  return {
      refused("DuplicateListenerPort",
              withListener(lb, {{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "web"}}),
              "spec.listeners[1].port", Type::Duplicate,
              "spec.listeners[1].port: Duplicate value: 80"),
      refused("DuplicateTargetGroupName",
              with(lb, {{"/spec/targetGroups/1", lb["spec"]["targetGroups"][0]}}),
              "spec.targetGroups[1].name", Type::Duplicate, "Duplicate value: \"web\""),
      refused("ApplicationWithTcpListener", with(lb, {{"/spec/listeners/0/protocol", "TCP"}}),
              "spec.listeners[0].protocol", Type::Invalid,
              "Invalid value: \"TCP\": must be HTTP or HTTPS: spec.type is application"),
      // type defaults to application.
      refused("DefaultTypeWithUdpListener",
              with(without(lb, "/spec/type"), {{"/spec/listeners/0/protocol", "UDP"}}),
              "spec.listeners[0].protocol", Type::Invalid, "must be HTTP or HTTPS"),
      refused("NetworkWithHttpListener", with(nlb, {{"/spec/listeners/0/protocol", "HTTP"}}),
              "spec.listeners[0].protocol", Type::Invalid,
              "Invalid value: \"HTTP\": must be TCP, UDP or TLS: spec.type is network"),
      refused("HttpsWithoutCertificate", withListener(lb, without(httpsListener(), "/certificate")),
              "spec.listeners[1].certificate", Type::Required,
              "Required value: a HTTPS listener needs a certificate (a kubernetes.io/tls Secret)"),
      refused("TlsWithoutCertificate", with(nlb, {{"/spec/listeners/0/protocol", "TLS"}}),
              "spec.listeners[0].certificate", Type::Required,
              "a TLS listener needs a certificate"),
      refused("HttpWithCertificate",
              with(lb, {{"/spec/listeners/0/certificate", {{"name", "web-tls"}}}}),
              "spec.listeners[0].certificate", Type::Forbidden,
              "Forbidden: only HTTPS and TLS listeners take a certificate"),
      refused("DefaultTargetGroupUnknown",
              with(lb, {{"/spec/listeners/0/defaultTargetGroup", "api"}}),
              "spec.listeners[0].defaultTargetGroup", Type::NotFound,
              "Not found: \"api\": must name a target group of spec.targetGroups"),
      refused("RuleTargetGroupUnknown", with(lb, {{"/spec/listeners/0/rules/0", rule(10, "api")}}),
              "spec.listeners[0].rules[0].targetGroup", Type::NotFound, "Not found: \"api\""),
      refused(
          "DuplicateRulePriority",
          with(lb, {{"/spec/listeners/0/rules", json::array({rule(10, "web"), rule(10, "web")})}}),
          "spec.listeners[0].rules[1].priority", Type::Duplicate, "Duplicate value: 10"),
      refused("MatcherRangeBackwards",
              with(lb, {{"/spec/targetGroups/0/healthCheck",
                         {{"matcher", {{"httpCode", "200,299-200"}}}}}}),
              "spec.targetGroups[0].healthCheck.matcher.httpCode", Type::Invalid,
              "the range 299-200 ends before it starts: write it low-high, such as 200-299"),
      refused("SelectorLabelKeyInvalid",
              with(lb, {{"/spec/targetGroups/0/targets",
                         {{"instanceSelector", {{"matchLabels", {{"bad key!", "web"}}}}}}}}),
              "spec.targetGroups[0].targets.instanceSelector.matchLabels", Type::Invalid,
              "Invalid value: \"bad key!\": a label key's name must be at most 63 characters"),
      refused("SelectorLabelValueInvalid",
              with(lb, {{"/spec/targetGroups/0/targets",
                         {{"instanceSelector", {{"matchLabels", {{"tier", "-web"}}}}}}}}),
              "spec.targetGroups[0].targets.instanceSelector.matchLabels[tier]", Type::Invalid,
              "a label value must be empty or at most 63 characters"),
      refused("RulesOnATcpListener", with(nlb, {{"/spec/listeners/0/rules/0", rule(10, "web")}}),
              "spec.listeners[0].rules", Type::Forbidden,
              "Forbidden: only HTTP and HTTPS listeners take rules"),
      refused("HealthCheckTimeoutEqualToInterval",
              with(lb, {{"/spec/targetGroups/0/healthCheck",
                         {{"intervalSeconds", 10}, {"timeoutSeconds", 10}}}}),
              "spec.targetGroups[0].healthCheck.timeoutSeconds", Type::Invalid,
              "Invalid value: 10: must be less than "
              "spec.targetGroups[0].healthCheck.intervalSeconds (10)"),
      refused("HealthCheckTimeoutAtTheDefaultInterval",
              with(lb, {{"/spec/targetGroups/0/healthCheck/timeoutSeconds", 30}}),
              "spec.targetGroups[0].healthCheck.timeoutSeconds", Type::Invalid,
              "Invalid value: 30: must be less than "
              "spec.targetGroups[0].healthCheck.intervalSeconds (30, the default)"),
      // timeoutSeconds defaults to 5.
      refused("HealthCheckIntervalAtTheDefaultTimeout",
              with(lb, {{"/spec/targetGroups/0/healthCheck/intervalSeconds", 5}}),
              "spec.targetGroups[0].healthCheck.timeoutSeconds", Type::Invalid,
              "Invalid value: 5: must be less than"),
      refused(
          "TargetSelectorInWithoutValues",
          with(lb,
               {{"/spec/targetGroups/0/targets",
                 {{"instanceSelector",
                   {{"matchExpressions", json::array({{{"key", "app"}, {"operator", "In"}}})}}}}}}),
          "spec.targetGroups[0].targets.instanceSelector.matchExpressions[0].values",
          Type::Required, "must be specified"),
  };
}

std::vector<Admitted> loadBalancerAdmitted() {
  const json lb = loadBalancer();
  const json nlb = networkLoadBalancer();
  return {
      admitted("Minimal", lb),
      admitted(
          "HttpsWithCertificateAndRules",
          with(withListener(lb, httpsListener()),
               {{"/spec/listeners/1/rules", json::array({rule(10, "web"), rule(20, "web")})}})),
      admitted("SamePriorityOnTwoListeners",
               with(withListener(lb, httpsListener()),
                    {{"/spec/listeners/0/rules/0", rule(10, "web")},
                     {"/spec/listeners/1/rules/0", rule(10, "web")}})),
      admitted(
          "NetworkTcpUdpAndTls",
          withListener(
              withListener(nlb, {{"port", 53}, {"protocol", "UDP"}, {"defaultTargetGroup", "web"}}),
              {{"port", 443},
               {"protocol", "TLS"},
               {"defaultTargetGroup", "web"},
               {"certificate", {{"name", "web-tls"}}}})),
      admitted("NetworkWithEmptyRules", with(nlb, {{"/spec/listeners/0/rules", json::array()}})),
      admitted("HealthCheckTimeoutUnderTheDefaultInterval",
               with(lb, {{"/spec/targetGroups/0/healthCheck/timeoutSeconds", 29}})),
      admitted("HealthCheckShortIntervalWithDefaultTimeout",
               with(lb, {{"/spec/targetGroups/0/healthCheck/intervalSeconds", 6}})),
  };
}

INSTANTIATE_TEST_SUITE_P(ValidationLoadBalancer, ValidationRefused,
                         testing::ValuesIn(loadBalancerRefused()), caseName<Refused>);
INSTANTIATE_TEST_SUITE_P(ValidationLoadBalancer, ValidationAdmitted,
                         testing::ValuesIn(loadBalancerAdmitted()), caseName<Admitted>);

// ---------------------------------------------------------------- defaults

json addOp(const std::string& path, json value) {
  return {{"op", "add"}, {"path", path}, {"value", std::move(value)}};
}

TEST(ValidationLoadBalancer, DefaultsNetworkTargetGroupToTcp) {
  EXPECT_EQ(defaultsPatch("LoadBalancer", networkLoadBalancer()),
            json::array({addOp("/spec/targetGroups/0/protocol", "TCP"),
                         addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "TCP"}})}));
  // An existing health check gets its protocol, and keeps the rest.
  EXPECT_EQ(defaultsPatch("LoadBalancer",
                          with(networkLoadBalancer(),
                               {{"/spec/targetGroups/0/healthCheck/intervalSeconds", 10}})),
            json::array({addOp("/spec/targetGroups/0/protocol", "TCP"),
                         addOp("/spec/targetGroups/0/healthCheck/protocol", "TCP")}));
}

TEST(ValidationLoadBalancer, DefaultsTargetGroupBehindOnlyUdpListenersToUdpCheckedOverTcp) {
  json lb = with(networkLoadBalancer(), {{"/spec/listeners/0/protocol", "UDP"}});
  lb = withListener(lb, {{"port", 5353}, {"protocol", "UDP"}, {"defaultTargetGroup", "web"}});
  EXPECT_EQ(defaultsPatch("LoadBalancer", lb),
            json::array({addOp("/spec/targetGroups/0/protocol", "UDP"),
                         addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "TCP"}})}));
  // One TCP listener among them: TCP.
  lb = withListener(lb, {{"port", 8080}, {"protocol", "TCP"}, {"defaultTargetGroup", "web"}});
  EXPECT_EQ(defaultsPatch("LoadBalancer", lb)[0], addOp("/spec/targetGroups/0/protocol", "TCP"));
}

TEST(ValidationLoadBalancer, DefaultsApplicationTargetGroupToHttp) {
  const json expected =
      json::array({addOp("/spec/targetGroups/0/protocol", "HTTP"),
                   addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "HTTP"}})});
  EXPECT_EQ(defaultsPatch("LoadBalancer", loadBalancer()), expected);
  EXPECT_EQ(defaultsPatch("LoadBalancer", without(loadBalancer(), "/spec/type")), expected);
}

TEST(ValidationLoadBalancer, DefaultsLeaveAnExistingProtocolAlone) {
  const json https = with(loadBalancer(), {{"/spec/targetGroups/0/protocol", "HTTPS"}});
  EXPECT_EQ(defaultsPatch("LoadBalancer", https),
            json::array({addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "HTTPS"}})}));
  EXPECT_EQ(defaultsPatch("LoadBalancer",
                          with(https, {{"/spec/targetGroups/0/healthCheck/protocol", "TCP"}})),
            json::array());
  // A TLS group behind a network load balancer is checked over TCP.
  EXPECT_EQ(defaultsPatch("LoadBalancer",
                          with(networkLoadBalancer(), {{"/spec/targetGroups/0/protocol", "TLS"}})),
            json::array({addOp("/spec/targetGroups/0/healthCheck", {{"protocol", "TCP"}})}));
}

}  // namespace
}  // namespace kubec2::api::vtest
