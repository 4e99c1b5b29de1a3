// A LoadBalancer rendered as its Service, EndpointSlices and Ingress: what
// `kubectl get svc,endpointslices,ingress -l compute.kubec2.io/load-balancer=web`
// would show.
#include "reconcilers/loadbalancer/render.h"

#include <gtest/gtest.h>

#include <set>

#include "api/well_known.h"

namespace {

using nlohmann::json;
namespace lb = kubec2::reconcilers::loadbalancer;
namespace v1 = kubec2::api::v1alpha1;
using lb::DiscoveryVersion;
using lb::EndpointCondition;

v1::LoadBalancer loadBalancer(json spec, json annotations = json::object()) {
  return v1::LoadBalancer::fromJson(
      {{"apiVersion", "compute.kubec2.io/v1alpha1"},
       {"kind", "LoadBalancer"},
       {"metadata",
        {{"name", "web"}, {"namespace", "shop"}, {"uid", "lb-uid"}, {"annotations", annotations}}},
       {"spec", std::move(spec)}});
}

json group(const std::string& name, int port) {
  return {{"name", name}, {"port", port}, {"targets", {{"scalingGroupRef", {{"name", "asg"}}}}}};
}

// One HTTP listener on 80 to target group "app" on 8080.
json simpleSpec(const std::string& scheme = "internal") {
  return {{"type", "application"},
          {"scheme", scheme},
          {"listeners",
           json::array({{{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "app"}}})},
          {"targetGroups", json::array({group("app", 8080)})}};
}

lb::Endpoint endpoint(int i, EndpointCondition c = EndpointCondition::Ready) {
  char name[32];
  std::snprintf(name, sizeof name, "app-%03d", i);
  return lb::Endpoint{name,
                      std::string("uid-") + name,
                      "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
                      "",
                      "",
                      c};
}

std::vector<lb::Endpoint> endpoints(int from, int to) {
  std::vector<lb::Endpoint> out;
  for (int i = from; i < to; ++i) out.push_back(endpoint(i));
  return out;
}

lb::Rendered render(const v1::LoadBalancer& l, std::vector<lb::TargetGroupEndpoints> groups = {},
                    DiscoveryVersion d = DiscoveryVersion::V1, const std::string& cls = "") {
  return lb::renderLoadBalancer(lb::RenderInput{&l, std::move(groups), d, cls});
}

// slice name -> instance names, as the controller would observe them.
std::map<std::string, std::vector<std::string>> membersOf(const std::vector<json>& slices) {
  std::map<std::string, std::vector<std::string>> out;
  for (const json& s : slices) {
    auto& members = out[s["metadata"]["name"].get<std::string>()];
    for (const json& e : s["endpoints"]) members.push_back(e["targetRef"]["name"]);
  }
  return out;
}

void expectOwnedAndLabelled(const json& obj) {
  SCOPED_TRACE(obj["kind"].get<std::string>() + " " + obj["metadata"]["name"].get<std::string>());
  EXPECT_EQ(obj["metadata"]["namespace"], "shop");
  EXPECT_EQ(obj["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kubec2");
  EXPECT_EQ(obj["metadata"]["labels"]["compute.kubec2.io/load-balancer"], "web");
  ASSERT_EQ(obj["metadata"]["ownerReferences"].size(), 1u);
  const json& ref = obj["metadata"]["ownerReferences"][0];
  EXPECT_EQ(ref["apiVersion"], "compute.kubec2.io/v1alpha1");
  EXPECT_EQ(ref["kind"], "LoadBalancer");
  EXPECT_EQ(ref["name"], "web");
  EXPECT_EQ(ref["uid"], "lb-uid");
  EXPECT_EQ(ref["controller"], true);
  EXPECT_EQ(ref["blockOwnerDeletion"], true);
  EXPECT_FALSE(obj.contains("status"));
}

// --- Service -------------------------------------------------------------------

TEST(LoadBalancerRender, TheServiceTypeFollowsTheScheme) {
  struct Case {
    std::string scheme, type;
  };
  for (const Case& c : {Case{"internal", "ClusterIP"}, Case{"internet-facing", "LoadBalancer"}}) {
    SCOPED_TRACE(c.scheme);
    auto l = loadBalancer(simpleSpec(c.scheme));
    const json svc = render(l).service;
    EXPECT_EQ(svc["apiVersion"], "v1");
    EXPECT_EQ(svc["kind"], "Service");
    EXPECT_EQ(svc["metadata"]["name"], "web");
    EXPECT_EQ(svc["spec"]["type"], c.type);
    EXPECT_FALSE(svc["spec"].contains("selector")) << "the operator keeps the endpoints";
    EXPECT_EQ(svc["spec"]["ports"], json::parse(R"([{"name":"listener-80","port":80,
                                      "protocol":"TCP","targetPort":8080}])"));
    expectOwnedAndLabelled(svc);
  }
}

TEST(LoadBalancerRender, RuleTargetGroupsGetServicePortsAboveTakenNumbers) {
  // api's port 80 is listener 80's, so api gets 81; static wants 443 (the
  // HTTPS listener's) and 444 is free; more wants 81, now api's: 82.
  json spec = {
      {"listeners",
       json::array({{{"port", 443},
                     {"protocol", "HTTPS"},
                     {"defaultTargetGroup", "app"},
                     {"certificate", {{"name", "tls"}}},
                     {"rules", json::array({{{"priority", 1},
                                             {"conditions", {{"pathPatterns", {"/s/*"}}}},
                                             {"targetGroup", "static"}}})}},
                    {{"port", 80},
                     {"protocol", "HTTP"},
                     {"defaultTargetGroup", "app"},
                     {"rules", json::array({{{"priority", 1},
                                             {"conditions", {{"pathPatterns", {"/api/*"}}}},
                                             {"targetGroup", "api"}},
                                            {{"priority", 2},
                                             {"conditions", {{"pathPatterns", {"/m/*"}}}},
                                             {"targetGroup", "more"}},
                                            {{"priority", 3},
                                             {"conditions", {{"pathPatterns", {"/a/*"}}}},
                                             {"targetGroup", "app"}}})}}})},
      {"targetGroups", json::array({group("app", 8080), group("api", 80), group("static", 443),
                                    group("more", 81), group("idle", 9000)})}};
  auto l = loadBalancer(spec);
  const json ports = render(l).service["spec"]["ports"];
  EXPECT_EQ(ports, json::parse(R"([
    {"name":"listener-80","port":80,"protocol":"TCP","targetPort":8080},
    {"name":"listener-443","port":443,"protocol":"TCP","targetPort":8080},
    {"name":"tg-api","port":81,"protocol":"TCP","targetPort":80},
    {"name":"tg-static","port":444,"protocol":"TCP","targetPort":443},
    {"name":"tg-more","port":82,"protocol":"TCP","targetPort":81}])"))
      << "listeners in port order; app is a default so needs no tg port; idle is unused";
  EXPECT_EQ(lb::servicePortName(l.spec, "app"), "listener-80");
  EXPECT_EQ(lb::servicePortName(l.spec, "more"), "tg-more");
  EXPECT_EQ(lb::servicePortName(l.spec, "idle"), "");
}

TEST(LoadBalancerRender, UdpListenersGetUdpPorts) {
  json spec = {
      {"type", "network"},
      {"listeners", json::array({{{"port", 53}, {"protocol", "UDP"}, {"defaultTargetGroup", "dns"}},
                                 {{"port", 853},
                                  {"protocol", "TLS"},
                                  {"defaultTargetGroup", "dns"},
                                  {"certificate", {{"name", "tls"}}}}})},
      {"targetGroups", json::array({group("dns", 5353)})}};
  auto l = loadBalancer(spec);
  auto r = render(l, {{"dns", {endpoint(1)}}});
  EXPECT_EQ(r.service["spec"]["ports"], json::parse(R"([
    {"name":"listener-53","port":53,"protocol":"UDP","targetPort":5353},
    {"name":"listener-853","port":853,"protocol":"TCP","targetPort":5353}])"));
  ASSERT_EQ(r.endpointSlices.size(), 1u);
  EXPECT_EQ(r.endpointSlices[0]["ports"], json::parse(R"([
    {"name":"listener-53","port":5353,"protocol":"UDP"},
    {"name":"listener-853","port":5353,"protocol":"TCP"}])"))
      << "one slice port per Service port leading to the group";
  EXPECT_FALSE(r.ingress) << "a network load balancer has no Ingress";
}

TEST(LoadBalancerRender, ALongTargetGroupPortNameIsCutWithAHashAndTheIngressUsesItsNumber) {
  const std::string longName(63, 'a');
  const std::string otherLong = std::string(62, 'a') + "b";
  json spec = simpleSpec();
  spec["listeners"][0]["rules"] = json::array(
      {{{"priority", 1}, {"conditions", {{"pathPatterns", {"/a/*"}}}}, {"targetGroup", longName}},
       {{"priority", 2}, {"conditions", {{"pathPatterns", {"/b/*"}}}}, {"targetGroup", otherLong}},
       {{"priority", 3}, {"conditions", {{"pathPatterns", {"/c/*"}}}}, {"targetGroup", "short"}}});
  spec["targetGroups"].push_back(group(longName, 9001));
  spec["targetGroups"].push_back(group(otherLong, 9002));
  spec["targetGroups"].push_back(group("short", 9003));
  auto l = loadBalancer(spec);
  const auto r = render(l);
  const json ports = r.service["spec"]["ports"];
  ASSERT_EQ(ports.size(), 4u);
  const std::string a = ports[1]["name"], b = ports[2]["name"];
  EXPECT_LE(a.size(), 63u);
  EXPECT_LE(b.size(), 63u);
  EXPECT_EQ(a.rfind("tg-aaaa", 0), 0u) << a;
  EXPECT_NE(a, b) << "the hash tells two long names apart";
  EXPECT_EQ(a, lb::servicePortName(l.spec, longName)) << "deterministic";
  EXPECT_EQ(ports[3]["name"], "tg-short");

  // Ingress backends take IANA service names (15 characters at most).
  const json paths = r.ingress->at("spec")["rules"][0]["http"]["paths"];
  EXPECT_EQ(paths[0]["backend"]["service"]["port"], json({{"number", 9001}}));
  EXPECT_EQ(paths[2]["backend"]["service"]["port"], json({{"name", "tg-short"}}));
}

// --- EndpointSlices --------------------------------------------------------------

TEST(LoadBalancerRender, EachTargetStateHasItsEndpointConditions) {
  struct Case {
    EndpointCondition condition;
    bool ready, serving, terminating;
  };
  for (const Case& c : {Case{EndpointCondition::Ready, true, true, false},
                        Case{EndpointCondition::Terminating, false, true, true},
                        Case{EndpointCondition::NotReady, false, false, false}}) {
    SCOPED_TRACE(static_cast<int>(c.condition));
    auto l = loadBalancer(simpleSpec());
    auto r = render(l, {{"app", {endpoint(7, c.condition)}}});
    ASSERT_EQ(r.endpointSlices.size(), 1u);
    const json e = r.endpointSlices[0]["endpoints"][0];
    EXPECT_EQ(e["conditions"],
              json({{"ready", c.ready}, {"serving", c.serving}, {"terminating", c.terminating}}));
    EXPECT_EQ(e["addresses"], json::array({"10.0.0.8"}));
  }
}

TEST(LoadBalancerRender, SlicesAreManagedByKubec2AndNamedAfterTheServicePorts) {
  auto l = loadBalancer(simpleSpec());
  const json s = render(l, {{"app", endpoints(0, 2)}}).endpointSlices.at(0);
  expectOwnedAndLabelled(s);
  EXPECT_EQ(s["metadata"]["name"], "web.app-0");
  EXPECT_EQ(s["metadata"]["labels"]["kubernetes.io/service-name"], "web");
  EXPECT_EQ(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
            "loadbalancer.compute.kubec2.io");
  EXPECT_NE(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
            "endpointslice-controller.k8s.io");
  EXPECT_EQ(s["metadata"]["labels"]["compute.kubec2.io/target-group"], "app");
  EXPECT_EQ(s["addressType"], "IPv4");
  EXPECT_EQ(s["ports"], json::parse(R"([{"name":"listener-80","port":8080,"protocol":"TCP"}])"))
      << "kube-proxy pairs a Service port with the slice port of the same name";
  EXPECT_EQ(s["endpoints"][0]["targetRef"],
            json::parse(R"({"kind":"Instance","apiVersion":"compute.kubec2.io/v1alpha1",
                            "namespace":"shop","name":"app-000","uid":"uid-app-000"})"));
}

TEST(LoadBalancerRender, V1AndV1beta1PlaceNodeAndZoneDifferently) {
  auto l = loadBalancer(simpleSpec());
  lb::Endpoint e = endpoint(0);
  e.nodeName = "node-a";
  e.zone = "zone-1";
  lb::Endpoint unknown = endpoint(1);

  const json s1 = render(l, {{"app", {e, unknown}}}, DiscoveryVersion::V1).endpointSlices[0];
  EXPECT_EQ(s1["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_EQ(s1["endpoints"][0]["nodeName"], "node-a");
  EXPECT_EQ(s1["endpoints"][0]["zone"], "zone-1");
  EXPECT_FALSE(s1["endpoints"][0].contains("topology"));
  EXPECT_FALSE(s1["endpoints"][1].contains("nodeName")) << "unknown is left out, not empty";

  const json sb = render(l, {{"app", {e, unknown}}}, DiscoveryVersion::V1beta1).endpointSlices[0];
  EXPECT_EQ(sb["apiVersion"], "discovery.k8s.io/v1beta1");
  EXPECT_EQ(sb["endpoints"][0]["topology"], json({{"kubernetes.io/hostname", "node-a"},
                                                  {"topology.kubernetes.io/zone", "zone-1"}}));
  EXPECT_FALSE(sb["endpoints"][0].contains("nodeName"));
  EXPECT_FALSE(sb["endpoints"][0].contains("zone"));
  EXPECT_FALSE(sb["endpoints"][1].contains("topology"));
}

TEST(LoadBalancerRender, TwoHundredFiftyTargetsMakeThreeSlices) {
  auto l = loadBalancer(simpleSpec());
  const auto r = render(l, {{"app", endpoints(0, 250)}});
  ASSERT_EQ(r.endpointSlices.size(), 3u);
  std::set<std::string> all;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.endpointSlices[i]["metadata"]["name"], "web.app-" + std::to_string(i));
    for (const json& e : r.endpointSlices[i]["endpoints"]) all.insert(e["targetRef"]["name"]);
  }
  EXPECT_EQ(r.endpointSlices[0]["endpoints"].size(), 100u);
  EXPECT_EQ(r.endpointSlices[1]["endpoints"].size(), 100u);
  EXPECT_EQ(r.endpointSlices[2]["endpoints"].size(), 50u);
  EXPECT_EQ(all.size(), 250u) << "every target exactly once";
}

TEST(LoadBalancerRender, ATargetJoiningOrLeavingMovesNoOtherTarget) {
  auto l = loadBalancer(simpleSpec());
  const auto first = render(l, {{"app", endpoints(0, 250)}});
  const auto before = membersOf(first.endpointSlices);

  // app-005 (slice 0) leaves and app-900 joins: it takes the room in slice
  // 0, and slices 1 and 2 are rendered exactly as before.
  auto now = endpoints(0, 250);
  now.erase(now.begin() + 5);
  now.push_back(endpoint(900));
  const auto second = render(l, {{"app", now, before}});
  ASSERT_EQ(second.endpointSlices.size(), 3u);
  EXPECT_EQ(second.endpointSlices[1], first.endpointSlices[1]);
  EXPECT_EQ(second.endpointSlices[2], first.endpointSlices[2]);
  const auto after = membersOf(second.endpointSlices);
  const auto& s0 = after.at("web.app-0");
  EXPECT_NE(std::find(s0.begin(), s0.end(), "app-900"), s0.end());
  EXPECT_EQ(std::find(s0.begin(), s0.end(), "app-005"), s0.end());

  // A target sorting first joins: with no room in slices 0 and 1 it goes
  // to slice 2, and slices 0 and 1 stay as they were (a fresh packing
  // would shift every slice by one).
  now.push_back(lb::Endpoint{"aaa-first", "uid-aaa", "10.9.9.9", "", "", EndpointCondition::Ready});
  const auto third = render(l, {{"app", now, after}});
  EXPECT_EQ(third.endpointSlices[0], second.endpointSlices[0]);
  EXPECT_EQ(third.endpointSlices[1], second.endpointSlices[1]);
  EXPECT_EQ(third.endpointSlices[2]["endpoints"].size(), 51u);

  // Slice 2's targets all leave: slice 2 goes, the others stay.
  std::vector<lb::Endpoint> fewer;
  for (const lb::Endpoint& e : now)
    if (std::find(after.at("web.app-2").begin(), after.at("web.app-2").end(), e.instance) ==
            after.at("web.app-2").end() &&
        e.instance != "aaa-first")
      fewer.push_back(e);
  const auto fourth = render(l, {{"app", fewer, membersOf(third.endpointSlices)}});
  ASSERT_EQ(fourth.endpointSlices.size(), 2u);
  EXPECT_EQ(fourth.endpointSlices[0], third.endpointSlices[0]);
  EXPECT_EQ(fourth.endpointSlices[1], third.endpointSlices[1]);
}

TEST(LoadBalancerRender, AGroupWithoutTargetsKeepsOneEmptySliceAndAnUnusedGroupNone) {
  json spec = simpleSpec();
  spec["targetGroups"].push_back(group("idle", 9000));
  auto l = loadBalancer(spec);
  const auto r = render(l);  // no targets given at all
  ASSERT_EQ(r.endpointSlices.size(), 1u) << "idle: no listener or rule uses it";
  EXPECT_EQ(r.endpointSlices[0]["metadata"]["name"], "web.app-0");
  EXPECT_EQ(r.endpointSlices[0]["endpoints"], json::array());
  EXPECT_EQ(r.endpointSlices[0]["ports"].size(), 1u);

  // The last targets leave slice 3 (the others are gone): one empty slice
  // again, number 0.
  const auto r2 = render(l, {{"app", {}, {{"web.app-3", {"app-301"}}}}});
  ASSERT_EQ(r2.endpointSlices.size(), 1u);
  EXPECT_EQ(r2.endpointSlices[0]["metadata"]["name"], "web.app-0");
}

TEST(LoadBalancerRender, IPv6TargetsGoToTheirOwnSlicesAndTargetsWithoutAnAddressToNone) {
  auto l = loadBalancer(simpleSpec());
  lb::Endpoint v6 = endpoint(1);
  v6.ip = "fd00::1";
  lb::Endpoint none = endpoint(2);
  none.ip = "";
  const auto r = render(l, {{"app", {endpoint(0), v6, none}}});
  ASSERT_EQ(r.endpointSlices.size(), 2u);
  EXPECT_EQ(r.endpointSlices[0]["addressType"], "IPv4");
  EXPECT_EQ(r.endpointSlices[0]["endpoints"].size(), 1u);
  EXPECT_EQ(r.endpointSlices[1]["metadata"]["name"], "web.app.ipv6-0");
  EXPECT_EQ(r.endpointSlices[1]["addressType"], "IPv6");
  EXPECT_EQ(r.endpointSlices[1]["endpoints"][0]["addresses"], json::array({"fd00::1"}));
}

TEST(LoadBalancerRender, SliceNamesStayWithin253Characters) {
  const std::string name = lb::endpointSliceName(std::string(240, 'w'), "app", false, 7);
  EXPECT_LE(name.size(), 253u);
  EXPECT_EQ(name.back(), '7');
  EXPECT_EQ(name, lb::endpointSliceName(std::string(240, 'w'), "app", false, 7));
  EXPECT_NE(name, lb::endpointSliceName(std::string(240, 'w'), "api", false, 7));
  EXPECT_EQ(lb::endpointSliceName("web", "app", true, 2), "web.app.ipv6-2");
}

// --- Ingress ---------------------------------------------------------------------

json rule(int priority, const std::string& group, json hosts, json paths) {
  json conditions = json::object();
  if (!hosts.is_null()) conditions["hostHeaders"] = hosts;
  if (!paths.is_null()) conditions["pathPatterns"] = paths;
  return {{"priority", priority}, {"conditions", conditions}, {"targetGroup", group}};
}

json shopSpec() {
  return {
      {"type", "application"},
      {"scheme", "internet-facing"},
      {"listeners",
       json::array(
           {{{"port", 443},
             {"protocol", "HTTPS"},
             {"defaultTargetGroup", "app"},
             {"certificate", {{"name", "shop-tls"}}},
             {"rules", json::array({rule(5, "api", {"shop.example.com", "*.shop.example.com"},
                                         {"/api/*"})})}},
            {{"port", 80},
             {"protocol", "HTTP"},
             {"defaultTargetGroup", "app"},
             {"rules", json::array({rule(20, "static", nullptr, {"/static/*", "/favicon.ico"}),
                                    rule(10, "api", {"shop.example.com"}, {"/api/*", "/health"}),
                                    // the same host and path as priority 10: ELB never gets here
                                    rule(30, "static", {"shop.example.com"}, {"/api/*"}),
                                    rule(40, "app", {"*.shop.example.com"}, nullptr)})}}})},
      {"targetGroups",
       json::array({group("app", 8080), group("api", 9090), group("static", 8081)})}};
}

TEST(LoadBalancerRender, TheIngressFollowsTheRulesInPriorityOrder) {
  auto l = loadBalancer(shopSpec());
  const auto r = render(l, {}, DiscoveryVersion::V1, "nginx");
  ASSERT_TRUE(r.ingress);
  const json& ing = *r.ingress;
  expectOwnedAndLabelled(ing);
  EXPECT_EQ(ing["apiVersion"], "networking.k8s.io/v1");
  EXPECT_EQ(ing["metadata"]["name"], "web");
  EXPECT_EQ(ing["spec"]["ingressClassName"], "nginx");
  EXPECT_EQ(ing["spec"]["defaultBackend"],
            json::parse(R"({"service":{"name":"web","port":{"name":"listener-80"}}})"))
      << "listener 80 is the lowest HTTP port";
  // Listener 80 first (port order), its rules 10, 20, 30 (dropped), 40; then
  // listener 443's rule 5, whose shop.example.com /api is taken already.
  EXPECT_EQ(ing["spec"]["rules"], json::parse(R"([
    {"host":"shop.example.com","http":{"paths":[
      {"path":"/api","pathType":"Prefix","backend":{"service":{"name":"web","port":{"name":"tg-api"}}}},
      {"path":"/health","pathType":"Exact","backend":{"service":{"name":"web","port":{"name":"tg-api"}}}}]}},
    {"http":{"paths":[
      {"path":"/static","pathType":"Prefix","backend":{"service":{"name":"web","port":{"name":"tg-static"}}}},
      {"path":"/favicon.ico","pathType":"Exact","backend":{"service":{"name":"web","port":{"name":"tg-static"}}}}]}},
    {"host":"*.shop.example.com","http":{"paths":[
      {"path":"/","pathType":"Prefix","backend":{"service":{"name":"web","port":{"name":"listener-80"}}}},
      {"path":"/api","pathType":"Prefix","backend":{"service":{"name":"web","port":{"name":"tg-api"}}}}]}}
  ])"));
  EXPECT_EQ(
      ing["spec"]["tls"],
      json::parse(
          R"([{"secretName":"shop-tls","hosts":["shop.example.com","*.shop.example.com"]}])"));
  // On port 80, ELB sends x.shop.example.com/api/... to rule 40 (app); the
  // Ingress has listener 443's longer /api for that host on every port.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "Listener 80 rule priority 40 (host *.shop.example.com, path /*) is overridden in the "
            "Ingress by listener 443 rule priority 5 (host *.shop.example.com, path /api/*) for "
            "the paths both match: ingress controllers pick the longest matching path on every "
            "port, so those requests go to target group api, not app.");
}

