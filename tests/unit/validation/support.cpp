#include "tests/unit/validation/support.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>

#include "runtime/yaml.h"

namespace kubec2::api::vtest {

using testing::HasSubstr;

bool fakeZones(const std::string& name) {
  return name != kUnknownZone;
}

json objectOf(const char* kind, json spec) {
  return {{"apiVersion", "compute.kubec2.io/v1alpha1"},
          {"kind", kind},
          {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
          {"spec", std::move(spec)}};
}

json scalingGroup() {
  return objectOf("ScalingGroup",
                  {{"minSize", 1}, {"maxSize", 5}, {"launchTemplateRef", {{"name", "web"}}}});
}

json launchSpec() {
  return {{"image", {{"containerDisk", "quay.io/containerdisks/fedora:40"}}},
          {"instanceType", "t3.micro"}};
}

json instance() {
  return objectOf("Instance", launchSpec());
}

// An instance with a persistent root volume (a containerDisk image takes none).
json instanceWithVolumes() {
  json spec = {{"image", {{"registry", "docker://quay.io/containerdisks/ubuntu:24.04"}}},
               {"instanceType", "m5.large"},
               {"volumes",
                {{"root", {{"sizeGiB", 20}}},
                 {"extra", json::array({{{"name", "data"}, {"sizeGiB", 100}}})}}}};
  return objectOf("Instance", std::move(spec));
}

json launchTemplate() {
  return objectOf("LaunchTemplate", {{"versions", json::array({{{"spec", launchSpec()}}})}});
}

json loadBalancer() {
  return objectOf(
      "LoadBalancer",
      {{"type", "application"},
       {"listeners",
        json::array({{{"port", 80}, {"protocol", "HTTP"}, {"defaultTargetGroup", "web"}}})},
       {"targetGroups", json::array({{{"name", "web"},
                                      {"port", 80},
                                      {"targets", {{"scalingGroupRef", {{"name", "web"}}}}}}})}});
}

// A network load balancer with one TCP listener.
json networkLoadBalancer() {
  json lb = loadBalancer();
  lb["spec"]["type"] = "network";
  lb["spec"]["listeners"][0]["protocol"] = "TCP";
  return lb;
}

// `base` with each JSON pointer set to its value (missing objects are created).
json with(json base, std::initializer_list<std::pair<std::string, json>> changes) {
  for (const auto& [pointer, value] : changes) base[json::json_pointer(pointer)] = value;
  return base;
}

json without(json base, const std::string& pointer) {
  return base.patch(json::array({{{"op", "remove"}, {"path", pointer}}}));
}

// ScalingGroup pieces.
json cpuTarget() {
  return {{"predefinedMetric", "ASGAverageCPUUtilization"}, {"targetValue", 50}};
}
json customTarget(const std::string& query) {
  return {{"customMetric", {{"query", query}}}, {"targetValue", 50}};
}
json targetTrackingPolicy(json config) {
  return {{"name", "cpu"}, {"type", "TargetTracking"}, {"targetTracking", std::move(config)}};
}
json step(std::optional<double> lower, std::optional<double> upper, int adjustment) {
  json s = {{"scalingAdjustment", adjustment}};
  if (lower) s["metricIntervalLowerBound"] = *lower;
  if (upper) s["metricIntervalUpperBound"] = *upper;
  return s;
}
// CPU above 80: +1 from 80 to 90, +2 from 90.
json stepScaling() {
  return {{"adjustmentType", "ChangeInCapacity"},
          {"alarm",
           {{"predefinedMetric", "CPUUtilization"},
            {"comparisonOperator", "GreaterThanThreshold"},
            {"threshold", 80}}},
          {"stepAdjustments", json::array({step(0, 10, 1), step(10, std::nullopt, 2)})}};
}
json stepPolicy() {
  return {{"name", "burst"}, {"type", "StepScaling"}, {"stepScaling", stepScaling()}};
}
json withPolicy(json policy) {
  return with(scalingGroup(), {{"/spec/scalingPolicies", json::array({std::move(policy)})}});
}
json withStepScaling(std::initializer_list<std::pair<std::string, json>> changes) {
  json policy = stepPolicy();
  for (const auto& [pointer, value] : changes)
    policy["stepScaling"][json::json_pointer(pointer)] = value;
  return withPolicy(std::move(policy));
}
json action() {
  return {{"name", "mornings"}, {"recurrence", "0 8 * * *"}, {"minSize", 2}};
}
json withAction(json a) {
  return with(scalingGroup(), {{"/spec/scheduledActions", json::array({std::move(a)})}});
}
json withActionChanged(std::initializer_list<std::pair<std::string, json>> changes) {
  return withAction(with(action(), changes));
}

std::vector<FieldError> create(const json& object) {
  return validate({object.value("kind", ""), Operation::Create, object, nullptr}, fakeZones);
}
std::vector<FieldError> update(const json& old, const json& object) {
  return validate({object.value("kind", ""), Operation::Update, object, old}, fakeZones);
}

// For failure output: what validate() said.
std::string messages(const std::vector<FieldError>& errs) {
  std::string out;
  for (const auto& e : errs) out += "\n  " + e.message();
  return errs.empty() ? "no errors" : out;
}

// The one error validate() returns, with the field, type and words expected.
void expectOneError(const std::vector<FieldError>& errs, const std::string& field, Type type,
                    const std::string& words) {
  ASSERT_EQ(errs.size(), 1u) << messages(errs);
  EXPECT_EQ(errs[0].field, field) << errs[0].message();
  // By the metav1 cause type, which names the type in the failure output.
  EXPECT_EQ(errs[0].causeType(), (FieldError{type, "", nullptr, ""}.causeType()))
      << errs[0].message();
  EXPECT_THAT(errs[0].message(), HasSubstr(words));
}

json withRule(json ingress) {
  if (!ingress.contains("sources")) ingress["sources"] = json::array({{{"cidr", "0.0.0.0/0"}}});
  return with(instance(),
              {{"/spec/securityGroups",
                json::array({{{"name", "web"}, {"ingress", json::array({ingress})}}})}});
}
json withSelector(json expression) {
  return withRule(
      {{"sources",
        json::array({{{"instanceSelector", {{"matchExpressions", json::array({expression})}}}}})}});
}

json withListener(json lb, json listener) {
  lb["spec"]["listeners"].push_back(std::move(listener));
  return lb;
}
json httpsListener() {
  return {{"port", 443},
          {"protocol", "HTTPS"},
          {"defaultTargetGroup", "web"},
          {"certificate", {{"name", "web-tls"}}}};
}

// [[[...[]...]]], `depth` arrays deep, built without recursion.
json nestedArrays(size_t depth) {
  json j = json::array();
  for (size_t i = 1; i < depth; ++i) j = json::array({std::move(j)});
  return j;
}

// Every position of `j`, as a JSON pointer.
void allPointers(const json& j, const json::json_pointer& at,
                 std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (j.is_object())
    for (const auto& [key, value] : j.items()) allPointers(value, at / key, out);
  else if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) allPointers(j[i], at / i, out);
}

std::vector<json> exampleDocuments() {
  std::vector<json> docs;
  const auto dir = std::filesystem::path(KUBEC2_SOURCE_DIR) / "examples";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    for (auto& doc : kube::parseYamlDocuments(text.str())) docs.push_back(std::move(doc));
  }
  return docs;
}

