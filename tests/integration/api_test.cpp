// The compute API's CRDs on a real API server, used the way a user would:
// kubectl apply of every example with validation, nothing pruned, printer
// columns, the `kubec2` category, `kubectl scale` and `kubectl explain`.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "api/v1alpha1/types.h"
#include "runtime/yaml.h"
#include "tests/integration/child_process.h"
#include "tests/integration/helpers.h"
#include "tests/integration/kubectl.h"

namespace kube::testing {
namespace {

namespace fs = std::filesystem;
namespace v1 = kubec2::api::v1alpha1;
using namespace std::chrono_literals;

std::string examples() {
  return std::string(KUBEC2_SOURCE_DIR) + "/examples";
}

// Every value in `want` is in `got` at the same place (`got` may hold more:
// defaults, metadata). Returns the first path that differs, or "".
std::string missingFrom(const nlohmann::json& want, const nlohmann::json& got,
                        const std::string& path = "") {
  if (want.is_object()) {
    if (!got.is_object()) return path;
    for (const auto& [k, v] : want.items()) {
      if (!got.contains(k)) return path + "." + k;
      if (auto m = missingFrom(v, got[k], path + "." + k); !m.empty()) return m;
    }
    return "";
  }
  if (want.is_array()) {
    if (!got.is_array() || got.size() != want.size()) return path;
    for (size_t i = 0; i < want.size(); ++i)
      if (auto m = missingFrom(want[i], got[i], path + "[" + std::to_string(i) + "]"); !m.empty())
        return m;
    return "";
  }
  return want == got ? "" : path;
}

const Resource& resourceOf(const std::string& kind) {
  if (kind == "Instance") return v1::Instance::resource();
  if (kind == "LaunchTemplate") return v1::LaunchTemplate::resource();
  if (kind == "ScalingGroup") return v1::ScalingGroup::resource();
  if (kind == "ElasticIP") return v1::ElasticIP::resource();
  if (kind == "Snapshot") return v1::Snapshot::resource();
  return v1::LoadBalancer::resource();
}

class ComputeApi : public ::testing::Test {
 protected:
  RestClient client{adminConfig()};
  std::string ns = createNamespace(client, "api");
};

TEST_F(ComputeApi, EveryExampleAppliesWithValidationAndNothingIsPruned) {
  int applied = 0;
  for (const auto& e : fs::directory_iterator(examples())) {
    if (e.path().extension() != ".yaml") continue;
    auto [code, out] = kubectl({"apply", "--validate=true", "-n", ns, "-f", e.path().string()});
    ASSERT_EQ(code, 0) << e.path() << "\n" << out;
    for (const auto& doc : documents(e.path())) {
      if (doc.value("apiVersion", "") != "compute.kubec2.io/v1alpha1") continue;
      const std::string kind = doc["kind"], name = doc["metadata"]["name"];
      auto got = client.get(resourceOf(kind), ns, name);
      auto want = doc;
      want["metadata"]["namespace"] = ns;
      EXPECT_EQ(missingFrom(want, got), "") << kind << "/" << name << " lost a field:\n"
                                            << got.dump(2);
      // What the server returns also goes through the C++ types and back.
      got["metadata"].erase("managedFields");
      nlohmann::json back;
      if (kind == "Instance") back = v1::Instance::fromJson(got).toJson();
      if (kind == "LaunchTemplate") back = v1::LaunchTemplate::fromJson(got).toJson();
      if (kind == "ScalingGroup") back = v1::ScalingGroup::fromJson(got).toJson();
      if (kind == "LoadBalancer") back = v1::LoadBalancer::fromJson(got).toJson();
      if (kind == "ElasticIP") back = v1::ElasticIP::fromJson(got).toJson();
      if (kind == "Snapshot") back = v1::Snapshot::fromJson(got).toJson();
      EXPECT_EQ(back, got) << kind << "/" << name << "\n"
                           << nlohmann::json::diff(got, back).dump(2);
      ++applied;
    }
  }
  EXPECT_GE(applied, 5);
}

TEST_F(ComputeApi, UnknownFieldIsRefusedByValidation) {
  const std::string path = ControlPlaneEnvironment::get().dir() + "/typo.yaml";
  std::ofstream(path) << "apiVersion: compute.kubec2.io/v1alpha1\nkind: LaunchTemplate\n"
                         "metadata: {name: typo}\nspec:\n  versionz: []\n";
  auto [code, out] = kubectl({"apply", "--validate=true", "-n", ns, "-f", path});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("versionz"), std::string::npos) << out;
}

TEST_F(ComputeApi, CategoryListsEveryKindWithItsColumns) {
  for (const char* f : {"launchtemplate.yaml", "instance.yaml", "scalinggroup.yaml",
                        "loadbalancer.yaml", "elasticip.yaml"}) {
    auto [code, out] = kubectl({"apply", "-n", ns, "-f", examples() + "/" + f});
    ASSERT_EQ(code, 0) << out;
  }
  auto [code, out] = kubectl({"get", "kubec2", "-n", ns});
  ASSERT_EQ(code, 0) << out;
  for (const char* kind : {"instance.compute.kubec2.io", "launchtemplate.compute.kubec2.io",
                           "scalinggroup.compute.kubec2.io", "loadbalancer.compute.kubec2.io",
                           "elasticip.compute.kubec2.io"})
    EXPECT_NE(out.find(kind), std::string::npos) << kind << "\n" << out;
  const std::vector<std::pair<std::string, std::vector<std::string>>> columns = {
      {"inst", {"STATE", "TYPE", "ZONE", "IP", "AGE"}},
      {"lt", {"LATEST", "DEFAULT", "AGE"}},
      {"sg", {"MIN", "MAX", "DESIRED", "CURRENT", "READY", "AGE"}},
      {"lb", {"TYPE", "ADDRESS", "HEALTHY", "AGE"}},
      {"eip", {"ADDRESS", "INSTANCE", "ASSOCIATION", "AGE"}}};
  for (const auto& [shortName, headers] : columns) {
    auto [c, o] = kubectl({"get", shortName, "-n", ns});
    ASSERT_EQ(c, 0) << shortName << "\n" << o;
    const std::string header = o.substr(0, o.find('\n'));
    for (const auto& h : headers)
      EXPECT_NE(header.find(h), std::string::npos) << shortName << ": " << header;
  }
}

TEST_F(ComputeApi, KubectlScaleWritesTheRequestedCapacity) {
  auto [code, out] = kubectl({"apply", "-n", ns, "-f", examples() + "/scalinggroup.yaml"});
  ASSERT_EQ(code, 0) << out;
  const std::string name = documents(examples() + "/scalinggroup.yaml")[0]["metadata"]["name"];
  auto [c2, o2] = kubectl({"scale", "-n", ns, "scalinggroup/" + name, "--replicas=3"});
  ASSERT_EQ(c2, 0) << o2;
  auto sg = v1::ScalingGroup::fromJson(client.get(v1::ScalingGroup::resource(), ns, name));
  ASSERT_TRUE(sg.spec.desiredCapacity.has_value());
  EXPECT_EQ(*sg.spec.desiredCapacity, 3);
}

TEST_F(ComputeApi, KubectlExplainReadsTheDescriptions) {
  auto [code, out] = kubectl({"explain", "instances.spec.instanceType"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("t3.micro"), std::string::npos) << out;
}

}  // namespace
}  // namespace kube::testing