TEST(LoadBalancerRender, AnHttpsListenerWithoutHostRulesGetsTlsWithoutHosts) {
  json spec = simpleSpec();
  spec["listeners"][0] = {{"port", 443},
                          {"protocol", "HTTPS"},
                          {"defaultTargetGroup", "app"},
                          {"certificate", {{"name", "tls"}}}};
  auto l = loadBalancer(spec);
  const json ing = *render(l).ingress;
  EXPECT_EQ(ing["spec"]["tls"], json::parse(R"([{"secretName":"tls"}])"));
  EXPECT_FALSE(ing["spec"].contains("rules"));
  EXPECT_EQ(ing["spec"]["defaultBackend"]["service"]["port"]["name"], "listener-443");
}

TEST(LoadBalancerRender, TheIngressClassComesFromTheAnnotationThenTheOperator) {
  struct Case {
    json annotations;
    std::string operatorClass;
    std::optional<std::string> want;
  };
  for (const Case& c : {Case{json::object(), "nginx", "nginx"},
                        Case{{{"compute.kubec2.io/ingress-class", "traefik"}}, "nginx", "traefik"},
                        Case{{{"compute.kubec2.io/ingress-class", "traefik"}}, "", "traefik"},
                        Case{json::object(), "", std::nullopt}}) {
    SCOPED_TRACE(c.annotations.dump() + " " + c.operatorClass);
    auto l = loadBalancer(simpleSpec(), c.annotations);
    const json spec = render(l, {}, DiscoveryVersion::V1, c.operatorClass).ingress->at("spec");
    if (c.want)
      EXPECT_EQ(spec["ingressClassName"], *c.want);
    else
      EXPECT_FALSE(spec.contains("ingressClassName")) << "the cluster's default class then";
  }
}