void PrintTo(const Refused& c, std::ostream* os) {
  *os << c.name;
}
Refused refused(std::string name, json object, std::string field, Type type, std::string words) {
  return {std::move(name), std::move(object), nullptr, std::move(field), type, std::move(words)};
}
Refused refusedUpdate(std::string name, json old, json object, std::string field, Type type,
                      std::string words) {
  return {std::move(name), std::move(object), std::move(old), std::move(field), type,
          std::move(words)};
}

void PrintTo(const Admitted& c, std::ostream* os) {
  *os << c.name;
}
Admitted admitted(std::string name, json object) {
  return {std::move(name), std::move(object), nullptr};
}
Admitted admittedUpdate(std::string name, json old, json object) {
  return {std::move(name), std::move(object), std::move(old)};
}

TEST_P(ValidationRefused, OneErrorNamingTheFieldAndTheRule) {
  const Refused& c = GetParam();
  const auto errs = c.old.is_null() ? create(c.object) : update(c.old, c.object);
  expectOneError(errs, c.field, c.type, c.words);
}

TEST_P(ValidationAdmitted, NoErrors) {
  const Admitted& c = GetParam();
  const auto errs = c.old.is_null() ? create(c.object) : update(c.old, c.object);
  EXPECT_TRUE(errs.empty()) << messages(errs);
}

}  // namespace kubec2::api::vtest
