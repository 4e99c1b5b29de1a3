// Every example manifest survives a round trip through the generated C++
// types unchanged, and a field of the wrong type is an error naming its path.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "api/v1alpha1/types.h"
#include "runtime/yaml.h"

namespace kubec2::api::v1alpha1 {
namespace {

namespace fs = std::filesystem;

nlohmann::json roundTrip(const nlohmann::json& j) {
  const std::string kind = j.value("kind", "");
  if (kind == "Instance") return Instance::fromJson(j).toJson();
  if (kind == "LaunchTemplate") return LaunchTemplate::fromJson(j).toJson();
  if (kind == "ScalingGroup") return ScalingGroup::fromJson(j).toJson();
  if (kind == "LoadBalancer") return LoadBalancer::fromJson(j).toJson();
  if (kind == "ElasticIP") return ElasticIP::fromJson(j).toJson();
  if (kind == "Snapshot") return Snapshot::fromJson(j).toJson();
  throw std::invalid_argument("not a compute.kubec2.io kind: " + kind);
}

std::vector<std::pair<std::string, nlohmann::json>> exampleDocuments() {
  std::vector<std::pair<std::string, nlohmann::json>> out;
  for (const auto& e : fs::directory_iterator(std::string(KUBEC2_SOURCE_DIR) + "/examples")) {
    if (e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    int i = 0;
    for (auto& doc : kube::parseYamlDocuments(text.str()))
      if (doc.value("apiVersion", "") == "compute.kubec2.io/v1alpha1")
        out.emplace_back(e.path().filename().string() + "#" + std::to_string(i++), doc);
  }
  return out;
}

TEST(ApiTypes, EveryExampleRoundTripsUnchanged) {
  const auto docs = exampleDocuments();
  std::set<std::string> kinds;
  for (const auto& [where, doc] : docs) {
    kinds.insert(doc["kind"].get<std::string>());
    nlohmann::json back;
    ASSERT_NO_THROW(back = roundTrip(doc)) << where;
    EXPECT_EQ(back, doc) << where << "\n" << nlohmann::json::diff(doc, back).dump(2);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"Instance", "LaunchTemplate", "ScalingGroup",
                                          "LoadBalancer", "ElasticIP", "Snapshot"}))
      << "examples/ should show every kind";
}

TEST(ApiTypes, WrongTypeNamesThePath) {
  const nlohmann::json sg = {{"apiVersion", "compute.kubec2.io/v1alpha1"},
                             {"kind", "ScalingGroup"},
                             {"metadata", {{"name", "web"}}},
                             {"spec", {{"minSize", "three"}}}};
  try {
    ScalingGroup::fromJson(sg);
    FAIL() << "a string minSize was accepted";
  } catch (const ApiTypeError& e) {
    EXPECT_EQ(e.path(), "spec.minSize") << e.what();
    EXPECT_NE(std::string(e.what()).find("expected an integer"), std::string::npos) << e.what();
  }
}

TEST(ApiTypes, MissingSpecIsRequired) {
  try {
    Instance::fromJson({{"apiVersion", "compute.kubec2.io/v1alpha1"}, {"kind", "Instance"}});
    FAIL() << "an Instance without spec was accepted";
  } catch (const ApiTypeError& e) {
    EXPECT_EQ(e.path(), "spec");
  }
}

TEST(ApiTypes, ResourcesNameTheCrds) {
  EXPECT_EQ(Instance::resource().resource, "instances");
  EXPECT_EQ(LaunchTemplate::resource().resource, "launchtemplates");
  EXPECT_EQ(ScalingGroup::resource().resource, "scalinggroups");
  EXPECT_EQ(LoadBalancer::resource().resource, "loadbalancers");
  EXPECT_EQ(ElasticIP::resource().resource, "elasticips");
  EXPECT_EQ(Instance::resource().apiVersion(), "compute.kubec2.io/v1alpha1");
}

}  // namespace
}  // namespace kubec2::api::v1alpha1