TEST(LoadBalancerRender, ALaterRuleWithALongerPathIsReportedAsOverridingAnEarlierOne) {
  struct Case {
    std::string name;
    json rules;
    std::size_t warnings;
  };
  const std::vector<Case> cases = {
      {"longer prefix later",
       json::array(
           {rule(10, "api", nullptr, {"/api/*"}), rule(20, "static", nullptr, {"/api/v2/*"})}),
       1},
      {"exact under the prefix later",
       json::array({rule(10, "api", nullptr, {"/api/*"}), rule(20, "static", nullptr, {"/api/x"})}),
       1},
      {"the root prefix first",
       json::array({rule(10, "api", nullptr, {"/*"}), rule(20, "static", nullptr, {"/img/*"})}), 1},
      {"longer prefix first",
       json::array(
           {rule(10, "static", nullptr, {"/api/v2/*"}), rule(20, "api", nullptr, {"/api/*"})}),
       0},
      {"same target group",
       json::array({rule(10, "api", nullptr, {"/api/*"}), rule(20, "api", nullptr, {"/api/v2/*"})}),
       0},
      {"other host",
       json::array({rule(10, "api", {"a.example.com"}, {"/api/*"}),
                    rule(20, "static", {"b.example.com"}, {"/api/v2/*"})}),
       0},
      {"exact /x after /x/*, which does not match /x",
       json::array({rule(10, "api", nullptr, {"/api/*"}), rule(20, "static", nullptr, {"/api"})}),
       0},
      {"a sibling, not under",
       json::array(
           {rule(10, "api", nullptr, {"/api/*"}), rule(20, "static", nullptr, {"/apiv2/*"})}),
       0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json spec = simpleSpec();
    spec["listeners"][0]["rules"] = c.rules;
    spec["targetGroups"].push_back(group("api", 9090));
    spec["targetGroups"].push_back(group("static", 8081));
    auto l = loadBalancer(spec);
    const auto r = render(l);
    ASSERT_EQ(r.warnings.size(), c.warnings) << (r.warnings.empty() ? "" : r.warnings[0]);
    if (c.warnings) {
      EXPECT_NE(r.warnings[0].find("Listener 80 rule priority 10"), std::string::npos)
          << r.warnings[0];
      EXPECT_NE(r.warnings[0].find("rule priority 20"), std::string::npos) << r.warnings[0];
    }
  }
}

TEST(LoadBalancerRender, WhatOneIngressCannotSayForSeveralListenersIsReported) {
  json spec = simpleSpec();
  spec["listeners"][0]["rules"] = json::array({rule(1, "api", nullptr, {"/api/*"})});
  spec["listeners"].push_back({{"port", 8000},
                               {"protocol", "HTTP"},
                               {"defaultTargetGroup", "static"},
                               {"rules", json::array({rule(1, "static", nullptr, {"/api/*"})})}});
  spec["targetGroups"].push_back(group("api", 9090));
  spec["targetGroups"].push_back(group("static", 8081));
  auto l = loadBalancer(spec);
  const auto r = render(l);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("Listener 8000 rule priority 1 (path /api/*) routes to target "
                               "group static but listener 80"),
            std::string::npos)
      << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("Listener 8000's default target group static"), std::string::npos)
      << r.warnings[1];
  EXPECT_EQ(r.ingress->at("spec")["rules"][0]["http"]["paths"].size(), 1u);
}

TEST(LoadBalancerRender, APatternEndingInABareStarIsAPrefixWithAWarning) {
  json spec = simpleSpec();
  spec["listeners"][0]["rules"] = json::array({rule(1, "app", nullptr, {"/api/v*"})});
  auto l = loadBalancer(spec);
  const auto r = render(l);
  EXPECT_EQ(r.ingress->at("spec")["rules"][0]["http"]["paths"][0]["path"], "/api/v");
  EXPECT_EQ(r.ingress->at("spec")["rules"][0]["http"]["paths"][0]["pathType"], "Prefix");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("/api/v*"), std::string::npos) << r.warnings[0];
}

TEST(LoadBalancerRender, OnlyApplicationLoadBalancersGetAnIngress) {
  json spec = simpleSpec();
  spec["type"] = "network";
  spec["listeners"][0]["protocol"] = "TCP";
  auto l = loadBalancer(spec);
  EXPECT_FALSE(render(l).ingress);
}

TEST(LoadBalancerRender, ANullLoadBalancerIsRefused) {
  EXPECT_THROW(lb::renderLoadBalancer(lb::RenderInput{}), std::invalid_argument);
}

// --- addressOf ---------------------------------------------------------------------

TEST(LoadBalancerRender, TheAddressIsTheExternalOneElseTheClusterIp) {
  struct Case {
    std::string name;
    std::string service;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"ip",
       R"({"spec":{"clusterIP":"10.96.0.9"},"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"},{"ip":"1.1.1.1"}]}}})",
       "203.0.113.7"},
      {"hostname",
       R"({"spec":{"clusterIP":"10.96.0.9"},"status":{"loadBalancer":{"ingress":[{"hostname":"lb.example.com"}]}}})",
       "lb.example.com"},
      {"pending", R"({"spec":{"clusterIP":"10.96.0.9"},"status":{"loadBalancer":{}}})",
       "10.96.0.9"},
      {"headless", R"({"spec":{"clusterIP":"None"}})", ""},
      {"nothing yet", R"({"spec":{}})", ""},
      {"not an object", R"(null)", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(lb::addressOf(json::parse(c.service)), c.want);
  }
}

TEST(LoadBalancerRender, ARetiredGroupKeepsItsSlicesWithTheirPortsAfterTheSpecsGroups) {
  const auto l = loadBalancer(simpleSpec());
  lb::RenderInput in{&l, {{"app", {endpoint(1)}}}};
  const json oldPorts =
      json::array({{{"name", "listener-80"}, {"port", 7070}, {"protocol", "TCP"}}});
  in.retiredTargetGroups.push_back(
      {{"old", {endpoint(2, EndpointCondition::Terminating)}}, oldPorts});
  in.retiredTargetGroups.push_back(
      {{"app", {endpoint(3, EndpointCondition::Terminating)}}, oldPorts});
  in.retiredTargetGroups.push_back({{"gone", {endpoint(4, EndpointCondition::Terminating)}}, {}});
  const auto r = lb::renderLoadBalancer(in);
  ASSERT_EQ(r.endpointSlices.size(), 2u)
      << "a name back in spec is the spec's group; without ports there is no slice";
  EXPECT_EQ(r.endpointSlices[0]["metadata"]["name"], lb::endpointSliceName("web", "app", false, 0));
  EXPECT_EQ(r.endpointSlices[0]["endpoints"].size(), 1u);
  const json& old = r.endpointSlices[1];
  EXPECT_EQ(old["metadata"]["name"], lb::endpointSliceName("web", "old", false, 0));
  EXPECT_EQ(old["ports"], oldPorts);
  EXPECT_TRUE(old["endpoints"][0]["conditions"]["terminating"].get<bool>());
  EXPECT_FALSE(old["endpoints"][0]["conditions"]["ready"].get<bool>());
}

}  // namespace
